"""Voyage AI's ``POST /v1/rerank``."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from .base import Dialect, Reject


class VoyageDialect(Dialect):
    """Voyage ``POST /v1/rerank``: ``top_k``, ``truncation``, results under ``data``, ``detail`` errors.

    The total-token limit of Voyage's reference (query tokens x documents + document tokens at
    most 600K for rerank-2.x, 300K for rerank-1 and rerank-lite-1) is checked with words as
    tokens; ``total_tokens`` overrides it for every model. (uncertain: the refusal's wording.)
    """

    name = "voyage"
    path = "/v1/rerank"
    max_documents = 1000
    total_tokens: Optional[int] = None
    model_total_tokens: ClassVar[dict[str, int]] = {"rerank-1": 300_000, "rerank-lite-1": 300_000}

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Provided API key is invalid."))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict) or not body.get("model"):
            raise Reject(400, self.error(400, "Model is required."))  # (uncertain wording)
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise Reject(400, self.error(400, "Query cannot be an empty string."))  # (uncertain)
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
            raise Reject(400, self.error(400, "Documents should be a non-empty list of strings."))
        top_k = body.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise Reject(400, self.error(400, "top_k should be a positive integer."))
        if "truncation" in body and not isinstance(body["truncation"], bool):
            raise Reject(400, self.error(400, "truncation should be a boolean."))
        limit = self.total_tokens or self.model_total_tokens.get(body["model"], 600_000)
        total = len(query.split()) * len(docs) + sum(len(d.split()) for d in docs)
        if total > limit:
            raise Reject(400, self.error(400, (
                f"Request to model '{body['model']}' failed. The max allowed tokens per submitted batch is "
                f"{limit}. Your batch has {total} tokens. Please lower the number of tokens in the batch."
            )))
        return query, docs, top_k

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"The number of documents ({count}) exceeds the limit of {self.max_documents}."
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        data = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if body.get("return_documents"):
                item["document"] = documents[i]
            data.append(item)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
        }


__all__ = ["VoyageDialect"]
