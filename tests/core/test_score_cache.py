"""The ``cache`` option against a fake Cohere server: only misses reach the provider, the key holds
what changes a score, a SQLite file is shared by processes and degrades to misses when it breaks."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import rerankit
from rerankit._scoring.steps import scoring_config
from rerankit.testing import FakeRerankServer, Fault

DOCS = ["apple pie recipe", "pie crust", "banana bread", "apple cider"]


@pytest.fixture(scope="module")
def server():
    with FakeRerankServer("cohere", api_key="k") as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(server):
    server.reset()


def cohere(server, **options):
    return rerankit.get_reranker("cohere", api_key="k", base_url=server.url, max_retries=0, **options)


def test_a_repeated_query_makes_no_second_request(server):
    r = cohere(server, cache={"backend": "memory"})
    first = r.rerank("apple pie", DOCS)
    again = r.rerank("apple pie", DOCS[::-1])  # same texts in another order: all hits
    assert server.attempts == 1
    assert dict(zip(first["text"].to_pylist(), first["_relevance_score"].to_pylist())) == dict(
        zip(again["text"].to_pylist(), again["_relevance_score"].to_pylist())
    )
    assert (r.usage.cache_hits, r.usage.cache_misses, r.usage.requests) == (4, 4, 1)
    # one new text: only it is sent
    r.rerank("apple pie", [*DOCS, "cherry pie"])
    assert server.attempts == 2 and server.seen[-1].body["documents"] == ["cherry pie"]


def test_a_changed_query_option_or_model_is_a_miss(server):
    base = {"cache": {"path": None}}
    r = cohere(server, **base)
    r.rerank("apple pie", DOCS)
    r.rerank("apple", DOCS)  # another query
    assert server.attempts == 2
    # the same options in another reranker with its own memory cache: a miss, so a new request
    cohere(server, **base).rerank("apple pie", DOCS)
    assert server.attempts == 3


def test_the_sqlite_key_holds_model_and_scoring_options_only(server, tmp_path):
    cache = {"path": str(tmp_path / "scores.sqlite")}
    cohere(server, cache=cache).rerank("apple pie", DOCS)
    assert server.attempts == 1
    # options that do not change a score share the entries: timeouts, top_n, column, retries
    cohere(server, cache=cache, timeout=5, top_n=2, max_concurrency=2).rerank("apple pie", DOCS)
    assert server.attempts == 1
    # the model and an option that changes scores do not
    cohere(server, cache=cache, model_name="rerank-v4.0-fast").rerank("apple pie", DOCS)
    cohere(server, cache=cache, max_tokens_per_doc=8).rerank("apple pie", DOCS)
    assert server.attempts == 3
    assert server.seen[-1].body["max_tokens_per_doc"] == 8


def test_a_cached_reranker_sends_no_top_n_so_every_score_is_real(server):
    r = cohere(server, cache={}, top_n=1)
    out = r.rerank("apple pie", DOCS)
    assert out.num_rows == 1 and "top_n" not in server.seen[-1].body
    assert r.rerank("apple pie", DOCS).equals(out) and server.attempts == 1


def test_errors_are_never_cached(server):
    r = cohere(server, cache={})
    server.script(Fault.error(503))
    with pytest.raises(rerankit.ProviderError):
        r.rerank("apple pie", DOCS)
    assert r.rerank("apple pie", DOCS).num_rows == 4
    assert server.attempts == 2
    # a batch whose second query fails stores nothing from the first
    r2 = cohere(server, cache={}, batch_size=2)
    server.reset()
    server.script(Fault(kind="ok"), Fault.error(503))
    with pytest.raises(rerankit.ProviderError):
        r2.rerank_batch(["q1", "q2"], [DOCS[:2], DOCS[2:]])
    r2.rerank_batch(["q1", "q2"], [DOCS[:2], DOCS[2:]])
    assert server.attempts == 4 and r2.usage.cache_hits == 0


def test_ttl_expires_and_max_entries_bounds(server):
    r = cohere(server, cache={"ttl": 0.2, "max_entries": 3})
    r.rerank("apple pie", DOCS[:3])
    r.rerank("apple pie", DOCS[:3])
    assert server.attempts == 1
    time.sleep(0.3)
    r.rerank("apple pie", DOCS[:3])
    assert server.attempts == 2
    r.rerank("apple pie", DOCS[3:])  # a fourth entry pushes out the least recently used
    r.rerank("apple pie", DOCS[:1])
    assert server.attempts == 4


def test_async_calls_use_the_cache(server):
    r = cohere(server, cache={"path": None})

    async def go():
        await r.arerank("apple pie", DOCS)
        return await asyncio.gather(*(r.arerank("apple pie", DOCS) for _ in range(5)))

    outs = asyncio.run(go())
    assert server.attempts == 1 and all(o.num_rows == 4 for o in outs)


def test_two_processes_share_a_sqlite_cache(server, tmp_path):
    path = tmp_path / "shared.sqlite"
    script = textwrap.dedent(f"""
        import rerankit
        r = rerankit.get_reranker("cohere", api_key="k", base_url={server.url!r}, cache={{"path": {str(path)!r}}})
        r.rerank("apple pie", {DOCS!r})
        print(r.usage.requests)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"] and server.attempts == 1
    r = cohere(server, cache={"path": str(path)})
    r.rerank("apple pie", DOCS)
    assert server.attempts == 1 and r.usage.cache_hits == 4


def test_a_broken_cache_file_degrades_to_misses_with_one_warning(server, tmp_path, caplog):
    path = tmp_path / "broken.sqlite"
    r = cohere(server, cache={"path": str(path)})
    r.rerank("apple pie", DOCS)
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):  # overwritten in place, mid-run
        if name.exists():
            name.write_bytes(b"this is not a database" * 2048)
    caplog.set_level(logging.WARNING, logger="rerankit")
    assert r.rerank("apple pie", DOCS).num_rows == 4
    assert r.rerank("apple pie", DOCS).num_rows == 4
    assert server.attempts == 3  # every lookup missed, every rerank succeeded
    warnings = [rec for rec in caplog.records if "score cache" in rec.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()


def test_cache_options_are_validated():
    with pytest.raises(rerankit.ConfigError, match=r"cache.*needs a file"):
        rerankit.get_reranker("cohere", api_key="k", cache={"backend": "sqlite"})
    with pytest.raises(rerankit.ConfigError, match="ttl"):
        rerankit.get_reranker("cohere", api_key="k", cache={"ttl": -1})
    with pytest.raises(rerankit.ConfigError, match=r"unknown option.*size"):
        rerankit.get_reranker("cohere", api_key="k", cache={"size": 3})


def test_no_two_query_text_pairs_share_a_key(server):
    # The key's fields are length-prefixed: moving a NUL-joined piece from the text to the query
    # (or back) makes another key, so the second pair is scored, not answered with the first's score.
    r = cohere(server, cache={"backend": "memory"})
    first = r.rerank("heat\0transfer", ["wing"])
    second = r.rerank("heat", ["transfer\0wing"])
    assert server.attempts == 2 and r.usage.cache_hits == 0
    assert server.seen[-1].body["query"] == "heat" and server.seen[-1].body["documents"] == ["transfer\0wing"]
    assert first["text"].to_pylist() == ["wing"] and second["text"].to_pylist() == ["transfer\0wing"]


def test_a_scorer_is_told_when_every_text_needs_its_own_score():
    # What a step needs of the scorer reaches it through the path, never through the path's options:
    # with a cache, the scorer is asked for every text's own score (so it must not cut to a top k).
    seen: list[bool] = []

    class Told(rerankit.Scorer):
        def score(self, query, texts):
            seen.append(self.every_score_needed())
            return [float(len(t)) for t in texts]

    for cache in (None, {"backend": "memory"}):
        config = scoring_config(rerankit.RerankerConfig)(cache=cache, top_n=1)
        rerankit.ScoringReranker("told", config, Told(config)).rerank("q", ["a", "bb"])
    assert seen == [False, True] and not rerankit.Scorer.every_score_needed()
