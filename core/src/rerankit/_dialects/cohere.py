"""Cohere's ``POST /v2/rerank``."""

from __future__ import annotations

from typing import Any, Optional

from .base import Dialect, Reject, Request, uid


class CohereDialect(Dialect):
    """Cohere ``POST /v2/rerank``: unknown fields are a 422, documents must be non-empty strings.

    The chunk limit ("number of total max chunks ... must be less than 10000") is checked as
    documents x max chunks per document, each document counted at ``max_tokens_per_doc`` (4,096
    by default) cut into chunks of the context (4,096; 32,768 for rerank-v4.0) less the query and
    4 reserved tokens; tokens are counted as words. (uncertain: Cohere's exact rule is not
    published for v2.)
    """

    name = "cohere"
    path = "/v2/rerank"
    max_documents = 10_000
    #: Cohere's chunk limit (None: not checked, as ``rerankit serve`` does: its limit is ``max_documents``).
    max_chunks: Optional[int] = 10_000
    fields = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority", "relevant_spans"})

    #: Whether ``relevant_spans = {"mode": "enabled"}`` is served (Cohere: Rerank v5 models only).
    spans = False

    def error(self, status: int, message: str) -> Any:
        return {"id": uid(), "message": message}

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "invalid request: body must be a JSON object"))
        for key in body:
            if key not in self.fields:
                raise Reject(422, self.error(422, f"unknown field: parameter '{key}' is not a valid field"))
        if not body.get("model"):
            raise Reject(400, self.error(400, "invalid request: model is required"))  # (uncertain)
        if not isinstance(body["model"], str):
            raise Reject(400, self.error(400, "invalid request: model must be a string"))  # (uncertain)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise Reject(400, self.error(400, "query must not be empty or be only whitespace"))
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs:
            raise Reject(400, self.error(400, "list of documents must not be empty"))
        for i, doc in enumerate(docs):
            if not isinstance(doc, str):
                raise Reject(400, self.error(400, f"invalid request: document at index {i} must be a string"))
            if not doc.strip():
                raise Reject(400, self.error(400, f"document at index {i} cannot be empty"))
        top_n = body.get("top_n")
        if top_n is not None and (not _whole(top_n) or top_n < 1):
            raise Reject(400, self.error(400, "invalid request: top_n must be a whole number of at least 1"))
        mtpd = body.get("max_tokens_per_doc")
        if mtpd is not None and (not _whole(mtpd) or mtpd < 1):
            raise Reject(400, self.error(400, "invalid request: max_tokens_per_doc must be a positive whole number"))
        priority = body.get("priority")
        if priority is not None and (not _whole(priority) or not 0 <= priority <= 999):
            raise Reject(400, self.error(400, "invalid request: priority must be a whole number from 0 to 999"))
        spans = body.get("relevant_spans")
        if spans is not None and (not isinstance(spans, dict) or spans.get("mode") not in ("enabled", "disabled")):
            raise Reject(400, self.error(
                400, 'invalid request: relevant_spans must be {"mode": "enabled"} or {"mode": "disabled"}'
            ))
        if spans is not None and spans["mode"] == "enabled" and not self.spans:
            raise Reject(400, self.error(400, "invalid request: relevant spans are not supported by this model"))
        if self.max_chunks is None:
            return query, docs, top_n
        context = 32_768 if str(body["model"]).startswith("rerank-v4") else 4096
        chunk = max(1, context - len(query.split()) - 4)
        chunks = len(docs) * -(-(mtpd or 4096) // chunk)
        if chunks >= self.max_chunks:
            raise Reject(400, self.error(
                400, f"invalid request: number of total max chunks ({chunks}) must be less than {self.max_chunks}"
            ))
        return query, docs, top_n

    def request(self, body: Any) -> Request:
        query, docs, top_n = self.parse(body)
        return Request(query, docs, docs, top_n, body["model"], max_tokens_per_doc=body.get("max_tokens_per_doc"))

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"invalid request: too many documents, got {count}, maximum is {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        return {
            "id": uid(),
            "results": [{"index": i, "relevance_score": s} for i, s in ranking],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }


def _whole(value: Any) -> bool:
    """A JSON integer (``true`` is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["CohereDialect"]
