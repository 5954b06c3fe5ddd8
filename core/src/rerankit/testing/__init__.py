"""rerankit.testing: the conformance kit for plugin authors (needs pytest: ``rerankit[testing]``).

Enable the whole suite in a plugin's tests with a few lines::

    from rerankit.testing import RerankerConformance

    class TestOverlap(RerankerConformance):
        name = "overlap"
        distribution = "rerankit-overlap"

The assertions (:func:`assert_reranked` and friends) and the sample result sets (``data``) are
public too, for a plugin's own tests. ``import rerankit`` never imports this module, so pytest is
only needed where tests run.
"""

from __future__ import annotations

from . import data
from .checks import (
    assert_reranked,
    assert_same_table,
    expected_concat,
    expected_first_per_rowid,
    expected_union,
)
from .conformance import HEAVY_MODULES, RerankerConformance

__all__ = [
    "HEAVY_MODULES",
    "RerankerConformance",
    "assert_reranked",
    "assert_same_table",
    "data",
    "expected_concat",
    "expected_first_per_rowid",
    "expected_union",
]
