"""The server's settings: limits, batching and API keys (never shown in a repr)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import ConfigError

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

    def updated(self, options: dict[str, Any], where: str) -> Batching:
        """These settings with a served model's ``[<name>.serve]`` options applied."""
        known = {"batching": "enabled", "max_wait_ms": "max_wait_ms", "max_batch_documents": "max_documents"}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"{where} has unknown option(s) {unknown}; the serve table takes {sorted(known)}"
            )
        return replace(self, **{known[k]: v for k, v in options.items()})


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


def api_keys_from(arguments: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The keys given on the command line, else those in :data:`API_KEY_ENV` (comma-separated)."""
    keys = [k.strip() for k in (arguments or ()) if k.strip()]
    if not keys:
        keys = [k.strip() for k in os.environ.get(API_KEY_ENV, "").split(",") if k.strip()]
    return tuple(keys)


__all__ = ["API_KEY_ENV", "Batching", "Limits", "ServeSettings", "api_keys_from"]
