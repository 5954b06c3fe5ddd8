"""The ``rate_limit`` step: requests and documents per minute, so a quota is kept, not learned from 429s.

Two token buckets (requests, documents) refill continuously at the set rates and hold at most
``burst_seconds`` worth of allowance. A call reserves what it is about to spend at once, from both
buckets, and then waits (``time.sleep`` on a thread, ``asyncio.sleep`` in a task) until the
reservation is covered: callers queue in arrival order, none fails and none is lost. A call larger
than the bucket is let through after waiting for its whole cost.

The buckets are shared process-wide by every reranker (every thread and task) with the same
identity: registered name, ``base_url`` (when the scorer has one) and the limits themselves.

What is charged: the requests the scorer will send for the call
(:meth:`~rerankit.Scorer.requests_for_batch`: a hosted scorer splits a long list at ``batch_size``,
so 2,500 documents are 3 requests; an embeddings server gets the queries and texts of a call in
common batches) and the documents. Charging per scorer call, before it starts, rather than per HTTP attempt inside the
transport keeps the limit a property of the scoring path (any scorer, local or third-party, gets
it) and never stalls a request halfway through its retries. Retries are not charged: they are
paced by the server itself, and a ``retry-after`` it sends is honoured by the HTTP layer whatever
the bucket holds (the server's word wins).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import AsyncNext, Job, Next, Step, StepContext


class RateLimitOptions(BaseModel):
    """The ``rate_limit`` option."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: Optional[float] = Field(None, gt=0, description="Most requests sent per minute.")
    documents_per_minute: Optional[float] = Field(None, gt=0, description="Most documents sent per minute.")
    burst_seconds: float = Field(
        1.0, gt=0, le=60, description="Seconds of allowance that may be spent at once after a quiet spell."
    )

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitOptions:
        if self.requests_per_minute is None and self.documents_per_minute is None:
            raise ValueError("set requests_per_minute and/or documents_per_minute")
        return self


class Bucket:
    """A token bucket that takes reservations: ``reserve(n)`` is the seconds to wait before spending."""

    def __init__(self, per_minute: float, burst_seconds: float, now: Optional[float] = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self._tokens = self.capacity
        self._at = time.monotonic() if now is None else now
        self._lock = threading.Lock()

    def reserve(self, amount: float, now: Optional[float] = None) -> float:
        with self._lock:
            now = time.monotonic() if now is None else now
            self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._at) * self.rate)
            self._at = max(self._at, now)
            self._tokens -= amount
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


_BUCKETS: dict[tuple[object, ...], Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(identity: tuple[object, ...], per_minute: float, burst_seconds: float) -> Bucket:
    """The process-wide bucket for ``identity`` (made on first use)."""
    key = (*identity, per_minute, burst_seconds)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = Bucket(per_minute, burst_seconds)
        return bucket


class RateLimitStep(Step):
    """Waits until the shared buckets allow the call, then lets it through."""

    def __init__(self, context: StepContext, options: RateLimitOptions) -> None:
        identity = (context.name, getattr(context.config, "base_url", None))
        self.requests = (
            None if options.requests_per_minute is None
            else shared_bucket((*identity, "requests"), options.requests_per_minute, options.burst_seconds)
        )
        self.documents = (
            None if options.documents_per_minute is None
            else shared_bucket((*identity, "documents"), options.documents_per_minute, options.burst_seconds)
        )
        self._scorer = context.scorer
        self._usage = context.usage

    def _wait(self, jobs: list[Job]) -> float:
        jobs = [j for j in jobs if len(j.texts)]
        if not jobs:
            return 0.0
        wait = 0.0
        if self.requests is not None:
            sent = self._scorer.requests_for_batch([j.query for j in jobs], [j.texts for j in jobs])
            wait = self.requests.reserve(sent)
        if self.documents is not None:
            wait = max(wait, self.documents.reserve(sum(len(j.texts) for j in jobs)))
        if wait > 0:
            self._usage.add(rate_limit_waits=1, rate_limit_wait_seconds=wait)
        return wait

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        wait = self._wait(jobs)
        if wait > 0:
            time.sleep(wait)
        return call_next(jobs)

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        wait = self._wait(jobs)
        if wait > 0:
            await asyncio.sleep(wait)
        return await call_next(jobs)


def make_rate_limit(context: StepContext) -> Optional[Step]:
    """The rate-limit step, when the ``rate_limit`` option is set."""
    options = getattr(context.config, "rate_limit", None)
    return None if options is None else RateLimitStep(context, options)


__all__ = ["Bucket", "RateLimitOptions", "RateLimitStep", "make_rate_limit", "shared_bucket"]
