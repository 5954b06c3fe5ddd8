"""What OpenAI's APIs (chat completions, embeddings) share on the wire: the error body and its codes.

Errors are ``{"error": {"message", "type", "param", "code"}}``; :class:`OpenAIDialect` answers its
401 and scripted errors in that shape, for :mod:`.openai_chat` and :mod:`.openai_embeddings`.
"""

from __future__ import annotations

from typing import Any, Optional

from .base import Dialect, Reject


def openai_error(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None) -> Any:
    """OpenAI's error body for ``status``."""
    kind = {429: "requests", 500: "server_error", 502: "server_error", 503: "server_error"}.get(
        status, "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def bad_request(message: str, param: Optional[str] = None, code: Optional[str] = None) -> Reject:
    """A 400 in OpenAI's error shape, naming the request field (``param``) at fault."""
    return Reject(400, openai_error(400, message, param, code))


class OpenAIDialect(Dialect):
    """The parts every OpenAI wire format shares: its error bodies and its 401."""

    def error(self, status: int, message: str) -> Any:
        code = {429: "rate_limit_exceeded", 404: "model_not_found"}.get(status)
        return openai_error(status, message, code=code)

    def auth_error(self) -> Reject:
        return Reject(401, openai_error(401, "Incorrect API key provided.", code="invalid_api_key"))


__all__ = ["OpenAIDialect", "bad_request", "openai_error"]
