"""rerankit-colbert: ColBERT late-interaction reranking, scored as the reference implementation does.

Registers two scorers with rerankit::

    import rerankit
    reranker = rerankit.get_reranker("colbert")            # colbert-ir/colbertv2.0
    reranker = rerankit.get_reranker("answerdotai")        # answerdotai/answerai-colbert-small-v1
    reranker.rerank_hybrid("query", vector_results, fts_results)

Both read the checkpoint's own settings (Stanford ``artifact.metadata`` or PyLate's
``config_sentence_transformers.json``) and run on transformers directly. Importing this module
imports neither torch nor transformers; the model loads on the first score and is shared by
every reranker with the same load options.

:func:`export` writes a folder holding encoder and projection as one ONNX or OpenVINO graph, which
a CPU scores with ``onnxruntime`` or ``openvino`` and ``tokenizers`` alone, with no torch installed.
"""

from __future__ import annotations

from collections.abc import Callable

import rerankit

from .config import DEFAULT_ANSWERDOTAI_MODEL, DEFAULT_COLBERT_MODEL, AnswerdotaiConfig, ColbertConfig
from .loading import clear_model_cache, export, model_cache_info
from .scorer import AnswerdotaiScorer, ColbertScorer

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ANSWERDOTAI_MODEL",
    "DEFAULT_COLBERT_MODEL",
    "AnswerdotaiConfig",
    "AnswerdotaiScorer",
    "ColbertConfig",
    "ColbertScorer",
    "__version__",
    "clear_model_cache",
    "export",
    "model_cache_info",
]


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("colbert", ColbertScorer)
    register("answerdotai", AnswerdotaiScorer)
