"""rerankit-cohere: Cohere's Rerank API (``POST /v2/rerank``) as the rerankit reranker ``cohere``.

Only the wire format lives here; pooling, retries, splitting at 1,000 documents, answer checks and
typed errors come from :mod:`rerankit.http`. Importing this module imports neither httpx nor the
Cohere SDK (which is not used at all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"


class CohereConfig(HTTPConfig):
    """Options of the ``cohere`` reranker (names as in ``lancedb.rerankers.CohereReranker``)."""

    model_name: str = Field("rerank-v3.5", description="Cohere rerank model.")
    base_url: str = Field("https://api.cohere.com", description="API root; the path /v2/rerank is added.")
    max_tokens_per_doc: Optional[int] = Field(
        None, ge=1, description="Truncate each document to this many tokens (Cohere's default: 4096)."
    )
    batch_size: int = Field(1000, ge=1, description="Documents per request; longer lists are split.")


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


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("cohere", CohereScorer)


__all__ = ["CohereConfig", "CohereScorer"]
