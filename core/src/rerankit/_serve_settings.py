"""The server's settings: limits, batching and API keys (never shown in a repr)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Any

from ._errors import ConfigError
from ._redact import unsendable as _unsendable

#: Environment variable holding the server's API key(s), comma-separated (``--api-key`` wins).
API_KEY_ENV = "RERANKIT_SERVE_API_KEY"


@dataclass(frozen=True)
class Batching:
    """How concurrent requests to one local model are merged into shared forward batches.

    A batch starts with the oldest waiting request, waits at most ``max_wait_ms`` for others, and
    takes requests while their documents fit ``max_documents`` (a single larger request is scored
    alone). ``enabled`` None: batch local scorers, never hosted APIs or fusion.
    """

    enabled: bool | None = None
    max_wait_ms: float = 5.0
    max_documents: int = 256

    def __post_init__(self) -> None:
        if self.enabled is not None and not isinstance(self.enabled, bool):
            raise ConfigError(f"batching must be true or false, not {self.enabled!r}")
        _number("max_wait_ms", self.max_wait_ms, low=0.0, example="5")
        _number("max_batch_documents", self.max_documents, low=1, whole=True, example="256")

    def updated(self, options: dict[str, Any], where: str) -> Batching:
        """These settings with a served model's ``[<name>.serve]`` options applied, checked as every
        config is (types and ranges: ``max_wait_ms = "abc"`` or ``batching = "no"`` is a ConfigError)."""
        import difflib

        known = {"batching": "enabled", "max_wait_ms": "max_wait_ms", "max_batch_documents": "max_documents"}
        unknown = sorted(set(options) - set(known))
        if unknown:
            near = difflib.get_close_matches(unknown[0], list(known), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ConfigError(
                f"{where} has unknown option(s) {unknown}{hint}; the serve table takes {sorted(known)}"
            )
        try:
            return replace(self, **{known[k]: v for k, v in options.items()})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; over a limit it is refused in its API's own error shape."""

    max_documents: int = 1000
    max_body_bytes: int = 5_000_000
    max_text_chars: int = 100_000
    #: Seconds from receiving a request to its answer; past it the client gets a 504.
    request_timeout: float = 60.0
    #: Documents waiting for a batch per model; past it requests get a 503 with retry-after.
    max_queue_documents: int = 50_000

    def __post_init__(self) -> None:
        for name in ("max_documents", "max_body_bytes", "max_text_chars", "max_queue_documents"):
            _number(name, getattr(self, name), low=1, whole=True, example="1000")
        _number("request_timeout", self.request_timeout, low=0.0, example="60")
        if self.request_timeout == 0:
            raise ConfigError("request_timeout must be more than 0 seconds (e.g. 60)")


@dataclass(frozen=True)
class ServeSettings:
    """Everything the app needs besides the models. ``api_keys`` empty: no authentication."""

    limits: Limits = field(default_factory=Limits)
    batching: Batching = field(default_factory=Batching)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Worker threads per local model (1: one forward pass at a time, batches merge the rest).
    threads_per_model: int = 1

    def __repr__(self) -> str:
        keys = f"<{len(self.api_keys)} key(s)>" if self.api_keys else "none"
        return f"ServeSettings(limits={self.limits}, batching={self.batching}, api_keys={keys})"


def _number(name: str, value: Any, *, low: float, whole: bool = False, example: str) -> None:
    """A serve option that is a (whole) number, finite and at least ``low``; never a bool or string."""
    kind = "whole number" if whole else "number"
    ok = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < low:
        raise ConfigError(f"{name} must be a {kind} of at least {low:g}, not {value!r} (e.g. {name} = {example})")


def api_keys_from(arguments: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The keys given on the command line, else those in :data:`API_KEY_ENV` (comma-separated).

    An empty ``--api-key ""`` (``--api-key "$KEY"`` with the variable unset) is a ConfigError, not
    an open server: serving without a key takes ``--no-auth``.
    """
    if arguments and any(not k.strip() for k in arguments):
        raise ConfigError(
            "--api-key is empty (was its variable unset?); give the key, or --no-auth to serve without one"
        )
    if any(_unsendable(k) for k in arguments or ()):
        raise ConfigError("--api-key holds a control or non-ASCII character (not shown); check the key")
    keys = [k.strip() for k in (arguments or ()) if k.strip()]
    if not keys:
        keys = [k.strip() for k in os.environ.get(API_KEY_ENV, "").split(",") if k.strip()]
    return tuple(keys)


__all__ = ["API_KEY_ENV", "Batching", "Limits", "ServeSettings", "api_keys_from"]
