"""rerankit-cohere: Cohere's Rerank API (``POST /v2/rerank``) as the rerankit reranker ``cohere``.

Only the wire format lives here; pooling, retries, splitting at 1,000 documents, answer checks and
typed errors come from :mod:`rerankit.http`. Requests are also kept under Cohere's limit on
documents x chunks (10,000), counting each document at its worst case. Importing this module
imports neither httpx nor the Cohere SDK (which is not used at all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"

logger = logging.getLogger("rerankit")

#: Cohere refuses a request whose "number of total max chunks" reaches this.
MAX_CHUNKS = 10_000
#: Context length per model (4,096 for rerank-v3.5 and the v3.0 models and any model not listed).
CONTEXT = {"rerank-v4.0-pro": 32_768, "rerank-v4.0-fast": 32_768}
#: Cohere's defaults: documents cut at 4,096 tokens, queries up to 2,048 tokens, 4 special tokens.
DOC_TOKENS, QUERY_TOKENS, RESERVED = 4096, 2048, 4


class CohereConfig(HTTPConfig):
    """Options of the ``cohere`` reranker (names as in ``lancedb.rerankers.CohereReranker``)."""

    model_name: str = Field("rerank-v3.5", description="Cohere rerank model.")
    base_url: str = Field("https://api.cohere.com", description="API root; the path /v2/rerank is added.")
    max_tokens_per_doc: Optional[int] = Field(
        None, ge=1, description="Truncate each document to this many tokens (Cohere's default: 4096)."
    )
    batch_size: int = Field(
        1000, ge=1, le=10_000, description="Documents per request (Cohere accepts 10,000); longer lists are split."
    )


class CohereScorer(HTTPScorer):
    """Scores with Cohere ``/v2/rerank``: ``relevance_score`` in [0, 1] per document."""

    Config = CohereConfig
    provider = "cohere"
    path = "/v2/rerank"
    api_key_env = ("CO_API_KEY", "COHERE_API_KEY")
    top_n_field = "top_n"

    config: CohereConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model_name, "query": query, "documents": list(texts)}
        if self.config.max_tokens_per_doc is not None:
            body["max_tokens_per_doc"] = self.config.max_tokens_per_doc
        return body

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "results", score_key="relevance_score")

    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """Parts of at most ``batch_size`` documents whose chunks stay under Cohere's 10,000.

        Cohere scores a document in chunks of its context less the query (and 4 special tokens),
        after cutting it at ``max_tokens_per_doc``. Each document is counted at that cut and the
        query at its longest (2,048 tokens, or its length in characters if that is more), the
        worst case, so a part that fits here fits there whatever the documents hold.
        """
        cfg = self.config
        chunk = max(1, CONTEXT.get(cfg.model_name, 4096) - max(len(query), QUERY_TOKENS) - RESERVED)
        per_doc = -(-(cfg.max_tokens_per_doc or DOC_TOKENS) // chunk)
        size = max(1, min(cfg.batch_size, (MAX_CHUNKS - 1) // per_doc))
        if size < cfg.batch_size and len(texts) > size:
            logger.debug(
                "cohere: up to %d chunks per document, so at most %d documents per request", per_doc, size
            )
        return [min(size, len(texts) - start) for start in range(0, len(texts), size)]


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("cohere", CohereScorer)


__all__ = ["CohereConfig", "CohereScorer"]
