"""The demo behind ``rerankit demo``: Cranfield in an embedded LanceDB, hybrid search fused by rerankit.

Needs the ``demo`` extra (``pip install 'rerankit[demo]'``); nothing here is imported by ``rerankit``.
"""

from __future__ import annotations

from .index import DemoError, default_cache_dir
from .runner import DemoResult, run_demo

__all__ = ["DemoError", "DemoResult", "default_cache_dir", "run_demo"]
