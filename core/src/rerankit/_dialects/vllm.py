"""vLLM's rerank routes."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any, ClassVar, Optional

from .base import Dialect, Reject, pydantic_error


class VLLMDialect(Dialect):
    """vLLM's ``/rerank``, ``/v1/rerank`` (Jina-shaped) and ``/v2/rerank`` (Cohere-shaped) routes.

    From vllm/entrypoints (pooling/score, serve/middleware/authenticate.py, exception handlers):
    ``--api-key`` guards only paths under ``/v1``, ``/v2`` (so ``/rerank`` is open) and answers
    ``{"error": "Unauthorized"}``; request validation fails with 400 and an OpenAI-style
    ``{"error": {"message", "type", "param", "code"}}``; a ``model`` other than the served one is a
    404; ``top_n`` defaults to 0, meaning every document; unknown fields (``return_documents``,
    ``max_tokens_per_doc``) are ignored; every result carries ``document: {"text"}``.
    """

    name = "vllm"
    path = "/v1/rerank"
    paths = ("/rerank", "/v1/rerank", "/v2/rerank")
    _types: ClassVar[dict[Any, Any]] = {
        400: "BadRequestError", 404: "NotFoundError", 422: "UnprocessableEntityError",
        500: "InternalServerError", 501: "NotImplementedError",
    }

    def __init__(self, served_model: str = "BAAI/bge-reranker-v2-m3") -> None:
        self.served_model = served_model

    def accepts(self, path: str) -> bool:
        return path in self.paths

    def needs_auth(self, path: str) -> bool:
        return path.startswith(("/v1", "/v2", "/inference", "/cohere"))

    def error(self, status: int, message: str) -> Any:
        kind = self._types.get(status) or HTTPStatus(status).phrase
        return {"error": {"message": message, "type": kind, "param": None, "code": status}}

    def auth_error(self) -> Reject:
        return Reject(401, {"error": "Unauthorized"})

    @staticmethod
    def _invalid(errors: list[dict[str, Any]]) -> Reject:
        label = "error" if len(errors) == 1 else "errors"
        lines = "".join(f"\n  {dict(e, loc='.'.join(map(str, e['loc'])))}" for e in errors)
        return Reject(400, {"error": {
            "message": f"{len(errors)} validation {label}:{lines}", "type": "Bad Request",
            "param": ".".join(map(str, errors[0]["loc"])), "code": 400,
        }})

    def bad_json(self) -> Reject:
        return self._invalid([pydantic_error("json_invalid", ["body", 0], "JSON decode error", {})])

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise self._invalid([pydantic_error(
                "model_attributes_type", ["body"], "Input should be a valid dictionary", body
            )])
        errors = [
            pydantic_error("missing", ["body", k], "Field required", body)
            for k in ("query", "documents") if k not in body
        ]
        if "query" in body and not isinstance(body["query"], str):
            errors.append(
                pydantic_error("string_type", ["body", "query"], "Input should be a valid string", body["query"])
            )
        docs = body.get("documents")
        if "documents" in body and not (isinstance(docs, list) and all(isinstance(d, str) for d in docs)):
            errors.append(pydantic_error("list_type", ["body", "documents"], "Input should be a valid list", docs))
        top_n = body.get("top_n", 0)
        if isinstance(top_n, bool) or not isinstance(top_n, int):
            errors.append(pydantic_error("int_type", ["body", "top_n"], "Input should be a valid integer", top_n))
        if errors:
            raise self._invalid(errors)
        model = body.get("model")
        if model is not None and model != self.served_model:
            raise Reject(404, {"error": {
                "message": f"The model `{model}` does not exist.", "type": "NotFoundError",
                "param": "model", "code": 404,
            }})
        if not docs:
            raise Reject(400, self.error(400, "At least one text element must be given"))
        return body["query"], docs, top_n if top_n > 0 else None

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        tokens = sum(len(d.split()) + len(body["query"].split()) for d in documents)
        return {
            "id": f"rerank-{uuid.uuid4().hex}",
            "model": self.served_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "results": [
                {"index": i, "document": {"text": documents[i], "multi_modal": None}, "relevance_score": s}
                for i, s in ranking
            ],
        }


__all__ = ["VLLMDialect"]
