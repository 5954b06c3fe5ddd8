"""What every dialect shares: :class:`Reject` (a refusal in the provider's own shape), the
:class:`Dialect` base class and :class:`Request` (what a served request asks for).

A dialect is one rerank API's wire format seen from the server side: the route, request checks,
answer shape and error bodies. The fake servers of :mod:`rerankit.testing` and the real server of
:mod:`rerankit.serve` use the same dialect objects, so each format is written once; the plugins'
client side stays separate, so tests still compare two implementations. Standard library only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional


class Reject(Exception):
    """A request the provider would refuse: HTTP ``status`` with the provider's error body.

    ``body`` is sent as JSON, or as is when it is ``bytes`` (a plain-text or empty answer, as
    some servers' frameworks give); ``headers`` go with it (e.g. ``WWW-Authenticate``).
    """

    def __init__(self, status: int, body: Any, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@dataclass
class Request:
    """What one rerank request asks for, whatever its dialect (the server's view of a body).

    ``documents`` are as sent (strings, or objects whose ``text`` is scored and whose other fields,
    e.g. ``_distance`` / ``_score``, travel with the row); ``texts`` are their texts.
    """

    query: str
    texts: list[str]
    documents: list[Any] = field(default_factory=list)
    top_n: Optional[int] = None
    model: Optional[str] = None
    max_tokens_per_doc: Optional[int] = None


class Dialect:
    """One provider's wire format: the path, request checks, answer shape and error bodies."""

    name = "generic"
    path = "/rerank"
    max_documents: Optional[int] = None
    #: Largest request body accepted, in bytes (None: no limit).
    max_body_bytes: Optional[int] = None
    #: Status of a request the server cannot score as sent (e.g. a fusion document without scores).
    invalid_status = 400
    #: Status of a request refused because the server is busy (with ``retry-after``).
    overloaded_status = 503

    def accepts(self, path: str) -> bool:
        """Whether the server routes ``path`` to its rerank endpoint."""
        return path == self.path

    def needs_auth(self, path: str) -> bool:
        """Whether a request to ``path`` must carry the key (when the server has one)."""
        return True

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        """Whether the request carries ``api_key`` the way this provider expects it."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return lowered.get("authorization") == f"Bearer {api_key}"

    def error(self, status: int, message: str) -> Any:
        return {"message": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "invalid api token"))

    def bad_json(self, reason: str = "body must be JSON") -> Reject:
        """The refusal of a body that is not JSON (or JSON this API cannot read: ``reason``)."""
        return Reject(400, self.error(400, f"invalid request: {reason}"))

    def too_large(self, size: int) -> Reject:
        """The refusal of a body over ``max_body_bytes``."""
        return Reject(413, self.error(413, f"request body of {size} bytes is too large"))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        """``(query, documents, top_k)`` from a request body, or raise :class:`Reject`."""
        raise NotImplementedError

    def too_many(self, count: int) -> Reject:
        """The refusal of a request with more than ``max_documents`` documents."""
        return Reject(400, self.error(400, f"too many documents: {count} > {self.max_documents}"))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        raise NotImplementedError

    # -- the server side beyond the fakes (rerankit.serve) -------------------------------------
    def request(self, body: Any) -> Request:
        """The :class:`Request` a body asks for (checked by :meth:`parse`), or raise :class:`Reject`."""
        query, texts, top_n = self.parse(body)
        model = body.get("model") if isinstance(body, dict) else None
        return Request(query, list(texts), list(texts), top_n, model if isinstance(model, str) else None)

    def failure(self, status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> Reject:
        """Any refusal (unknown model, overload, timeout, a scorer's failure) in this API's error shape."""
        return Reject(status, self.error(status, message), headers)

    def unknown_model(self, model: str, served: Sequence[str]) -> Reject:
        """The refusal of a ``model`` the server does not serve (404, naming the served ones)."""
        names = ", ".join(repr(s) for s in served)
        return self.failure(404, f"model '{model}' not found; this server serves {names}")

    def too_long(self, index: int, length: int, limit: int) -> Reject:
        """The refusal of a document (or query: ``index`` -1) longer than ``limit`` characters."""
        what = "query" if index < 0 else f"document at index {index}"
        return self.failure(400, f"{what} has {length} characters; the limit is {limit}")


def uid() -> str:
    return str(uuid.uuid4())


def pydantic_error(kind: str, loc: Sequence[Any], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    """One entry of a FastAPI/pydantic v2 validation error list (``{"detail": [...]}``)."""
    item: dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


__all__ = ["TEXT", "Dialect", "Reject", "Request", "pydantic_error", "uid"]
