"""The options every hosted (HTTP) reranker accepts, on top of :class:`rerankit.RerankerConfig`.

Names follow ``lancedb.rerankers`` where they exist (``model_name``, ``api_key``, ``column``,
``top_n``, ``return_score``); the rest are plain descriptive names. The API key is a
:class:`pydantic.SecretStr`, so printing, logging or dumping a config never shows it.
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, SecretStr, field_validator, model_validator

from .._config import RerankerConfig
from .._redact import unsendable

#: What an environment variable's name looks like (a key pasted into api_key_env does not).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def unsendable_key(where: str) -> str:
    """Why a key that cannot go in an HTTP header is refused (the key itself is never shown)."""
    return (
        f"{where} holds a line break, another control character or a non-ASCII character, so it cannot be "
        "sent in an HTTP header (a key read from a file with two lines?); check the key (it is not shown here)"
    )


def looks_like_key(name: str) -> bool:
    """Whether an ``api_key_env`` value is a key rather than a variable's name."""
    if not _ENV_NAME.fullmatch(name):
        return True
    mixed = any(c.islower() for c in name) and any(c.isupper() for c in name) and any(c.isdigit() for c in name)
    return mixed and len(name) >= 20


class HTTPConfig(RerankerConfig):
    """Options of a reranker that calls an HTTP API. Plugins subclass it and set their defaults."""

    model_name: str = Field(..., description="The provider's model name.")
    api_key: Optional[SecretStr] = Field(
        None,
        description="API key; when unset it is read from the provider's environment variable(s).",
    )
    base_url: str = Field(
        ...,
        description="Scheme and host (and optional path prefix) of the API; point it at a compatible "
        "or self-hosted server.",
    )
    path: Optional[str] = Field(
        None,
        description="Request path appended to base_url instead of the provider's own (e.g. '/rerank' "
        "for a compatible server that serves the API there).",
    )
    api_key_env: Optional[str] = Field(
        None,
        description="Environment variable to read the key from instead of the provider's own "
        "(e.g. 'TOGETHER_API_KEY' when a plugin is pointed at another vendor's compatible API).",
    )
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for a response (read/write timeout).")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to wait for a connection.")
    max_retries: int = Field(
        3, ge=0, le=50, description="Retries after the first attempt (408, 409, 429, 5xx, timeouts, drops)."
    )
    deadline: Optional[float] = Field(
        120.0,
        gt=0,
        description="Total seconds one request may take, retries and waits included (None: no limit).",
    )
    backoff_base: float = Field(
        0.5, ge=0, description="First retry delay in seconds; doubles per retry, with jitter."
    )
    backoff_max: float = Field(20.0, ge=0, description="Cap in seconds on one backoff delay.")
    batch_size: int = Field(
        1000, ge=1, description="Most documents sent in one request; longer lists are split."
    )
    max_concurrency: int = Field(
        8, ge=1, le=256, description="Requests in flight at once when one call is split into several."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://, e.g. 'https://api.example.com'")
        return value.rstrip("/")

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"path must start with '/', e.g. '/rerank' (got {value!r})")
        return value

    @field_validator("api_key")
    @classmethod
    def _blank_key_is_unset(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        if value is not None and not value.get_secret_value().strip():
            return None
        if value is not None and unsendable(value.get_secret_value().strip()):
            raise ValueError(unsendable_key("api_key"))
        return value if value is None else SecretStr(value.get_secret_value().strip())

    @field_validator("api_key_env")
    @classmethod
    def _a_variable_name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and looks_like_key(value):  # never echoed: it may be the key itself
            raise ValueError(
                "api_key_env takes the name of an environment variable, e.g. 'TOGETHER_API_KEY' (got a value "
                "that is not one, perhaps the key itself: pass a key as api_key or put it in a variable)"
            )
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> HTTPConfig:
        if self.backoff_max < self.backoff_base:
            raise ValueError(
                f"backoff_max ({self.backoff_max}) must be at least backoff_base ({self.backoff_base})"
            )
        return self


__all__ = ["HTTPConfig"]
