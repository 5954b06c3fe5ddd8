"""rerankit-mixedbread: Mixedbread's reranking API (``POST /v1/reranking``) as ``mixedbread``.

Only the wire format lives here: documents go as ``input``, our ``top_n`` as ``top_k``, results
come back under ``data`` with ``score``, and ``return_input`` is always false (the rows are ours
already). Pooling, retries (honouring Mixedbread's ``Retry-After``), splitting at 1,000
documents, answer checks and typed errors come from :mod:`rerankit.http`. No Mixedbread SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"


class MixedbreadConfig(HTTPConfig):
    """Options of the ``mixedbread`` reranker."""

    model_name: str = Field(
        "mixedbread-ai/mxbai-rerank-large-v2",
        description="Mixedbread rerank model (the API's default is mixedbread-ai/mxbai-rerank-large-v2).",
    )
    base_url: str = Field("https://api.mixedbread.com", description="API root; the path /v1/reranking is added.")
    batch_size: int = Field(
        1000, ge=1, le=1000, description="Documents per request (Mixedbread accepts 1 to 1,000)."
    )


class MixedbreadScorer(HTTPScorer):
    """Scores with Mixedbread ``/v1/reranking``: ``score`` per document, results under ``data``."""

    Config = MixedbreadConfig
    provider = "mixedbread"
    path = "/v1/reranking"
    api_key_env = ("MXBAI_API_KEY",)
    top_n_field = "top_k"

    config: MixedbreadConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return {"model": self.config.model_name, "query": query, "input": list(texts), "return_input": False}

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "data", score_key="score")


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("mixedbread", MixedbreadScorer)


__all__ = ["MixedbreadConfig", "MixedbreadScorer"]
