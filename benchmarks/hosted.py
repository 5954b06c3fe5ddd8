"""Hosted reranking: many queries at once (rerank_batch) vs one blocking call per query.

Against a local fake Cohere server (rerankit.testing) that answers after a fixed latency,
100 queries x 100 documents are reranked (1) one call per query in a loop, the way LanceDB's
rerankers call a provider, and (2) with ``rerank_batch`` / ``arerank_batch`` (requests of all
queries in flight together, bounded by ``max_concurrency``). A second run injects 429/503 answers
into a share of requests and counts lost queries and misaligned rows (a row whose score is not its
own text's score, a row missing, repeated or out of order). A third run measures the score
cache: 1,000 calls (one per query, as a search service makes them) drawn with repeats from 200
distinct queries, without and with ``cache = {}``, reporting requests, documents sent and time.

    .venv/bin/python benchmarks/hosted.py [--queries 100] [--docs 100] [--latency 0.05] [--fault-rate 0.2]
    .venv/bin/python benchmarks/hosted.py --only-cache [--cache-calls 1000] [--cache-distinct 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

import rerankit
from rerankit.testing import FakeRerankServer, fake_score

KEY = "bench-key"
WORDS = (
    "solar wind energy panel roof battery grid storage cost install home power heat pump "
    "insulation window door loan tax credit inverter meter export tariff winter summer"
).split()


def workload(n_queries: int, n_docs: int, seed: int = 0) -> tuple[list[str], list[pa.Table]]:
    rng = np.random.default_rng(seed)
    queries, tables = [], []
    for q in range(n_queries):
        queries.append(" ".join(rng.choice(WORDS, size=3)))
        texts = [f"q{q}d{d} " + " ".join(rng.choice(WORDS, size=8)) for d in range(n_docs)]
        tables.append(pa.table({
            "_rowid": pa.array(np.arange(q * n_docs, (q + 1) * n_docs), pa.uint64()),
            "text": texts,
            "_distance": pa.array(rng.random(n_docs), pa.float32()),
        }))
    return queries, tables


def audit(queries: list[str], tables: list[pa.Table], outs: list[pa.Table] | None) -> tuple[int, int]:
    """(lost queries, misaligned rows) of one run's outputs against the inputs."""
    if outs is None:
        return len(queries), 0
    lost = misaligned = 0
    for q, source, out in zip(queries, tables, outs, strict=True):
        if out is None:
            lost += 1
            continue
        by_id = dict(zip(source["_rowid"].to_pylist(), source["text"].to_pylist(), strict=True))
        rows = out.to_pylist()
        seen: set[int] = set()
        last = np.inf
        for row in rows:
            ok = (
                by_id.get(row["_rowid"]) == row["text"]
                and row["_rowid"] not in seen
                and np.float32(row["_relevance_score"]) == np.float32(fake_score(q, row["text"]))
                and row["_relevance_score"] <= last
            )
            misaligned += not ok
            seen.add(row["_rowid"])
            last = row["_relevance_score"]
        misaligned += source.num_rows - len(seen)  # rows dropped
    return lost, misaligned


class RemoteServer:
    """A FakeRerankServer in a child process, so its CPU work does not share our GIL."""

    def __init__(self, **options: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def reset(self) -> None:
        self._ask("reset")

    def stats(self) -> tuple[int, int]:
        return self._ask("stats")

    def __enter__(self) -> RemoteServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._ask("stop")
        self._proc.join(10)


def _serve(conn: Any, options: dict[str, Any]) -> None:
    with FakeRerankServer("cohere", **options) as server:
        conn.send(server.url)
        while True:
            command = conn.recv()
            if command == "reset":
                server.reset()
                conn.send(None)
            elif command == "stats":
                conn.send((server.attempts, server.faults_injected))
            else:
                conn.send(None)
                return


def timed(fn: Callable[[], Any]) -> tuple[float, Any, str]:
    started = time.perf_counter()
    try:
        result, error = fn(), ""
    except rerankit.RerankitError as exc:
        result, error = None, f"{type(exc).__name__}: {str(exc)[:80]}"
    return time.perf_counter() - started, result, error


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    ap.add_argument("--fault-rate", type=float, default=0.2, help="share of requests answered 429/503")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--cache-calls", type=int, default=1000, help="calls in the cache run")
    ap.add_argument("--cache-distinct", type=int, default=200, help="distinct queries they are drawn from")
    ap.add_argument("--cache-docs", type=int, default=20, help="documents per query in the cache run")
    ap.add_argument("--only-cache", action="store_true", help="run only the cache comparison")
    args = ap.parse_args()

    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}; no GPU used")
    if args.only_cache:
        cache_run(args)
        return
    print(f"workload: {args.queries} queries x {args.docs} documents, fake Cohere /v2/rerank on 127.0.0.1, "
          f"{args.latency * 1000:.0f} ms latency per request")
    queries, tables = workload(args.queries, args.docs)
    options = {"api_key": KEY, "max_retries": 8, "backoff_base": 0.02, "backoff_max": 0.2, "timeout": 10.0}
    rows: list[tuple[str, float, int, int, int, int, str]] = []

    def run(label: str, server: RemoteServer, fn: Callable[[Any], Any], is_async: bool = False) -> float:
        reranker = rerankit.get_reranker("cohere", base_url=server.url, **options)
        if is_async:  # warm up and time inside one event loop, as an async application would
            async def go() -> tuple[float, Any, str]:
                await reranker.arerank(queries[0], tables[0])
                server.reset()
                started = time.perf_counter()
                try:
                    result, error = await fn(reranker), ""
                except rerankit.RerankitError as exc:
                    result, error = None, f"{type(exc).__name__}: {str(exc)[:80]}"
                return time.perf_counter() - started, result, error

            seconds, outs, error = asyncio.run(go())
        else:
            reranker.rerank(queries[0], tables[0])  # warm the connection pool
            server.reset()
            seconds, outs, error = timed(lambda: fn(reranker))
        lost, misaligned = audit(queries, tables, outs)
        attempts, faults = server.stats()
        rows.append((label, seconds, attempts, faults, lost, misaligned, error))
        reranker.close()
        return seconds

    def sequential(r: Any) -> list[pa.Table]:
        return [r.rerank_vector(q, t) for q, t in zip(queries, tables, strict=True)]

    with RemoteServer(api_key=KEY, latency=args.latency, max_lifetime=600) as clean:
        base = run("sequential loop (1 call/query)", clean, sequential)
        speed: dict[str, float] = {}
        for c in args.concurrency:
            speed[f"rerank_batch, max_concurrency={c}"] = run(
                f"rerank_batch, max_concurrency={c}", clean,
                lambda r, c=c: r.rerank_batch(queries, tables, max_concurrency=c),
            )
        c = max(args.concurrency)
        speed[f"arerank_batch, max_concurrency={c}"] = run(
            f"arerank_batch, max_concurrency={c}", clean,
            lambda r: r.arerank_batch(queries, tables, max_concurrency=c), is_async=True,
        )

    with RemoteServer(
        api_key=KEY, latency=args.latency, fault_rate=args.fault_rate, fault_statuses=(429, 503),
        fault_headers={"retry-after-ms": "20"}, seed=7, max_lifetime=600,
    ) as faulty:
        faulty_base = run(f"sequential loop, {args.fault_rate:.0%} 429/503", faulty, sequential)
        c = 16 if 16 in args.concurrency else max(args.concurrency)
        faulty_batch = run(
            f"rerank_batch c={c}, {args.fault_rate:.0%} 429/503", faulty,
            lambda r: r.rerank_batch(queries, tables, max_concurrency=c),
        )

    print()
    header = (
        f"{'run':<38} {'seconds':>8} {'vs loop':>8} {'requests':>9} {'faults':>7} {'lost q':>7} "
        f"{'misaligned':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, seconds, attempts, faults, lost, misaligned, error in rows:
        ref = faulty_base if "429/503" in label else base
        ratio = f"{ref / seconds:.1f}x"
        print(
            f"{label:<38} {seconds:>8.2f} {ratio:>8} {attempts:>9} {faults:>7} {lost:>7} {misaligned:>10}"
            + (f"  {error}" if error else "")
        )
    print()
    for label, seconds in speed.items():
        print(f"many queries at once, {label}: {base / seconds:.1f}x the one-call-per-query loop")
    print("  (target >= 8x; with max_concurrency=c at most c requests overlap, so c=8 cannot pass 8x)")
    lost, misaligned = rows[-1][4], rows[-1][5]
    print(
        f"with {args.fault_rate:.0%} injected 429/503: rerank_batch {faulty_base / faulty_batch:.1f}x the "
        f"loop, {lost} lost queries, {misaligned} misaligned rows (target 0 and 0)"
    )
    print()
    cache_run(args)


def cache_run(args: argparse.Namespace) -> None:
    """The score cache's saving: the same 1,000 calls (repeats drawn from 200 queries) without and with it."""
    distinct_q, distinct_t = workload(args.cache_distinct, args.cache_docs, seed=1)
    picks = np.random.default_rng(2).integers(0, args.cache_distinct, size=args.cache_calls)
    print(f"cache run: {args.cache_calls} calls drawn with repeats from {args.cache_distinct} distinct queries "
          f"({len(set(picks.tolist()))} of them drawn) x {args.cache_docs} documents, one call per query, "
          f"{args.latency * 1000:.0f} ms server latency")
    options = {"api_key": KEY, "timeout": 10.0}
    results = {}
    with RemoteServer(api_key=KEY, latency=args.latency, max_lifetime=1200) as server:
        for label, extra in (("no cache", {}), ("cache (memory)", {"cache": {}})):
            reranker = rerankit.get_reranker("cohere", base_url=server.url, **options, **extra)
            reranker.rerank("warm up", ["the connection pool"])
            reranker.usage.reset()
            server.reset()
            started = time.perf_counter()
            for i in picks:
                reranker.rerank_vector(distinct_q[i], distinct_t[i])
            seconds = time.perf_counter() - started
            usage = reranker.usage
            results[label] = (seconds, server.stats()[0], usage.documents, usage.cache_hits)
            reranker.close()
    header = f"{'run':<16} {'seconds':>8} {'requests':>9} {'documents':>10} {'cache hits':>11}"
    print(header)
    print("-" * len(header))
    for label, (seconds, requests, documents, hits) in results.items():
        print(f"{label:<16} {seconds:>8.2f} {requests:>9} {documents:>10} {hits:>11}")
    (t0, r0, d0, _), (t1, r1, d1, _) = results.values()
    print(f"with the cache: {r0 / max(r1, 1):.1f}x fewer requests, {d0 / max(d1, 1):.1f}x fewer documents "
          f"billed, {t0 / t1:.1f}x faster than without")


if __name__ == "__main__":
    main()
