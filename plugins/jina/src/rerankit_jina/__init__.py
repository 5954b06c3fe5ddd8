"""rerankit-jina: Jina AI's Reranker API (``POST /v1/rerank``) as the rerankit reranker ``jina``.

Only the wire format lives here; pooling, retries, splitting, answer checks and typed errors come
from :mod:`rerankit.http`. ``return_documents`` is always sent as false: the documents are ours
already, and echoing them back only makes the answer bigger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"


class JinaConfig(HTTPConfig):
    """Options of the ``jina`` reranker (names as in ``lancedb.rerankers.JinaReranker``)."""

    model_name: str = Field("jina-reranker-v2-base-multilingual", description="Jina reranker model.")
    base_url: str = Field("https://api.jina.ai", description="API root; the path /v1/rerank is added.")
    batch_size: int = Field(
        1000, ge=1, description="Documents per request (Jina documents no maximum); longer lists are split."
    )


class JinaScorer(HTTPScorer):
    """Scores with Jina ``/v1/rerank``: ``relevance_score`` per document."""

    Config = JinaConfig
    provider = "jina"
    path = "/v1/rerank"
    api_key_env = ("JINA_API_KEY",)
    top_n_field = "top_n"

    config: JinaConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return {
            "model": self.config.model_name,
            "query": query,
            "documents": list(texts),
            "return_documents": False,
        }

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "results", score_key="relevance_score")


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("jina", JinaScorer)


__all__ = ["JinaConfig", "JinaScorer"]
