"""rerankit.testing: the test kit for plugin authors (needs pytest: ``rerankit[testing]``).

Enable the whole conformance suite in a plugin's tests with a few lines::

    from rerankit.testing import RerankerConformance

    class TestOverlap(RerankerConformance):
        name = "overlap"
        distribution = "rerankit-overlap"

A hosted (HTTP) plugin also runs :class:`HostedRerankerConformance` against
:class:`FakeRerankServer`, a local server speaking its provider's wire format (an embeddings
API: :class:`EmbeddingsDialect`). The assertions
(:func:`assert_reranked` and friends) and the sample result sets (``data``) are public too, for a
plugin's own tests. ``import rerankit`` never imports this package, so pytest is only needed where
tests run.
"""

from __future__ import annotations

try:
    import pytest  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in tests/kit/test_packaging.py
    raise ImportError(
        "rerankit.testing needs pytest; install it with: pip install 'rerankit[testing]'"
    ) from exc

from . import data
from .checks import (
    assert_reranked,
    assert_same_ranking,
    expected_concat,
    expected_first_per_rowid,
    expected_union,
)
from .conformance import HEAVY_MODULES, RerankerConformance
from .embeddings import EmbeddingsDialect, fake_embedding
from .hosted import HostedRerankerConformance
from .server import DIALECTS, Dialect, FakeRerankServer, Fault, Reject, Seen, fake_score

__all__ = [
    "DIALECTS",
    "HEAVY_MODULES",
    "Dialect",
    "EmbeddingsDialect",
    "FakeRerankServer",
    "Fault",
    "HostedRerankerConformance",
    "Reject",
    "RerankerConformance",
    "Seen",
    "assert_reranked",
    "assert_same_ranking",
    "data",
    "expected_concat",
    "expected_first_per_rowid",
    "expected_union",
    "fake_embedding",
    "fake_score",
]
