"""Mixedbread's ``POST /v1/reranking``."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from .base import Dialect, Reject


class MixedbreadDialect(Dialect):
    """Mixedbread ``POST /v1/reranking``: ``input``, ``top_k``, ``return_input``; results in ``data``.

    From Mixedbread's API reference and SDK (mixedbread-python): ``model`` (default
    ``mixedbread-ai/mxbai-rerank-large-v2``), ``query`` (1..32,000 characters), ``input``
    (1..1,000 strings or objects), ``top_k``, ``return_input``, ``rank_fields``; the answer is
    ``{"usage", "model", "data": [{"index", "score", "input", "object": "rank_result"}], "object":
    "list", "top_k", "return_input"}``. Errors are ``{"type", "message", ...}`` with
    ``Retry-After`` on 429 (documented); the 401/422 wording is an (uncertain) stand-in.
    """

    name = "mixedbread"
    path = "/v1/reranking"
    max_documents = 1000
    max_query_chars = 32_000
    default_model = "mixedbread-ai/mxbai-rerank-large-v2"
    _types: ClassVar[dict[Any, Any]] = {
        400: "bad_request_error", 401: "unauthorized_error", 402: "payment_required_error",
        403: "forbidden_error", 404: "not_found_error", 422: "validation_error", 429: "too_many_requests_error",
        500: "internal_server_error", 503: "service_unavailable_error",
    }

    def error(self, status: int, message: str) -> Any:
        return {"type": self._types.get(status, "api_error"), "message": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Invalid API key."))

    def _invalid(self, field_: str, message: str) -> Reject:
        body = self.error(422, f"{field_}: {message}")
        body["details"] = [{"loc": ["body", field_], "msg": message}]
        return Reject(422, body)

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "Request body must be a JSON object"))
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise self._invalid("query", "String should have at least 1 character")
        if len(query) > self.max_query_chars:
            raise self._invalid("query", f"String should have at most {self.max_query_chars} characters")
        docs = body.get("input")
        if not isinstance(docs, list) or not docs:
            raise self._invalid("input", "List should have at least 1 item")
        if not all(isinstance(d, (str, dict)) for d in docs):
            raise self._invalid("input", "Input should be a valid string or object")
        model = body.get("model", self.default_model)
        if not isinstance(model, str) or not 1 <= len(model) <= 500:
            raise self._invalid("model", "String should have between 1 and 500 characters")
        top_k = body.get("top_k")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise self._invalid("top_k", "Input should be greater than or equal to 1")
        if "return_input" in body and not isinstance(body["return_input"], bool):
            raise self._invalid("return_input", "Input should be a valid boolean")
        fields = body.get("rank_fields") or ["text"]
        texts = [d if isinstance(d, str) else " ".join(str(d.get(f, "")) for f in fields) for d in docs]
        return query, texts, top_k

    def too_many(self, count: int) -> Reject:
        return self._invalid("input", f"List should have at most {self.max_documents} items, not {count}")

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_input", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
            "model": body.get("model", self.default_model),
            "data": [
                {"index": i, "score": s, "input": body["input"][i] if echo else None, "object": "rank_result"}
                for i, s in ranking
            ],
            "object": "list",
            "top_k": body.get("top_k", len(documents)),
            "return_input": echo,
        }


__all__ = ["MixedbreadDialect"]
