"""rerankit-acme: the Acme Rank API (``POST /v1/rank``) as the rerankit reranker ``acme``.

Acme is a made-up provider, so the example is free to show every part of a hosted plugin: the
wire format lives here, and everything else (key lookup, pooled clients, retries, splitting at
``batch_size``, answer checks, typed errors) comes from :mod:`rerankit.http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"


class AcmeConfig(HTTPConfig):
    """Options of the ``acme`` reranker: the HTTP options plus Acme's defaults."""

    model_name: str = Field("acme-rank-1", description="Acme ranking model.")
    base_url: str = Field("https://api.acme.example", description="API root; the path /v1/rank is added.")
    batch_size: int = Field(100, ge=1, description="Passages per request (Acme accepts at most 100).")


class AcmeScorer(HTTPScorer):
    """Scores with Acme ``/v1/rank``: one ``score`` per passage, best first."""

    Config = AcmeConfig
    provider = "acme"
    path = "/v1/rank"
    api_key_env = ("ACME_API_KEY",)
    top_n_field = "limit"  # Acme's name for "return only the best n"

    config: AcmeConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return {"model": self.config.model_name, "query": query, "passages": list(texts)}

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "ranking", index_key="index", score_key="score")


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("acme", AcmeScorer)


__all__ = ["AcmeConfig", "AcmeScorer"]
