"""rerankit-voyage: Voyage AI's rerank API (``POST /v1/rerank``) as the rerankit reranker ``voyage``.

Only the wire format lives here: Voyage names the top-k field ``top_k`` and puts results under
``data``. Requests are also split by Voyage's total-token limit per request, counted here from
characters (more than the tokens of Latin-script text), so a large call does not fail at Voyage
after a round trip. Pooling, retries, splitting at 1,000 documents, answer checks and
typed errors come from :mod:`rerankit.http`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, pack, ranked

__version__ = "0.1.0"

logger = logging.getLogger("rerankit")

#: Voyage's limit on "query tokens x documents + document tokens" in one request, per model
#: (its API reference); a model not listed gets the smallest, 300K.
TOTAL_TOKENS = {
    "rerank-2.5": 600_000,
    "rerank-2.5-lite": 600_000,
    "rerank-2": 600_000,
    "rerank-2-lite": 600_000,
    "rerank-1": 300_000,
    "rerank-lite-1": 300_000,
}


class VoyageConfig(HTTPConfig):
    """Options of the ``voyage`` reranker; ``model_name`` is required, as in LanceDB."""

    model_name: str = Field(..., description="Voyage rerank model, e.g. 'rerank-2.5' or 'rerank-2.5-lite'.")
    base_url: str = Field("https://api.voyageai.com", description="API root; the path /v1/rerank is added.")
    truncation: bool = Field(
        True, description="Let Voyage truncate over-long inputs; False makes them an error (HTTP 400)."
    )
    batch_size: int = Field(1000, ge=1, le=1000, description="Documents per request (Voyage allows 1,000).")
    max_request_tokens: Optional[int] = Field(
        None,
        ge=1,
        description="Token budget of one request (query x documents + documents), counted as characters; "
        "None: the model's published limit (600K for rerank-2.x, 300K for rerank-1 and rerank-lite-1).",
    )


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

    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """Parts of at most ``batch_size`` documents and the model's total-token budget.

        A document costs its characters plus the query's (Voyage counts the query once per
        document). Characters stand in for tokens: a subword tokenizer makes fewer tokens than
        characters of Latin-script text (about a quarter as many for English), so such a part fits
        Voyage's count; where one character can be several tokens (CJK, emoji) Voyage may still
        refuse it. A document over the budget on its own goes alone, for Voyage to decide.
        """
        cfg = self.config
        budget = cfg.max_request_tokens or TOTAL_TOKENS.get(cfg.model_name, 300_000)
        sizes = pack((len(query) + len(t) for t in texts), budget, cfg.batch_size)
        if len(sizes) > -(-len(texts) // cfg.batch_size):
            logger.debug("voyage: %d documents sent in %d requests (token budget %d)", len(texts), len(sizes), budget)
        return sizes


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("voyage", VoyageScorer)


__all__ = ["VoyageConfig", "VoyageScorer"]
