"""rerankit-crossencoder: rerank with a local cross-encoder (sentence-transformers ``CrossEncoder``).

Registers the ``crossencoder`` scorer with rerankit::

    import rerankit
    reranker = rerankit.get_reranker("crossencoder", model_name="cross-encoder/ms-marco-MiniLM-L6-v2")
    reranker.rerank_hybrid("query", vector_results, fts_results)

Importing this module imports neither torch nor sentence-transformers; the model loads on the
first score and is shared by every reranker with the same load options.
"""

from __future__ import annotations

from collections.abc import Callable

import rerankit

from .config import DEFAULT_MODEL, CrossEncoderConfig
from .loading import clear_model_cache, export, model_cache_info
from .scorer import CrossEncoderScorer

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "CrossEncoderConfig",
    "CrossEncoderScorer",
    "__version__",
    "clear_model_cache",
    "export",
    "model_cache_info",
]


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("crossencoder", CrossEncoderScorer)
