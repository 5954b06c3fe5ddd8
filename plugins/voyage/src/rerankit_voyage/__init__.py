"""rerankit-voyage: Voyage AI's rerank API (``POST /v1/rerank``) as the rerankit reranker ``voyage``.

Only the wire format lives here: Voyage names the top-k field ``top_k`` and puts results under
``data``. Pooling, retries, splitting at 1,000 documents, answer checks and typed errors come from
:mod:`rerankit.http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"


class VoyageConfig(HTTPConfig):
    """Options of the ``voyage`` reranker; ``model_name`` is required, as in LanceDB."""

    model_name: str = Field(..., description="Voyage rerank model, e.g. 'rerank-2.5' or 'rerank-2.5-lite'.")
    base_url: str = Field("https://api.voyageai.com", description="API root; the path /v1/rerank is added.")
    truncation: bool = Field(
        True, description="Let Voyage truncate over-long inputs; False makes them an error (HTTP 400)."
    )
    batch_size: int = Field(1000, ge=1, le=1000, description="Documents per request (Voyage allows 1,000).")


class VoyageScorer(HTTPScorer):
    """Scores with Voyage ``/v1/rerank``: ``relevance_score`` per document, results under ``data``."""

    Config = VoyageConfig
    provider = "voyage"
    path = "/v1/rerank"
    api_key_env = ("VOYAGE_API_KEY",)
    top_n_field = "top_k"

    config: VoyageConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return {
            "model": self.config.model_name,
            "query": query,
            "documents": list(texts),
            "truncation": self.config.truncation,
            "return_documents": False,
        }

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "data", score_key="relevance_score")


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("voyage", VoyageScorer)


__all__ = ["VoyageConfig", "VoyageScorer"]
