"""Hugging Face text-embeddings-inference's ``POST /rerank``."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Optional

from .base import Dialect, Reject, Request


class TEIDialect(Dialect):
    """Hugging Face text-embeddings-inference ``POST /rerank``: ``texts``, bare-array answer.

    From the router's source (router/src/http/server.rs, types.rs): axum's JSON extractor answers
    a missing or mistyped field with a plain-text 422 and unparsable JSON with a plain-text 400;
    ``--api-key`` makes a wrong key a bare 401 (no body); ``--max-client-batch-size`` (32) is a
    JSON 422 ``Validation`` error; bodies over ``--payload-limit`` (2 MB) get axum's plain 413.
    ``error_type`` serializes as the enum variant's name (``"Validation"``).
    """

    name = "tei"
    path = "/rerank"
    max_documents = 32
    max_body_bytes = 2_000_000
    invalid_status = 422
    overloaded_status = 429
    _kinds: ClassVar[dict[Any, Any]] = {
        400: "Empty", 413: "Validation", 422: "Validation", 424: "Backend", 429: "Overloaded", 503: "Unhealthy",
    }
    _fields: ClassVar[dict[Any, Any]] = {
        "query": str, "texts": list, "truncate": (bool, type(None)), "raw_scores": bool, "return_text": bool,
        "truncation_direction": str,
    }

    def error(self, status: int, message: str) -> Any:
        return {"error": message, "error_type": self._kinds.get(status, "Backend")}

    def auth_error(self) -> Reject:
        return Reject(401, b"")

    def bad_json(self, reason: str = "expected value at line 1 column 1") -> Reject:
        return Reject(400, f"Failed to parse the request body as JSON: {reason}".encode())

    def too_large(self, size: int) -> Reject:
        return Reject(413, b"Failed to buffer the request body: length limit exceeded")

    @staticmethod
    def _deserialize(detail: str) -> Reject:
        return Reject(422, f"Failed to deserialize the JSON body into the target type: {detail}".encode())

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise self._deserialize("invalid type: expected struct RerankRequest at line 1 column 1")
        for name in ("query", "texts"):
            if name not in body:
                raise self._deserialize(f"missing field `{name}` at line 1 column {len(json.dumps(body))}")
        for name, kind in self._fields.items():
            if name in body and not isinstance(body[name], kind):
                raise self._deserialize(f"{name}: invalid type: {type(body[name]).__name__} at line 1 column 2")
        texts = body["texts"]
        if not all(isinstance(t, str) for t in texts):
            raise self._deserialize("texts: invalid type: expected a string at line 1 column 2")
        if body.get("truncation_direction", "right") not in ("left", "right", "Left", "Right"):
            raise self._deserialize("truncation_direction: unknown variant, expected `Left` or `Right`")
        if not texts:
            raise Reject(400, self.error(400, "`texts` cannot be empty"))
        return body["query"], list(texts), None

    def request(self, body: Any) -> Request:
        query, texts, _ = self.parse(body)
        return Request(query, texts, texts)

    def too_long(self, index: int, length: int, limit: int) -> Reject:
        what = "query" if index < 0 else f"text at index {index}"
        return self.failure(422, f"{what} has {length} characters; the limit is {limit}")

    def too_many(self, count: int) -> Reject:
        return Reject(422, self.error(
            422, f"batch size {count} > maximum allowed batch size {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        if body.get("return_text"):
            return [{"index": i, "text": documents[i], "score": s} for i, s in ranking]
        return [{"index": i, "score": s} for i, s in ranking]


__all__ = ["TEIDialect"]
