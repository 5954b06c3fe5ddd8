"""When to retry a hosted call and how long to wait: the policy, free of any HTTP library.

Retried: HTTP 408, 409, 429 and every 5xx, timeouts and dropped connections. Never retried:
other 4xx (400, 401, 403, 404, 422, ...), since asking again cannot help. The wait is the
provider's ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date) when it sends one,
else ``backoff_base * 2**n`` capped at ``backoff_max`` with "equal jitter" (half fixed, half
random), so many clients do not retry in lockstep. Retries stop after ``max_retries`` or when
the next attempt would start past the ``deadline``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

RETRY_STATUSES = frozenset({408, 409, 429})


def retryable_status(status: int) -> bool:
    """True for the statuses worth asking again: 408, 409, 429 and 5xx."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def retry_after_seconds(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``retry-after``; None if absent.

    ``retry-after`` may be a number of seconds or an HTTP date; a date in the past means 0.
    Unparseable or negative values are ignored (None), so the normal backoff applies.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0 and value == value and value != float("inf"):
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if value < 0 or value != value or value == float("inf"):
        return None
    return value


@dataclass(frozen=True)
class Backoff:
    """Retry budget and delays for one request."""

    max_retries: int
    deadline: Optional[float]
    base: float
    cap: float

    def delay(self, retry_number: int, server_wait: Optional[float] = None) -> float:
        """Delay before retry ``retry_number`` (1 for the first retry)."""
        if server_wait is not None:
            return server_wait
        step = min(self.cap, self.base * (2 ** (retry_number - 1)))
        return step / 2 + random.uniform(0, step / 2)

    def allows(self, retry_number: int, elapsed: float, wait: float) -> bool:
        """Whether retry ``retry_number`` may run after waiting ``wait`` seconds at ``elapsed``."""
        if retry_number > self.max_retries:
            return False
        return self.deadline is None or elapsed + wait < self.deadline


__all__ = ["Backoff", "retry_after_seconds", "retryable_status"]
