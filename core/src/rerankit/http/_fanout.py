"""Fan-out: one function over many items, a bounded number at a time, results in input order.

Every concurrent request of the HTTP layer goes through here (the parts of a long document list,
listwise queries, embedding batches, a bad answer asked again in halves), so they all fail alike:
**the first failure cancels the rest and is raised at once**.

- :func:`fan_out` runs on worker threads (the pooled sync client is thread-safe, and a call from
  inside a running event loop, as in a notebook, works the same). Each item runs in a copy of the
  caller's :mod:`contextvars` context, so per-call state kept in a ``ContextVar`` follows it. On
  the first failure no other item starts and the error is raised without waiting for the ones
  already running (a thread cannot be interrupted: a request already on the
  wire finishes in the background and its answer is dropped).
- :func:`afan_out` runs as tasks on the running event loop. On the first failure, or when the
  caller itself is cancelled, every other task is cancelled and that cancellation awaited before
  the error is raised: nothing is left running behind the call.

One item runs directly in the caller (no thread, no task), so a single request costs nothing extra.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Skipped(Exception):
    """An item not started because another had failed."""


def fan_out(fn: Callable[[T], R], items: Sequence[T], limit: int, *, name: str = "rerankit") -> list[R]:
    """``[fn(item) for item in items]``, at most ``limit`` at a time on threads named ``name``.

    The first failure is raised at once; no item starts after it (see the module doc).
    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    first: list[BaseException] = []
    lock = threading.Lock()

    def run(item: T) -> R:
        if first:
            raise _Skipped
        try:
            return fn(item)
        except BaseException as exc:
            with lock:
                if not first:
                    first.append(exc)
            raise

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(max(1, limit), len(items)), thread_name_prefix=name
    )
    futures = [pool.submit(contextvars.copy_context().run, run, item) for item in items]
    try:
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        if first:  # recorded before its future (or any skipped one) completed
            raise first[0]
        return [future.result() for future in futures]
    finally:
        # queued items never start; running ones finish in the background (already done on success)
        pool.shutdown(wait=False, cancel_futures=True)


async def afan_out(fn: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """Async twin of :func:`fan_out`: ``[await fn(item) for item in items]``, at most ``limit``
    at a time; the first failure cancels the others and awaits their cancellation."""
    if len(items) <= 1:
        return [await fn(item) for item in items]
    gate = asyncio.Semaphore(max(1, limit))
    first: list[BaseException] = []

    async def one(item: T) -> R:
        async with gate:
            if first:
                raise _Skipped
            try:
                return await fn(item)
            except Exception as exc:
                first.append(exc)
                raise

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # a failure, or the caller cancelled: stop the rest and wait until they have stopped
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    if first:
        raise first[0]
    return [task.result() for task in tasks]


__all__ = ["afan_out", "fan_out"]
