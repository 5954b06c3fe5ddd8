"""Pinecone inference's ``POST /rerank``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Optional

from .base import Dialect, Reject


class PineconeDialect(Dialect):
    """Pinecone inference ``POST /rerank``: ``Api-Key`` header, dated ``X-Pinecone-Api-Version``.

    From Pinecone's OpenAPI specs (pinecone-io/pinecone-api, inference_2025-10 / 2026-04):
    ``model``, ``query``, ``documents`` (objects, ranked on ``rank_fields``, default ``["text"]``),
    ``top_n``, ``return_documents`` (default true), ``parameters`` (``truncate``: ``END`` or
    ``NONE``); the answer is ``{"model", "data": [{"index", "score", "document"?}], "usage":
    {"rerank_units"}}``; errors ``{"error": {"code", "message"}, "status"}``. Per-model document
    caps follow Pinecone's model guide (bge-reranker-v2-m3 and pinecone-rerank-v0: 100,
    cohere-rerank-3.5: 200); their refusal wording is an (uncertain) stand-in.
    """

    name = "pinecone"
    path = "/rerank"
    model_documents: ClassVar[dict[Any, Any]] = {
        "bge-reranker-v2-m3": 100, "pinecone-rerank-v0": 100, "cohere-rerank-3.5": 200,
    }
    _codes: ClassVar[dict[Any, Any]] = {
        400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
        422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "UNKNOWN", 503: "UNAVAILABLE",
    }

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return {k.lower(): v for k, v in headers.items()}.get("api-key") == api_key

    def error(self, status: int, message: str) -> Any:
        return {"error": {"code": self._codes.get(status, "UNKNOWN"), "message": message}, "status": status}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Invalid API key."))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        bad = lambda message: Reject(400, self.error(400, message))  # noqa: E731
        if not isinstance(body, dict):
            raise bad("Bad request. The request body included invalid request parameters.")
        for key in ("model", "query", "documents"):
            if key not in body:
                raise bad(f"Missing required field '{key}'.")
        model, query, docs = body["model"], body["query"], body["documents"]
        if not isinstance(query, str) or not query:
            raise bad("'query' must be a non-empty string.")
        if not isinstance(docs, list) or not docs:
            raise bad("'documents' must be a non-empty list.")
        fields = body.get("rank_fields") or ["text"]
        texts = []
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) for f in fields):
                raise bad(f"Document at index {i} is missing the rank field(s) {fields}.")
            texts.append(" ".join(doc[f] for f in fields))
        limit = self.max_documents or self.model_documents.get(model, 100)
        if len(docs) > limit:
            raise bad(f"The number of documents ({len(docs)}) exceeds the maximum of {limit} for model {model}.")
        truncate = (body.get("parameters") or {}).get("truncate")
        if truncate is not None and truncate not in ("END", "NONE"):
            raise bad(f"Invalid value for parameter 'truncate': {truncate!r}; use 'END' or 'NONE'.")
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise bad("'top_n' must be a positive integer.")
        return query, texts, top_n

    def too_many(self, count: int) -> Reject:
        return Reject(400, self.error(
            400, f"The number of documents ({count}) exceeds the maximum of {self.max_documents}."
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", True)
        data = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "score": s}
            if echo:
                item["document"] = body["documents"][i]
            data.append(item)
        return {"model": body["model"], "data": data, "usage": {"rerank_units": 1}}


__all__ = ["PineconeDialect"]
