"""Together AI's ``POST /v1/rerank``."""

from __future__ import annotations

from typing import Any, Optional

from .base import Dialect, Reject, uid


class TogetherDialect(Dialect):
    """Together AI ``POST /v1/rerank`` ("Cohere compatible"; Jina-shaped: ``top_n``, ``results``).

    From together-python (types/rerank.py, types/error.py): ``model``, ``query``, ``documents``
    (strings or objects), ``top_n``, ``return_documents``, ``rank_fields``; the answer has
    ``object: "rerank"``, ``results[].document`` (an object or null) and ``usage``; errors are
    ``{"error": {"message", "type", "param", "code"}}``. Messages below are (uncertain) stand-ins.
    """

    name = "together"
    path = "/v1/rerank"

    def error(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}

    def auth_error(self) -> Reject:
        return Reject(401, {"error": {
            "message": "Invalid API key provided.", "type": "invalid_request_error",
            "param": None, "code": "invalid_api_key",
        }})

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "request body must be a JSON object"))
        for key in ("model", "query", "documents"):
            if key not in body:
                raise Reject(400, self.error(400, f"'{key}' is a required property"))
        docs = body["documents"]
        if not isinstance(docs, list) or not docs or not all(isinstance(d, (str, dict)) for d in docs):
            raise Reject(400, self.error(400, "'documents' must be a non-empty list of strings or objects"))
        fields = body.get("rank_fields") or ["text"]
        texts = [d if isinstance(d, str) else " ".join(str(d.get(f, "")) for f in fields) for d in docs]
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise Reject(400, self.error(400, "'top_n' must be a positive integer"))
        return str(body["query"]), texts, top_n

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "object": "rerank",
            "id": uid(),
            "model": body["model"],
            "results": [
                {"index": i, "relevance_score": s, "document": {"text": documents[i]} if echo else None}
                for i, s in ranking
            ],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }


__all__ = ["TogetherDialect"]
