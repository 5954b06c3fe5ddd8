"""The ``rate_limit`` option, measured at a fake server: many concurrent callers (threads, asyncio)
stay under the set rate and none is lost; the server's ``retry-after`` still wins."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time

import pytest

import rerankit
from rerankit._scoring.steps.rate_limit import Bucket
from rerankit.testing import FakeRerankServer, Fault

# Rates well under what this loaded 2-core machine sends unthrottled (about 60 calls a second from
# threads, 28 from asyncio), so the limiter, not the machine, sets the pace: about 5 s per test.
PER_MINUTE = 2400  # 40 requests a second
ASYNC_PER_MINUTE = 1200  # 20 requests a second
BURST = 0.1  # seconds of allowance spent at once: 4 (2) requests
CALLS = 200


@pytest.fixture(scope="module")
def server():
    with FakeRerankServer("cohere", api_key="k") as fake:
        yield fake


def limited(server, **limit):
    options = {"requests_per_minute": PER_MINUTE, "burst_seconds": BURST, **limit}
    return rerankit.get_reranker("cohere", api_key="k", base_url=server.url, rate_limit=options)


def assert_under_rate(server, per_second: float, capacity: float) -> None:
    """No one-second window of the requests the server saw holds more than the rate allows (plus the
    burst, plus a quarter second's worth and the longest pause between two arrivals: on a loaded
    machine requests the bucket released on time can be held up, in the client or the server's
    thread, and arrive together after a pause as long as the hold-up), and the whole run took as
    long as the rate demands (a limiter that let everything through fails here)."""
    times = sorted(s.at for s in server.seen)
    window = 1.0
    pause = max(later - earlier for earlier, later in itertools.pairwise(times))
    allowed = per_second * (window + 0.25 + pause) + capacity
    worst = max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))
    assert worst <= allowed, f"{worst} requests within {window}s; at most {allowed} allowed"
    span = times[-1] - times[0]
    assert span >= (len(times) - capacity) / per_second * 0.9


def test_threads_stay_under_the_rate_and_none_is_lost(server):
    server.reset()
    r = limited(server)
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        outs = list(pool.map(lambda i: r.rerank(f"query {i}", ["a doc", "another doc"]), range(CALLS)))
    assert len(outs) == CALLS and all(o.num_rows == 2 for o in outs)
    assert server.attempts == CALLS
    assert_under_rate(server, PER_MINUTE / 60, PER_MINUTE / 60 * BURST)
    assert r.usage.rate_limit_waits > 0 and r.usage.rate_limit_wait_seconds > 0


def test_asyncio_tasks_stay_under_the_rate_and_none_is_lost(server):
    server.reset()
    r = limited(server, requests_per_minute=ASYNC_PER_MINUTE)

    async def go():
        return await asyncio.gather(*(r.arerank(f"query {i}", ["a doc"]) for i in range(CALLS)))

    outs = asyncio.run(go())
    assert len(outs) == CALLS and server.attempts == CALLS
    assert_under_rate(server, ASYNC_PER_MINUTE / 60, ASYNC_PER_MINUTE / 60 * BURST)
    assert r.usage.rate_limit_waits > CALLS / 2


def test_documents_per_minute_counts_documents(server):
    server.reset()
    r = rerankit.get_reranker(
        "cohere", api_key="k", base_url=server.url,
        rate_limit={"documents_per_minute": 6000, "burst_seconds": 0.1},  # 100 a second, 10 at once
    )
    started = time.monotonic()
    for i in range(4):
        r.rerank(f"q{i}", [f"doc {j}" for j in range(10)])
    assert time.monotonic() - started >= 0.3 * 0.9  # 40 documents, 10 free: 0.3 s of waiting


def test_rerankers_with_the_same_identity_share_one_bucket(server):
    # one request every 2 s, one at once (limits no other test uses, so the buckets start full)
    a, b = (limited(server, requests_per_minute=30, burst_seconds=2) for _ in range(2))
    other = limited(server, requests_per_minute=29, burst_seconds=2)  # another limit: its own bucket
    for r in (a, b, other):
        r.rerank("q", ["a doc"])
    # what a spent, b waits for; the reranker with other limits does not
    assert (a.usage.rate_limit_waits, b.usage.rate_limit_waits, other.usage.rate_limit_waits) == (0, 1, 0)
    assert b.usage.rate_limit_wait_seconds > 0


def test_a_retry_after_longer_than_the_bucket_is_honoured(server):
    server.reset()
    r = limited(server, requests_per_minute=60_000)
    server.script(Fault.error(429, headers={"retry-after": "0.6"}))
    r.rerank("q", ["a doc"])
    first, second = (s.at for s in server.seen)
    assert second - first >= 0.6


def test_a_bucket_reserves_in_arrival_order():
    bucket = Bucket(60, burst_seconds=2, now=10.0)  # one a second, two at once
    assert [bucket.reserve(1, now=10.0) for _ in range(4)] == [0.0, 0.0, 1.0, 2.0]
    assert bucket.reserve(1, now=13.0) == 0.0  # caught up: three seconds refilled three tokens


def test_rate_limit_options_are_validated():
    with pytest.raises(rerankit.ConfigError, match="requests_per_minute and/or documents_per_minute"):
        rerankit.get_reranker("cohere", api_key="k", rate_limit={})
    with pytest.raises(rerankit.ConfigError, match="requests_per_minute"):
        rerankit.get_reranker("cohere", api_key="k", rate_limit={"requests_per_minute": 0})
