"""``rerankit.http.fan_out`` / ``afan_out``: the one fan-out every concurrent request goes through.

Results come back in input order with at most ``limit`` items at once; the first failure cancels
the items not yet started and is raised at once, without waiting for slow items still running;
the async form also cancels the running ones and awaits their cancellation, so nothing is left
behind the call. The remote embedding path (which used to wait for every request when one failed,
and left cancelled tasks running) is checked end to end against a local embeddings server.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any, Optional

import pytest

import rerankit
from rerankit.http import afan_out, fan_out
from rerankit.testing import EmbeddingsDialect, FakeRerankServer, Reject

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


class Gauge:
    """How many items run at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: Any) -> None:
        with self.lock:
            self.now -= 1


def test_fan_out_keeps_order_bounds_concurrency_and_carries_the_context() -> None:
    gauge = Gauge()
    barrier = threading.Barrier(3, timeout=5)

    def work(i: int) -> tuple[int, str]:
        with gauge:
            if i < 3:
                barrier.wait()  # the first three do run at once
            return i * i, WHO.get()

    WHO.set("caller")
    got = fan_out(work, list(range(12)), 3)
    assert got == [(i * i, "caller") for i in range(12)]
    assert gauge.most == 3
    assert fan_out(work, [], 3) == [] and fan_out(lambda i: i + 1, [1], 3) == [2]


def test_fan_out_raises_the_first_failure_at_once_and_starts_nothing_after_it() -> None:
    release = threading.Event()
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 0:
            release.wait(10)  # slow, still running when item 1 fails
        if i == 1:
            raise ValueError("item 1 failed")
        return i

    with pytest.raises(ValueError, match="item 1 failed"):
        fan_out(work, list(range(10)), 2)
    # raised while item 0 was still running, and the queued items were cancelled
    assert not release.is_set() and sorted(started) == [0, 1]
    release.set()


async def test_afan_out_keeps_order_and_bounds_concurrency() -> None:
    gauge = Gauge()

    async def work(i: int) -> int:
        with gauge:
            await asyncio.sleep(0.001 * (5 - i % 5))
            return -i

    assert await afan_out(work, list(range(20)), 4) == [-i for i in range(20)]
    assert gauge.most == 4
    assert await afan_out(work, [], 4) == []


async def test_afan_out_cancels_the_rest_and_awaits_the_cancellation() -> None:
    cleaned: list[int] = []
    started: list[int] = []

    async def work(i: int) -> int:
        started.append(i)
        if i == 2:
            await asyncio.sleep(0.01)
            raise KeyError("item 2 failed")
        try:
            await asyncio.sleep(30)
            return i
        finally:
            await asyncio.sleep(0)  # a cleanup that needs the loop: it must have run when we are back
            cleaned.append(i)

    with pytest.raises(KeyError, match="item 2 failed"):
        await afan_out(work, list(range(8)), 4)
    assert sorted(started) == [0, 1, 2, 3]  # the queued four never started
    assert sorted(cleaned) == [0, 1, 3]  # the running three were cancelled, and that was awaited
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_cancelled_caller_cancels_every_item() -> None:
    cleaned: list[int] = []

    async def work(i: int) -> int:
        try:
            await asyncio.sleep(30)
            return i
        finally:
            cleaned.append(i)

    call = asyncio.ensure_future(afan_out(work, list(range(3)), 3))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert sorted(cleaned) == [0, 1, 2] and asyncio.all_tasks() == {asyncio.current_task()}


# -- the remote embedding path, end to end ------------------------------------------------------------
class SlowAndBad(EmbeddingsDialect):
    """Embeds as usual, but holds the input ``slow`` until released and refuses ``bad`` (400)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.slow_done = threading.Event()

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        inputs = body.get("input") if isinstance(body, dict) else None
        if inputs == ["slow"]:
            self.release.wait(10)
            self.slow_done.set()
        if inputs == ["bad"]:
            raise Reject(400, self.error(400, "this input is refused"))
        return super().parse(body)


@pytest.fixture
def slow_and_bad():
    dialect = SlowAndBad()
    with FakeRerankServer(dialect, api_key=None) as server:
        yield server, dialect
        dialect.release.set()


def embedder(server: FakeRerankServer) -> Any:
    # one input per request, two requests at a time: the query and "slow" go first, then "bad"
    return rerankit.get_reranker(
        "embedding", model_name="fake", base_url=server.url + "/v1", batch_size=1, max_concurrency=2, max_retries=0
    )


def test_remote_embedding_raises_the_first_failure_without_waiting_for_the_others(slow_and_bad) -> None:
    server, dialect = slow_and_bad
    with pytest.raises(rerankit.ProviderError, match="this input is refused"):
        embedder(server).rerank("q", ["slow", "bad", "c", "d"])
    assert not dialect.slow_done.is_set()  # raised while "slow" was still being answered
    assert [s.body["input"] for s in server.seen if s.body["input"] in (["c"], ["d"])] == []  # never sent


async def test_remote_embedding_async_leaves_no_request_running(slow_and_bad) -> None:
    server, dialect = slow_and_bad
    with pytest.raises(rerankit.ProviderError, match="this input is refused"):
        await embedder(server).arerank("q", ["slow", "bad", "c", "d"])
    assert not dialect.slow_done.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the "slow" request was cancelled and awaited
