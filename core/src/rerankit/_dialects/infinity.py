"""michaelfeil/infinity's ``POST /rerank``."""

from __future__ import annotations

import time
from typing import Any, Optional

from .base import Dialect, Reject, pydantic_error, uid


class InfinityDialect(Dialect):
    """michaelfeil/infinity ``POST /rerank`` (its "Cohere-aligned" endpoint; FastAPI + pydantic).

    From infinity_server.py and fastapi_schemas: ``documents`` 1..2,048 strings (the default
    ``INFINITY_MAX_CLIENT_BATCH_SIZE``), each at most 122,880 characters and whitespace-stripped;
    ``top_n`` > 0, ``return_documents``, ``raw_scores``, ``model``; unknown fields ignored.
    Validation fails with FastAPI's ``{"detail": [...]}`` 422; a wrong ``--api-key`` with
    ``{"detail": "Unauthorized"}``; other errors are OpenAI-style ``{"error": {...}}`` (429 when
    the engine is overloaded, 400 for an unknown model). ``document`` is a plain string, or null.
    """

    name = "infinity"
    path = "/rerank"
    max_documents = 2048
    max_chars = 8192 * 15

    def __init__(self, served_model: str = "mixedbread-ai/mxbai-rerank-xsmall-v1") -> None:
        self.served_model = served_model

    def error(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": None, "param": None, "code": status}}

    def auth_error(self) -> Reject:
        return Reject(401, {"detail": "Unauthorized"}, {"WWW-Authenticate": "Bearer"})

    def bad_json(self) -> Reject:
        return Reject(422, {"detail": [pydantic_error(
            "json_invalid", ["body", 0], "JSON decode error", {}, error="Expecting value"
        )]})

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(422, {"detail": [pydantic_error(
                "model_attributes_type", ["body"],
                "Input should be a valid dictionary or object to extract fields from", body,
            )]})
        errors = []
        query, docs = body.get("query"), body.get("documents")
        if "query" not in body:
            errors.append(pydantic_error("missing", ["body", "query"], "Field required", body))
        elif not isinstance(query, str):
            errors.append(
                pydantic_error("string_type", ["body", "query"], "Input should be a valid string", query)
            )
        if "documents" not in body:
            errors.append(pydantic_error("missing", ["body", "documents"], "Field required", body))
        elif not isinstance(docs, list):
            errors.append(pydantic_error("list_type", ["body", "documents"], "Input should be a valid list", docs))
        else:
            if not docs:
                errors.append(pydantic_error(
                    "too_short", ["body", "documents"], "List should have at least 1 item after validation, not 0",
                    docs, field_type="List", min_length=1, actual_length=0,
                ))
            for i, doc in enumerate(docs):
                if not isinstance(doc, str):
                    errors.append(pydantic_error(
                        "string_type", ["body", "documents", i], "Input should be a valid string", doc
                    ))
                elif len(doc) > self.max_chars:
                    errors.append(pydantic_error(
                        "string_too_long", ["body", "documents", i],
                        f"String should have at most {self.max_chars} characters", doc, max_length=self.max_chars,
                    ))
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n <= 0):
            errors.append(pydantic_error(
                "greater_than", ["body", "top_n"], "Input should be greater than 0", top_n, gt=0
            ))
        for flag in ("return_documents", "raw_scores"):
            if flag in body and not isinstance(body[flag], bool):
                errors.append(
                    pydantic_error("bool_type", ["body", flag], "Input should be a valid boolean", body[flag])
                )
        if errors:
            raise Reject(422, {"detail": errors})
        return query.strip(), [d.strip() for d in docs], top_n

    def too_many(self, count: int) -> Reject:
        return Reject(422, {"detail": [pydantic_error(
            "too_long", ["body", "documents"],
            f"List should have at most {self.max_documents} items after validation, not {count}",
            f"<{count} documents>", field_type="List", max_length=self.max_documents, actual_length=count,
        )]})

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "object": "rerank",
            "results": [
                {"relevance_score": s, "index": i, "document": documents[i] if echo else None}
                for i, s in ranking
            ],
            "model": self.served_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "id": f"infinity-{uid()}",
            "created": int(time.time()),
        }


__all__ = ["InfinityDialect"]
