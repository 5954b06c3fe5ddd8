"""rerankit-tei: a Hugging Face text-embeddings-inference server's ``POST /rerank`` as ``tei``.

TEI is self-hosted, so there is no default address: ``base_url`` is required, and a key is sent
only when one is set (a server started with ``--api-key``). Its wire format differs from the
hosted APIs: documents go as ``texts``, the answer is a bare array of ``{"index", "score"}``,
there is no top-k field (every document is scored), and a request may hold at most
``--max-client-batch-size`` documents (32) and ``--payload-limit`` bytes (2 MB): both are split
on here, before sending. Pooling, retries, answer checks and typed errors come from
:mod:`rerankit.http`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Optional

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, pack, ranked

__version__ = "0.1.0"

logger = logging.getLogger("rerankit")


class TEIConfig(HTTPConfig):
    """Options of the ``tei`` reranker."""

    model_name: Optional[str] = Field(  # type: ignore[assignment]
        None,
        description="Not sent: a TEI server serves the one model it was started with (--model-id). "
        "Set it to name that model in reprs and logs.",
    )
    base_url: str = Field(..., description="The TEI server, e.g. 'http://localhost:8080'; /rerank is added.")
    raw_scores: bool = Field(False, description="Raw logits instead of TEI's sigmoid scores in [0, 1].")
    truncate: Optional[bool] = Field(
        None,
        description="Truncate inputs longer than the model's limit (None: the server's --auto-truncate).",
    )
    truncation_direction: Optional[Literal["left", "right"]] = Field(
        None, description="Which end truncation removes tokens from (None: the server's default, right)."
    )
    batch_size: int = Field(
        32, ge=1, description="Documents per request: the server's --max-client-batch-size (default 32)."
    )
    max_payload_bytes: int = Field(
        2_000_000, ge=1024, description="Request body limit: the server's --payload-limit (default 2 MB)."
    )


class TEIScorer(HTTPScorer):
    """Scores with TEI ``/rerank``: ``score`` per text from a bare-array answer."""

    Config = TEIConfig
    provider = "tei"
    path = "/rerank"
    api_key_env = ("TEI_API_KEY",)
    top_n_field = None  # TEI has no top-k: every document is scored

    config: TEIConfig

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "texts": list(texts), "raw_scores": self.config.raw_scores}
        if self.config.truncate is not None:
            body["truncate"] = self.config.truncate
        if self.config.truncation_direction is not None:
            # Capitalized: TEI releases before 1.9 accept only "Left" / "Right".
            body["truncation_direction"] = self.config.truncation_direction.capitalize()
        return body

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, None, score_key="score")

    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """At most ``batch_size`` texts and ``max_payload_bytes`` of JSON body per request.

        A text's share of the body is its JSON-escaped length (an upper bound on what httpx
        sends) plus a separator; a single text over the limit goes alone and the server decides.
        """
        overhead = len(json.dumps(self.build_request(query, []))) + 64
        budget = self.config.max_payload_bytes - overhead
        sizes = pack((len(json.dumps(t)) + 2 for t in texts), budget, self.config.batch_size)
        if len(sizes) > -(-len(texts) // self.config.batch_size):
            logger.debug(
                "tei: %d texts sent in %d requests to stay under %d body bytes",
                len(texts), len(sizes), self.config.max_payload_bytes,
            )
        return sizes


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("tei", TEIScorer)


__all__ = ["TEIConfig", "TEIScorer"]
