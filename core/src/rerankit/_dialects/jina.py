"""Jina's ``POST /v1/rerank`` (also the shape vLLM and Infinity serve under ``/v1/rerank``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .base import Dialect, Reject, Request


class JinaDialect(Dialect):
    """Jina ``POST /v1/rerank``: FastAPI-style 422s; documents echoed unless return_documents=false."""

    name = "jina"
    path = "/v1/rerank"

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Unauthorized. Please provide a valid API key."))  # (uncertain)

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        missing = [k for k in ("model", "query", "documents") if not isinstance(body, dict) or k not in body]
        if missing:
            raise Reject(422, {"detail": [
                {"type": "missing", "loc": ["body", k], "msg": "Field required"} for k in missing
            ]})
        docs = body["documents"]
        if not isinstance(docs, list) or not all(isinstance(d, (str, dict)) for d in docs):
            raise Reject(422, {"detail": [
                {"type": "list_type", "loc": ["body", "documents"], "msg": "Input should be a valid list"}
            ]})
        texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in docs]
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise Reject(422, {"detail": [
                {"type": "greater_than", "loc": ["body", "top_n"], "msg": "Input should be greater than 0"}
            ]})
        return str(body["query"]), texts, top_n

    def request(self, body: Any) -> Request:
        query, texts, top_n = self.parse(body)
        return Request(query, texts, list(body["documents"]), top_n, str(body["model"]))

    def failure(self, status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> Reject:
        return Reject(status, self.error(status, message), headers)

    def too_long(self, index: int, length: int, limit: int) -> Reject:
        loc = ["body", "query"] if index < 0 else ["body", "documents", index]
        return Reject(422, {"detail": [{
            "type": "string_too_long", "loc": loc, "msg": f"String should have at most {limit} characters",
            "ctx": {"max_length": limit},
        }]})

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", True)
        results = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if echo:
                item["document"] = {"text": documents[i]}
            results.append(item)
        return {
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
            "results": results,
        }


__all__ = ["JinaDialect"]
