"""Secrets inside free text and URLs, masked in one place (standard library only).

Two kinds of secret travel outside the options that hold keys: credentials written into a URL
(``http://user:PASSWORD@host``, whose whole userinfo part is a secret) and header values that
cannot be sent at all (a key with a line break or a non-ASCII character, which HTTP libraries
would echo in their errors). :func:`mask_urls` is applied to every rerankit error's message, to
reprs, dumps and log lines; :func:`unsendable` decides which keys are refused at config time.
"""

from __future__ import annotations

import re
from typing import Any

#: What stands in for a secret in messages.
MASK = "**********"

#: ``scheme://userinfo@``: the userinfo (user, password or a token) is masked whole.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s@'\"<>]+)@")


def mask_urls(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by :data:`MASK`."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def url_secrets(text: str) -> set[str]:
    """The userinfo parts (and their password halves) of the URLs in ``text``, for masking elsewhere."""
    found: set[str] = set()
    if "@" in text and "://" in text:
        for match in _USERINFO.finditer(text):
            userinfo = match.group(2)
            found.add(userinfo)
            _, _, password = userinfo.partition(":")
            if password:
                found.add(password)
    return found


def mask_urls_in(value: Any) -> Any:
    """``value`` (plain data: mappings, lists, strings) with URL userinfo masked at any depth."""
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, dict):
        return {k: mask_urls_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_urls_in(v) for v in value)
    return value


def unsendable(value: str) -> bool:
    """Whether ``value`` cannot be sent as an HTTP header value: a control character (a line
    break, NUL, tab) or a character outside ASCII."""
    return any(not (" " <= ch <= "~") for ch in value)


__all__ = ["MASK", "mask_urls", "mask_urls_in", "unsendable", "url_secrets"]
