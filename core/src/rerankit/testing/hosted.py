"""A pytest suite every hosted reranker plugin can run against a local fake of its API.

Subclass :class:`HostedRerankerConformance` as ``Test<Provider>`` in the plugin's tests and set the
class attributes; pytest then runs every test below through the public API
(``rerankit.get_reranker(name, ...)``) against :class:`~rerankit.testing.FakeRerankServer`
speaking the provider's wire format. Requires pytest and pytest-asyncio (``asyncio_mode = "auto"``).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Callable
from typing import Any, ClassVar, Optional

import numpy as np
import pyarrow as pa
import pytest

import rerankit
from rerankit.http import safe_headers

from .server import Dialect, FakeRerankServer, Fault, fake_score

KEY = "sk-conformance-7f3a9c21d4e8b6"
WORDS = "solar wind energy panel roof battery grid storage cost install home power".split()


def docs(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct short documents drawn from a small vocabulary."""
    rng = np.random.default_rng(seed)
    return [f"doc{seed}-{i} " + " ".join(rng.choice(WORDS, size=5)) for i in range(n)]


def results_table(texts: list[str], start: int = 0, kind: str = "vector", rowids: Any = None) -> pa.Table:
    """A LanceDB-style result set: ``_rowid``, ``text``, ``tag`` and ``_distance`` or ``_score``."""
    n = len(texts)
    ids = np.arange(start, start + n) if rowids is None else np.asarray(rowids)
    cols: dict[str, Any] = {
        "_rowid": pa.array(ids, pa.uint64()),
        "text": texts,
        "tag": [f"row-{i}" for i in ids],
    }
    if kind == "vector":
        cols["_distance"] = pa.array(np.linspace(0.1, 0.9, n), pa.float32())
    else:
        cols["_score"] = pa.array(np.linspace(9.0, 1.0, n), pa.float32())
    return pa.table(cols)


def assert_aligned(
    query: str, out: pa.Table, source: pa.Table, score: Callable[[str, str], float] = fake_score
) -> None:
    """Every output row is an input row, unchanged, with its own score (``score(query, text)``,
    by default the fake server's :func:`fake_score`), sorted descending."""
    expected = {r["tag"]: r for r in source.to_pylist()}
    rows = out.to_pylist()
    for row in rows:
        original = expected[row["tag"]]
        assert row["text"] == original["text"] and row["_rowid"] == original["_rowid"], row
        assert np.float32(row["_relevance_score"]) == np.float32(score(query, row["text"])), row
    scores = [r["_relevance_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert len({r["tag"] for r in rows}) == len(rows)


class HostedRerankerConformance:
    """Conformance tests for one hosted reranker plugin (see the module docstring)."""

    #: Registered reranker name, e.g. "cohere".
    name: ClassVar[str]
    #: Fake server dialect: a name from ``rerankit.testing.DIALECTS``, or a Dialect subclass (a
    #: fresh instance per test, so tests that change its limits do not leak into others).
    dialect: ClassVar[Any]
    #: Environment variables the plugin reads the key from, in order.
    env_vars: ClassVar[tuple[str, ...]]
    #: Options every reranker in the suite needs besides key and base_url (e.g. a model_name).
    options: ClassVar[dict[str, Any]] = {}
    #: The request field our top_n is sent as (None if never sent).
    top_n_field: ClassVar[Optional[str]] = "top_n"
    #: Where the answer lists results: a key, or None for a bare list.
    results_key: ClassVar[Optional[str]] = "results"
    #: The header carrying the key, and its value with ``{key}`` standing for the key.
    auth_header: ClassVar[tuple[str, str]] = ("Authorization", "Bearer {key}")
    #: False for a server that may run without a key (self-hosted): then a reranker builds
    #: without one and sends no key header, instead of failing with AuthenticationError.
    key_required: ClassVar[bool] = True

    # -- fixtures and helpers ------------------------------------------------------------------
    def expected_score(self, query: str, text: str) -> float:
        """The score the reranker should give ``text`` against the fake server: its
        :func:`fake_score` for a rerank API; a plugin that computes scores from what the server
        answers (embeddings) overrides this with its own computation."""
        return fake_score(query, text)

    @pytest.fixture
    def server(self, monkeypatch: pytest.MonkeyPatch):
        for var in self.env_vars:
            monkeypatch.delenv(var, raising=False)
        dialect = self.dialect if isinstance(self.dialect, (str, Dialect)) else self.dialect()
        with FakeRerankServer(dialect, api_key=KEY, max_lifetime=60) as srv:
            yield srv

    def make(self, server: FakeRerankServer, **options: Any) -> Any:
        config = {
            "base_url": server.url, "api_key": KEY, "timeout": 2.0, "max_retries": 2,
            "backoff_base": 0.001, "backoff_max": 0.005, **self.options, **options,
        }
        return rerankit.get_reranker(self.name, **{k: v for k, v in config.items() if v is not None})

    def _results(self, answer: Any) -> list[dict[str, Any]]:
        return answer if self.results_key is None else answer[self.results_key]

    # -- the happy path, every entry point -----------------------------------------------------
    def test_listed_by_entry_point(self) -> None:
        names = {r.name: r for r in rerankit.list_rerankers()}
        assert names[self.name].status == "ok" and names[self.name].kind == "scorer"

    def test_rerank_scores_every_row(self, server: FakeRerankServer) -> None:
        texts = docs(12)
        out = self.make(server).rerank("solar panel cost", texts)
        assert out.num_rows == 12 and sorted(out["text"].to_pylist()) == sorted(texts)
        for row in out.to_pylist():
            expected = self.expected_score("solar panel cost", row["text"])
            assert np.float32(row["_relevance_score"]) == np.float32(expected)
        assert server.attempts == 1
        seen = server.seen[0]
        name, value = self.auth_header
        assert seen.headers.get(name) == value.format(key=KEY)
        assert seen.body["query"] == "solar panel cost"

    @pytest.mark.parametrize("return_score", ["relevance", "all"])
    @pytest.mark.parametrize("mode", ["sync", "async"])
    async def test_lancedb_entry_points(self, server: FakeRerankServer, return_score: str, mode: str) -> None:
        r = self.make(server, return_score=return_score)
        q = "home battery storage"
        corpus = docs(13, 1)
        vec_ids, fts_ids = list(range(9)), [3, 4, 5, 9, 10, 11, 12]  # rows 3..5 found by both
        vec = results_table([corpus[i] for i in vec_ids], kind="vector", rowids=vec_ids)
        fts = results_table([corpus[i] for i in fts_ids], kind="fts", rowids=fts_ids)

        async def call(method: str, *args: Any, **kwargs: Any) -> pa.Table:
            if mode == "sync":
                return getattr(r, method)(*args, **kwargs)
            return await getattr(r, "a" + method)(*args, **kwargs)

        out = await call("rerank_vector", q, vec)
        assert_aligned(q, out, vec, self.expected_score)
        assert ("_distance" in out.column_names) == (return_score == "all")
        out = await call("rerank_fts", q, fts)
        assert_aligned(q, out, fts, self.expected_score)
        assert ("_score" in out.column_names) == (return_score == "all")
        out = await call("rerank_hybrid", q, vec, fts)
        union = pa.concat_tables([vec, fts.slice(3)], promote_options="default")
        assert out.num_rows == 13
        assert_aligned(q, out, union, self.expected_score)
        if return_score == "all":
            both = {row["tag"]: row for row in out.to_pylist()}
            assert both["row-3"]["_distance"] is not None and both["row-3"]["_score"] is not None
            assert both["row-0"]["_score"] is None and both["row-12"]["_distance"] is None
        else:
            assert "_distance" not in out.column_names and "_score" not in out.column_names
        second = results_table(docs(5, 3), 100, "vector")
        out = await call("rerank_multivector", [vec, second], query=q)
        assert out.num_rows == 14
        assert_aligned(q, out, pa.concat_tables([vec, second]), self.expected_score)
        if mode == "async":
            await r.aclose()

    @pytest.mark.parametrize("mode", ["sync", "async"])
    async def test_rerank_batch(self, server: FakeRerankServer, mode: str) -> None:
        server.latency = 0.05  # answers overlap, so the concurrency bound is visible
        r = self.make(server, batch_size=4)
        queries = [f"{WORDS[i % len(WORDS)]} {WORDS[(3 * i) % len(WORDS)]}" for i in range(15)]
        sets = [results_table(docs(3 + i % 7, 10 + i), 1000 * i) for i in range(15)]
        if mode == "sync":
            outs = r.rerank_batch(queries, sets, max_concurrency=3)
        else:
            outs = await r.arerank_batch(queries, sets, max_concurrency=3)
            await r.aclose()
        assert len(outs) == 15
        for q, out, source in zip(queries, outs, sets, strict=True):
            assert out.num_rows == source.num_rows
            assert_aligned(q, out, source, self.expected_score)
        assert server.attempts == sum(-(-s.num_rows // 4) for s in sets)
        assert 1 < server.max_in_flight <= 3

    def test_sync_call_inside_running_event_loop(self, server: FakeRerankServer) -> None:
        async def main() -> pa.Table:
            return self.make(server).rerank("grid power", docs(5))

        assert asyncio.run(main()).num_rows == 5

    # -- keys ----------------------------------------------------------------------------------
    def test_wrong_key_is_authentication_error(self, server: FakeRerankServer) -> None:
        with pytest.raises(rerankit.AuthenticationError) as info:
            self.make(server, api_key="wrong-key-123").rerank("q", docs(3))
        assert info.value.status_code == 401 and info.value.provider == self.name
        assert server.attempts == 1

    def test_key_from_environment(self, server: FakeRerankServer, monkeypatch: pytest.MonkeyPatch) -> None:
        for var in self.env_vars:
            monkeypatch.setenv(var, "env-key-not-accepted")
        with pytest.raises(rerankit.AuthenticationError):
            self.make(server, api_key=None).rerank("q", docs(2))
        monkeypatch.setenv(self.env_vars[0], KEY)
        assert self.make(server, api_key=None).rerank("q", docs(2)).num_rows == 2
        monkeypatch.setenv(self.env_vars[0], "env-key-not-accepted")
        assert self.make(server).rerank("q", docs(2)).num_rows == 2  # the argument wins

    def test_missing_key_names_the_variable(self, server: FakeRerankServer) -> None:
        if not self.key_required:  # a self-hosted server: no key is fine, and none is sent
            server.api_key = None
            assert self.make(server, api_key=None).rerank("q", docs(2)).num_rows == 2
            sent = {k.lower() for k in server.seen[0].headers}
            assert self.auth_header[0].lower() not in sent
            return
        with pytest.raises(rerankit.AuthenticationError) as info:
            rerankit.get_reranker(self.name, **self.options)
        for var in self.env_vars:
            assert var in str(info.value)

    def test_key_never_leaks(
        self, server: FakeRerankServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        caplog.set_level(logging.DEBUG)
        r = self.make(server)
        server.script(
            Fault.error(503), Fault.error(401, message=f"key {KEY} is not valid")  # a provider echoing it
        )
        with pytest.raises(rerankit.AuthenticationError) as info:
            r.rerank("q", docs(3))
        server.script(*[Fault.error(429, headers={"retry-after": "0"})] * 3)
        with pytest.raises(rerankit.RateLimitError) as limited:
            r.rerank("q", docs(3))
        assert any(rec.name == "rerankit" and "retrying" in rec.getMessage() for rec in caplog.records)
        name, value = self.auth_header
        assert f"{name!r}: {safe_headers({name: value.format(key=KEY)})[name]!r}" in caplog.text
        for err in (info.value, limited.value):
            assert KEY not in str(err) and KEY not in repr(err)
            assert KEY.encode() not in pickle.dumps(err)
        dumped = r.config.model_dump()
        assert KEY not in str(dumped) and KEY not in r.config.model_dump_json() and KEY not in repr(r.config)
        assert KEY not in repr(r) and KEY not in repr(r.scorer) and KEY not in str(r)
        monkeypatch.setenv(self.env_vars[0], KEY)
        blob = pickle.dumps(r)
        assert KEY.encode() not in blob
        again = pickle.loads(blob)  # rebuilt by name and config; the key re-read from the environment
        assert again.rerank("solar", docs(3)).num_rows == 3
        assert KEY not in caplog.text

    # -- retries -------------------------------------------------------------------------------
    def test_429_honours_retry_after(self, server: FakeRerankServer) -> None:
        server.script(Fault.error(429, headers={"retry-after-ms": "150"}))
        out = self.make(server).rerank("wind energy", docs(4))
        assert out.num_rows == 4 and server.attempts == 2
        assert server.seen[1].at - server.seen[0].at >= 0.14

    def test_429_until_retries_run_out(self, server: FakeRerankServer) -> None:
        server.script(*[Fault.error(429, message="too many requests", headers={"retry-after": "0"})] * 5)
        with pytest.raises(rerankit.RateLimitError) as info:
            self.make(server, max_retries=3).rerank("q", docs(4))
        assert server.attempts == 4 and info.value.status_code == 429
        assert "too many requests" in str(info.value)

    def test_503_is_retried(self, server: FakeRerankServer) -> None:
        server.script(Fault.error(503), Fault.error(503))
        assert self.make(server).rerank("q", docs(4)).num_rows == 4
        assert server.attempts == 3
        server.reset()
        server.script(*[Fault.error(503, message="overloaded")] * 3)
        with pytest.raises(rerankit.ProviderError) as info:
            self.make(server).rerank("q", docs(4))
        assert info.value.status_code == 503 and "overloaded" in str(info.value) and server.attempts == 3

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
    def test_client_errors_are_not_retried(self, server: FakeRerankServer, status: int) -> None:
        server.script(Fault.error(status, message=f"provider says no ({status})"))
        expected = rerankit.AuthenticationError if status in (401, 403) else rerankit.ProviderError
        with pytest.raises(expected) as info:
            self.make(server).rerank("q", docs(3))
        assert server.attempts == 1
        assert info.value.status_code == status and f"provider says no ({status})" in str(info.value)

    def test_slow_answer_times_out(self, server: FakeRerankServer) -> None:
        server.script(Fault.slow(0.6))
        assert self.make(server, timeout=0.2).rerank("q", docs(3)).num_rows == 3
        assert server.attempts == 2
        server.reset()
        server.script(*[Fault.slow(0.6)] * 3)
        with pytest.raises(rerankit.ProviderTimeoutError) as info:
            self.make(server, timeout=0.2).rerank("q", docs(3))
        assert "timed out" in str(info.value) and server.attempts == 3
        assert info.value.status_code is None and info.value.provider

    def test_dropped_connection_is_retried(self, server: FakeRerankServer) -> None:
        server.script(Fault.drop())
        assert self.make(server).rerank("q", docs(3)).num_rows == 3
        assert server.attempts == 2
        server.reset()
        server.script(*[Fault.drop()] * 3)
        with pytest.raises(rerankit.ProviderConnectionError) as info:
            self.make(server).rerank("q", docs(3))
        assert server.attempts == 3 and info.value.status_code is None

    # -- bad answers ---------------------------------------------------------------------------
    def test_malformed_json(self, server: FakeRerankServer) -> None:
        server.script(Fault.raw(b'{"results": [{"index": 0, '))
        with pytest.raises(rerankit.ProviderResponseError):
            self.make(server).rerank("q", docs(3))
        assert server.attempts == 1

    @pytest.mark.parametrize(
        "defect", ["missing", "duplicate", "out_of_range", "nan", "string_score", "shape"]
    )
    def test_bad_rankings_are_rejected(self, server: FakeRerankServer, defect: str) -> None:
        def mutate(answer: Any) -> Any:
            rows = self._results(answer)
            if defect == "missing":
                rows.pop()
            elif defect == "duplicate":
                rows[-1]["index"] = rows[0]["index"]
            elif defect == "out_of_range":
                rows[0]["index"] = 99
            elif defect == "nan":
                rows[1][self._score_key(rows[1])] = float("nan")
            elif defect == "string_score":
                rows[1][self._score_key(rows[1])] = "0.5"
            else:
                return {"unexpected": True}
            return answer

        server.script(Fault.change(mutate))
        with pytest.raises(rerankit.ProviderResponseError) as info:
            self.make(server).rerank("q", docs(5))
        assert info.value.provider == self.name and server.attempts == 1

    @staticmethod
    def _score_key(row: dict[str, Any]) -> str:
        return "relevance_score" if "relevance_score" in row else "score"

    # -- top_n and splitting -------------------------------------------------------------------
    def test_top_n_truncation(self, server: FakeRerankServer) -> None:
        texts = docs(10, 7)
        q = "storage cost"
        best = sorted(texts, key=lambda t: -self.expected_score(q, t))[:3]
        out = self.make(server, top_n=3).rerank(q, texts)
        assert out["text"].to_pylist() == best
        assert server.attempts == 1
        if self.top_n_field:
            assert server.seen[0].body[self.top_n_field] == 3
        server.reset()
        out = self.make(server, top_n=3, batch_size=4).rerank(q, texts)  # 4 + 4 + 2, each cut to 3
        assert out["text"].to_pylist() == best and server.attempts == 3
        scores = self.make(server, top_n=3).scorer.score(q, texts)  # rows not returned stay, ranked last
        assert len(scores) == 10 and sorted(np.argsort(scores)[-3:].tolist()) == sorted(
            texts.index(t) for t in best
        )

    @staticmethod
    def _sizes(server: FakeRerankServer) -> list[int]:
        """Documents per request the server saw (the first list in each body)."""
        return [next(len(v) for v in s.body.values() if isinstance(v, list)) for s in server.seen]

    def test_fewer_rows_than_top_n_is_an_error(self, server: FakeRerankServer) -> None:
        server.script(Fault.change(lambda a: (self._results(a).pop(), a)[1]))
        with pytest.raises(rerankit.ProviderResponseError):
            self.make(server, top_n=3).rerank("q", docs(10))

    def test_split_above_the_request_limit(self, server: FakeRerankServer) -> None:
        server.dialect.max_documents = 5
        texts = docs(23, 4)
        q = "solar roof install"
        out = self.make(server, batch_size=5, max_concurrency=3).rerank(q, texts)
        assert out.num_rows == 23 and server.attempts == 5
        assert sorted(self._sizes(server)) == [3, 5, 5, 5, 5]
        assert sorted(out["text"].to_pylist()) == sorted(texts)
        for row in out.to_pylist():
            assert np.float32(row["_relevance_score"]) == np.float32(self.expected_score(q, row["text"]))
        server.reset()
        with pytest.raises(rerankit.ProviderError) as info:  # a limit set above the server's: its own 4xx
            self.make(server, batch_size=50).rerank(q, texts)
        assert 400 <= (info.value.status_code or 0) < 500 and server.attempts == 1

    def test_one_failed_part_fails_the_call(self, server: FakeRerankServer) -> None:
        server.script(Fault.error(400, message="bad part"))
        with pytest.raises(rerankit.ProviderError, match="bad part"):
            self.make(server, batch_size=3).rerank("q", docs(9))


__all__ = ["KEY", "HostedRerankerConformance", "assert_aligned", "docs", "results_table"]
