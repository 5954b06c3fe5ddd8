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
        """Checked as FastAPI checks its pydantic model: each wrong field a 422 entry with its ``loc``.

        ``model`` and ``query`` are strings, ``documents`` a list of strings or ``{"text": str, ...}``
        objects, ``top_n`` a whole number of at least 1 (not a boolean), ``return_documents`` a boolean.
        """
        if not isinstance(body, dict):
            raise Reject(422, {"detail": [_item("model_attributes_type", ["body"], "Input should be a valid "
                                               "dictionary or object to extract fields from", body)]})
        errors = [_item("missing", ["body", k], "Field required", None)
                  for k in ("model", "query", "documents") if k not in body]
        for name in ("model", "query"):
            if name in body and not isinstance(body[name], str):
                errors.append(_item("string_type", ["body", name], "Input should be a valid string", body[name]))
        docs = body.get("documents", [])
        texts: list[str] = []
        if not isinstance(docs, list):
            errors.append(_item("list_type", ["body", "documents"], "Input should be a valid list", docs))
            docs = []
        for i, doc in enumerate(docs):
            where = ["body", "documents", i]
            if isinstance(doc, str):
                texts.append(doc)
            elif not isinstance(doc, dict):
                errors.append(_item("string_type", where, "Input should be a valid string or an object with "
                                    "a 'text' string", doc))
            elif "text" not in doc:
                errors.append(_item("missing", [*where, "text"], "Field required", doc))
            elif not isinstance(doc["text"], str):
                errors.append(_item("string_type", [*where, "text"], "Input should be a valid string", doc["text"]))
            else:
                texts.append(doc["text"])
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int)):
            errors.append(_item("int_type", ["body", "top_n"], "Input should be a valid integer", top_n))
        elif top_n is not None and top_n < 1:
            errors.append(_item("greater_than", ["body", "top_n"], "Input should be greater than 0", top_n))
        echo = body.get("return_documents", True)
        if echo is not None and not isinstance(echo, bool):
            errors.append(_item("bool_type", ["body", "return_documents"], "Input should be a valid boolean", echo))
        if errors:
            raise Reject(422, {"detail": errors})
        return body["query"], texts, top_n

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


def _item(kind: str, loc: list[Any], msg: str, value: Any) -> dict[str, Any]:
    """One entry of FastAPI's 422 list; the input is echoed only when it is a short scalar."""
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    if value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 100):
        item["input"] = value
    return item


__all__ = ["JinaDialect"]
