"""The demo behind ``rerankit demo``: a preset of :mod:`rerankit.eval` on the bundled Cranfield.

Needs the ``demo`` extra (``pip install 'rerankit[demo]'``); nothing here is imported by ``rerankit``.
"""

from __future__ import annotations

from rerankit.eval import default_cache_dir

from ._preset import DemoError, DemoResult, run_demo

__all__ = ["DemoError", "DemoResult", "default_cache_dir", "run_demo"]
