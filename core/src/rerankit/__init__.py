"""rerankit: pluggable reranking for search and RAG pipelines.

Arrow tables in, Arrow tables out, with LanceDB's reranker API (``rerank_vector``, ``rerank_fts``,
``rerank_hybrid``, ``rerank_multivector``). Rerankers come from plugins found through the
``rerankit`` entry-point group; see :func:`get_reranker` and :func:`list_rerankers`.
"""

from __future__ import annotations

from ._config import RerankerConfig
from ._errors import (
    AuthenticationError,
    ConfigError,
    InputError,
    MissingColumnError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    RateLimitError,
    RerankitError,
    ScoringError,
    UnknownRerankerError,
)
from ._fusion import FusionReranker, RankedList
from ._hookspecs import hookimpl
from ._registry import RerankerInfo, from_config, get_reranker, list_rerankers
from ._reranker import Reranker
from ._scoring.length import LengthMeasure
from ._scoring.reranker import ScoringReranker
from ._scoring.scorer import Scorer
from ._version import __version__

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "FusionReranker",
    "InputError",
    "LengthMeasure",
    "MissingColumnError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "RankedList",
    "RateLimitError",
    "Reranker",
    "RerankerConfig",
    "RerankerInfo",
    "RerankitError",
    "Scorer",
    "ScoringError",
    "ScoringReranker",
    "UnknownRerankerError",
    "__version__",
    "from_config",
    "get_reranker",
    "hookimpl",
    "list_rerankers",
]
