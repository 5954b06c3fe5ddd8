"""rerankit-pinecone: Pinecone's hosted inference ``POST /rerank`` as the reranker ``pinecone``.

Only the wire format lives here: the key travels in an ``Api-Key`` header (not a Bearer token),
every request names the API version in ``X-Pinecone-Api-Version``, documents are objects
``{"text": ...}``, model options go under ``parameters`` and results come back under ``data``
with ``score``. ``return_documents`` is always false (Pinecone's default is true). Pooling,
retries, splitting, answer checks and typed errors come from :mod:`rerankit.http`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Optional

from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked

__version__ = "0.1.0"

#: Pinecone's dated API version sent with every request (the rerank format is the same in
#: 2025-10 and 2026-04); override with ``api_version=``.
API_VERSION = "2026-04"


class PineconeConfig(HTTPConfig):
    """Options of the ``pinecone`` reranker."""

    model_name: str = Field(
        "bge-reranker-v2-m3",
        description="Pinecone-hosted rerank model: bge-reranker-v2-m3, pinecone-rerank-v0, cohere-rerank-3.5.",
    )
    base_url: str = Field("https://api.pinecone.io", description="API root; the path /rerank is added.")
    api_version: str = Field(
        API_VERSION, min_length=1, description="Sent as X-Pinecone-Api-Version (a dated version, e.g. 2026-04)."
    )
    truncate: Optional[Literal["END", "NONE"]] = Field(
        None,
        description="parameters.truncate: 'END' cuts a query+document pair at the model's token limit, "
        "'NONE' makes it an error (None: not sent, the model's default; cohere-rerank-3.5 has no such option).",
    )
    batch_size: int = Field(
        100, ge=1, description="Documents per request: 100 for bge-reranker-v2-m3 and pinecone-rerank-v0, "
        "200 allowed for cohere-rerank-3.5.",
    )


class PineconeScorer(HTTPScorer):
    """Scores with Pinecone ``/rerank``: ``score`` in [0, 1] per document, results under ``data``."""

    Config = PineconeConfig
    provider = "pinecone"
    path = "/rerank"
    api_key_env = ("PINECONE_API_KEY",)
    top_n_field = "top_n"

    config: PineconeConfig

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "X-Pinecone-Api-Version": self.config.api_version}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Api-Key": key}

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model_name,
            "query": query,
            "documents": [{"text": t} for t in texts],
            "return_documents": False,
        }
        if self.config.truncate is not None:
            body["parameters"] = {"truncate": self.config.truncate}
        return body

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        return ranked(data, "data", score_key="score")


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("pinecone", PineconeScorer)


__all__ = ["API_VERSION", "PineconeConfig", "PineconeScorer"]
