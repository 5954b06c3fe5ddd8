"""Turn a provider's error answer into one of rerankit's typed errors, with the key scrubbed.

Providers shape error bodies differently: Cohere ``{"message"}``, Voyage and FastAPI servers
``{"detail": str | [{"loc", "msg"}]}``, OpenAI and Infinity ``{"error": {"message"}}``,
text-embeddings-inference ``{"error", "error_type"}``. :func:`error_message` reads them all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from .._errors import AuthenticationError, ProviderError, RateLimitError

MAX_MESSAGE = 500


def error_message(body: bytes | str, content_type: str = "") -> str:
    """The provider's own message from an error body, or the body's text (shortened)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    found = _from_json(data) if data is not None else None
    if found:
        return _shorten(found)
    return _shorten(text.strip()) or "(empty body)"


def _from_json(data: Any) -> Optional[str]:
    if isinstance(data, str):
        return data
    if not isinstance(data, Mapping):
        return None
    message = data.get("message")
    if isinstance(message, str) and message:
        return message
    detail = data.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        return "; ".join(_fastapi_item(item) for item in detail)
    error = data.get("error")
    if isinstance(error, Mapping):
        inner = error.get("message")
        if isinstance(inner, str) and inner:
            kind = error.get("type") or error.get("code")
            return f"{inner} ({kind})" if isinstance(kind, str) and kind else inner
    if isinstance(error, str) and error:
        kind = data.get("error_type")
        return f"{error} ({kind})" if isinstance(kind, str) and kind else error
    return None


def _fastapi_item(item: Any) -> str:
    if isinstance(item, Mapping):
        loc = item.get("loc")
        where = ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else ""
        msg = str(item.get("msg", item))
        return f"{where}: {msg}" if where else msg
    return str(item)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def scrub(text: str, secret: Optional[str]) -> str:
    """Replace every occurrence of ``secret`` in ``text`` (providers sometimes echo the key)."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "***")
    return text


def http_error(
    provider: str, status: int, message: str, attempts: int, *, key_hint: str = "api_key"
) -> ProviderError:
    """The typed error for a final HTTP error status (after any retries)."""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if status in (401, 403):
        return AuthenticationError(
            f"{provider}: the API key was rejected (HTTP {status}): {message}. Check {key_hint}.",
            provider=provider,
            status_code=status,
        )
    if status == 429:
        return RateLimitError(
            f"{provider}: rate limited (HTTP 429){tries}: {message}. Lower max_concurrency, or raise "
            "max_retries / deadline so more waiting is allowed.",
            provider=provider,
            status_code=status,
        )
    return ProviderError(
        f"{provider}: HTTP {status}{tries}: {message}", provider=provider, status_code=status
    )


SENSITIVE_HEADERS = ("authorization", "api-key", "x-api-key", "cookie", "proxy-authorization")


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials replaced by '***'."""
    out = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in SENSITIVE_HEADERS or "key" in lowered or "token" in lowered or "secret" in lowered:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            out[name] = f"{scheme} ***".strip()
        else:
            out[name] = value
    return out


__all__ = ["error_message", "http_error", "safe_headers", "scrub"]
