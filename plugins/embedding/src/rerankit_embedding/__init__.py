"""rerankit-embedding: rerank by the similarity of embeddings (a bi-encoder as a scorer).

Registers the ``embedding`` scorer with rerankit::

    import rerankit
    local = rerankit.get_reranker("embedding", model_name="sentence-transformers/all-MiniLM-L6-v2")
    remote = rerankit.get_reranker("embedding", base_url="http://localhost:8000/v1", model_name="BAAI/bge-m3")
    local.rerank_fts("query", fts_results)

The local path needs ``pip install 'rerankit-embedding[local]'`` (sentence-transformers, torch);
the remote path (any OpenAI-compatible ``/v1/embeddings``: OpenAI, vLLM, Infinity, TEI, Ollama)
needs only rerankit's HTTP layer. Importing this module imports neither torch nor
sentence-transformers nor httpx; a local model loads on the first score and is shared by every
reranker with the same load options.

:func:`export` writes a folder holding the model as one ONNX or OpenVINO graph, which a CPU scores
with ``onnxruntime`` or ``openvino`` and ``tokenizers`` alone, with no torch installed.
"""

from __future__ import annotations

from collections.abc import Callable

import rerankit

from .config import DEFAULT_MODEL, EmbeddingConfig
from .local import clear_model_cache, export, model_cache_info
from .scorer import EmbeddingScorer

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingConfig",
    "EmbeddingScorer",
    "__version__",
    "clear_model_cache",
    "export",
    "model_cache_info",
]


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("embedding", EmbeddingScorer)
