"""The shared HTTP layer through two hosted scorers defined here, as a third party would write them.

``Acme`` speaks Cohere's wire format; ``TEI`` speaks text-embeddings-inference's (``texts``, a bare
array answer, ``{"error", "error_type"}`` bodies, no top-k field, no key). Both are only a config
plus ``build_request`` and ``parse_response``; everything tested here comes from rerankit.http.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import Field

import rerankit
from rerankit.http import HTTPConfig, HTTPScorer, ranked
from rerankit.testing import FakeRerankServer, Fault, fake_score

KEY = "sk-acme-5b1e0c77aa"


class AcmeConfig(HTTPConfig):
    model_name: str = "acme-rerank-1"
    base_url: str = "https://api.acme.invalid"


class AcmeScorer(HTTPScorer):
    Config = AcmeConfig
    provider = "acme"
    path = "/v2/rerank"
    api_key_env = ("ACME_API_KEY",)

    def build_request(self, query, texts):
        return {"model": self.config.model_name, "query": query, "documents": texts}

    def parse_response(self, data):
        return ranked(data, "results")


class TEIConfig(HTTPConfig):
    model_name: str = "BAAI/bge-reranker-base"
    base_url: str = "http://127.0.0.1:8080"
    batch_size: int = Field(32, ge=1)


class TEIScorer(HTTPScorer):
    Config = TEIConfig
    provider = "tei"
    path = "/rerank"
    top_n_field = None

    def build_request(self, query, texts):
        return {"query": query, "texts": texts, "raw_scores": False}

    def parse_response(self, data):
        return ranked(data, None, score_key="score")


FAST = {"backoff_base": 0.001, "backoff_max": 0.005, "timeout": 2.0}


def acme(server: FakeRerankServer, **options: Any) -> rerankit.ScoringReranker:
    cfg = AcmeConfig(**{"base_url": server.url, "api_key": KEY, **FAST, **options})
    return rerankit.ScoringReranker("acme", cfg, AcmeScorer(cfg))


def tei(server: FakeRerankServer, **options: Any) -> rerankit.ScoringReranker:
    cfg = TEIConfig(**{"base_url": server.url, **FAST, **options})
    return rerankit.ScoringReranker("tei", cfg, TEIScorer(cfg))


@pytest.fixture
def cohere_like(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRerankServer]:
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    with FakeRerankServer("cohere", api_key=KEY, max_lifetime=60) as server:
        yield server


@pytest.fixture
def tei_server() -> Iterator[FakeRerankServer]:
    with FakeRerankServer("tei", api_key=None, max_lifetime=60) as server:
        yield server


def texts(n: int, tag: str = "") -> list[str]:
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    return [f"{tag}{i} " + " ".join(words[(i * k) % len(words)] for k in (1, 3, 5)) for i in range(n)]


def check_scores(query: str, out: Any) -> None:
    for row in out.to_pylist():
        assert np.float32(row["_relevance_score"]) == np.float32(fake_score(query, row["text"])), row


# -- import weight -----------------------------------------------------------------------------
def test_importing_rerankit_and_plugins_does_not_import_httpx() -> None:
    code = textwrap.dedent(
        """
        import sys
        import rerankit, rerankit.http
        rerankit.list_rerankers()              # loads every installed plugin, hosted ones included
        assert "httpx" not in sys.modules and "tenacity" not in sys.modules, "imported too early"
        from rerankit.testing import FakeRerankServer
        from rerankit.http import HTTPConfig, HTTPScorer, ranked

        class C(HTTPConfig):
            model_name: str = "m"
            base_url: str = "http://x"

        class S(HTTPScorer):
            Config = C
            path = "/rerank"
            def build_request(self, q, t): return {"query": q, "texts": t}
            def parse_response(self, d): return ranked(d, None, score_key="score")

        with FakeRerankServer("tei", api_key=None) as server:
            cfg = C(base_url=server.url)
            scorer = S(cfg)
            assert "httpx" not in sys.modules
            assert len(scorer.score("q", ["a", "b"])) == 2
        assert "httpx" in sys.modules and "tenacity" in sys.modules
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- requests and answers ------------------------------------------------------------------------
def test_scores_align_with_rows(cohere_like: FakeRerankServer) -> None:
    docs = texts(9)
    out = acme(cohere_like).rerank("beta zeta", docs)
    assert sorted(out["text"].to_pylist()) == sorted(docs)
    check_scores("beta zeta", out)
    seen = cohere_like.seen[0]
    assert seen.body == {"model": "acme-rerank-1", "query": "beta zeta", "documents": docs}
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.headers["User-Agent"].startswith("rerankit/")


def test_bare_array_answers_and_no_key_for_a_self_hosted_server(tei_server: FakeRerankServer) -> None:
    out = tei(tei_server, top_n=3).rerank("gamma", texts(10))
    assert out.num_rows == 3
    check_scores("gamma", out)
    body = tei_server.seen[0].body
    assert "top_n" not in body and len(body["texts"]) == 10  # no top-k field: every row is scored
    assert "Authorization" not in tei_server.seen[0].headers


def test_error_and_error_type_body(tei_server: FakeRerankServer) -> None:
    with pytest.raises(rerankit.ProviderError) as info:
        tei(tei_server, batch_size=40).rerank("q", texts(40))
    assert info.value.status_code == 422
    assert "batch size 40 > maximum allowed batch size 32 (Validation)" in str(info.value)
    assert tei_server.attempts == 1
    assert tei(tei_server).rerank("q", texts(40)).num_rows == 40  # default batch_size 32: split in two
    assert sorted(len(s.body["texts"]) for s in tei_server.seen[1:]) == [8, 32]


def test_key_lookup(cohere_like: FakeRerankServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(rerankit.AuthenticationError, match="ACME_API_KEY"):
        AcmeScorer(AcmeConfig())  # the provider's own URL and no key anywhere
    monkeypatch.setenv("ACME_API_KEY", KEY)
    cfg = AcmeConfig(base_url=cohere_like.url, **FAST)
    assert len(AcmeScorer(cfg).score("q", ["a"])) == 1
    assert cohere_like.seen[-1].headers["Authorization"] == f"Bearer {KEY}"
    cfg = AcmeConfig(base_url=cohere_like.url, api_key="argument-key", **FAST)
    with pytest.raises(rerankit.AuthenticationError):  # the argument wins over the environment
        AcmeScorer(cfg).score("q", ["a"])
    assert cohere_like.seen[-1].headers["Authorization"] == "Bearer argument-key"


# -- retries ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retried_statuses(cohere_like: FakeRerankServer, status: int) -> None:
    cohere_like.script(Fault.error(status))
    assert acme(cohere_like).rerank("q", texts(3)).num_rows == 3
    assert cohere_like.attempts == 2


def test_retry_after_http_date(cohere_like: FakeRerankServer) -> None:
    import email.utils

    r = acme(cohere_like)
    r.rerank("q", texts(3))  # the pool is open, so the next request goes out at once
    cohere_like.reset()
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s from now
    cohere_like.script(Fault.error(429, headers={"Retry-After": when}))
    assert r.rerank("q", texts(3)).num_rows == 3
    assert cohere_like.attempts == 2
    assert cohere_like.seen[1].at - cohere_like.seen[0].at >= 0.8  # backoff alone would be ~1 ms


def test_backoff_grows_without_retry_after(cohere_like: FakeRerankServer) -> None:
    cohere_like.script(*[Fault.error(503)] * 3)
    r = acme(cohere_like, backoff_base=0.05, backoff_max=1.0, max_retries=3)
    assert r.rerank("q", texts(2)).num_rows == 2
    at = [s.at for s in cohere_like.seen]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    # equal jitter: retry n waits between half and all of base * 2**(n-1)
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.05 * 2 ** (n - 1) / 2


def test_deadline_stops_a_long_retry_after(cohere_like: FakeRerankServer) -> None:
    cohere_like.script(Fault.error(429, message="slow down", headers={"retry-after": "30"}))
    with pytest.raises(rerankit.RateLimitError) as info:
        acme(cohere_like, deadline=1.0, max_retries=5).rerank("q", texts(3))
    assert cohere_like.attempts == 1
    assert "deadline" in str(info.value) and "slow down" in str(info.value)


def test_deadline_bounds_slow_attempts(cohere_like: FakeRerankServer) -> None:
    cohere_like.script(*[Fault.slow(3.0)] * 10)
    with pytest.raises(rerankit.ProviderTimeoutError, match="timed out") as info:
        acme(cohere_like, timeout=5.0, deadline=0.5, max_retries=10).rerank("q", texts(3))
    assert "no response within 0.5s" in str(info.value)  # the attempt's timeout is cut to the deadline
    assert cohere_like.attempts == 1


def test_unreachable_server_is_a_provider_error(cohere_like: FakeRerankServer) -> None:
    url = cohere_like.url
    cohere_like.stop()
    cfg = AcmeConfig(base_url=url, api_key=KEY, max_retries=1, **FAST)
    with pytest.raises(rerankit.ProviderConnectionError) as info:
        AcmeScorer(cfg).score("q", ["a"])
    assert "after 2 attempts" in str(info.value) and info.value.status_code is None
    assert "check base_url" in str(info.value)


def test_retries_are_logged_under_rerankit(
    cohere_like: FakeRerankServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rerankit")
    cohere_like.script(Fault.error(503, message="busy"), Fault.drop())
    acme(cohere_like).rerank("q", texts(2))
    retries = [r for r in caplog.records if r.name == "rerankit" and "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "HTTP 503: busy" in retries[0].getMessage() and "attempt 1 of 4" in retries[0].getMessage()
    requests = [r for r in caplog.records if r.name == "rerankit" and "POST" in r.getMessage()]
    assert len(requests) == 3 and all("Bearer ***" in r.getMessage() for r in requests)
    assert KEY not in caplog.text


# -- top_n, splitting, concurrency -----------------------------------------------------------------
def test_top_n_across_parts_keeps_the_global_best(cohere_like: FakeRerankServer) -> None:
    docs = texts(25)
    q = "alpha delta"
    best = sorted(docs, key=lambda t: -fake_score(q, t))[:4]
    out = acme(cohere_like, top_n=4, batch_size=6).rerank(q, docs)
    assert out["text"].to_pylist() == best
    sent = sorted((len(s.body["documents"]), s.body.get("top_n")) for s in cohere_like.seen)
    assert sent == [(1, None), (6, 4), (6, 4), (6, 4), (6, 4)]


def test_unreturned_rows_rank_last_in_input_order(cohere_like: FakeRerankServer) -> None:
    docs = texts(8)
    scores = acme(cohere_like, top_n=2).scorer.score("beta", docs)
    order = np.argsort(-np.asarray(scores), kind="stable")
    returned = sorted(range(8), key=lambda i: -fake_score("beta", docs[i]))[:2]
    assert order[:2].tolist() == returned
    assert order[2:].tolist() == sorted(set(range(8)) - set(returned))
    assert max(scores[i] for i in order[2:]) < min(scores[i] for i in returned)


def test_split_parts_run_concurrently_within_the_bound(cohere_like: FakeRerankServer) -> None:
    cohere_like.latency = 0.1
    out = acme(cohere_like, batch_size=2, max_concurrency=3).rerank("eta", texts(14))
    assert out.num_rows == 14 and cohere_like.attempts == 7
    assert cohere_like.max_in_flight == 3
    check_scores("eta", out)


def test_batch_with_a_bad_query_fails_whole(cohere_like: FakeRerankServer) -> None:
    results = [texts(4, "a"), ["fine", " "], texts(3, "c")]  # Cohere refuses an empty document
    with pytest.raises(rerankit.ProviderError, match="document at index 1 cannot be empty"):
        acme(cohere_like).rerank_batch(["q1", "q2", "q3"], results)


def test_batch_handles_empty_result_sets(cohere_like: FakeRerankServer) -> None:
    outs = acme(cohere_like).rerank_batch(["q1", "q2"], [[], texts(3)])
    assert [o.num_rows for o in outs] == [0, 3]
    assert cohere_like.attempts == 1


# -- async -----------------------------------------------------------------------------------------
async def test_async_retries_and_concurrency(cohere_like: FakeRerankServer) -> None:
    cohere_like.latency = 0.05
    cohere_like.script(Fault.error(429, headers={"retry-after-ms": "20"}), Fault.drop())
    r = acme(cohere_like, batch_size=3, max_concurrency=2)
    out = await r.arerank("theta alpha", texts(12))
    check_scores("theta alpha", out)
    assert cohere_like.attempts == 6 and cohere_like.max_in_flight == 2
    outs = await r.arerank_batch(["alpha", "beta"], [texts(5), texts(7)], max_concurrency=4)
    for q, o in zip(["alpha", "beta"], outs, strict=True):
        check_scores(q, o)
    await r.aclose()


def test_async_client_per_event_loop(cohere_like: FakeRerankServer) -> None:
    r = acme(cohere_like)
    for _ in range(3):  # each asyncio.run is a new loop; pooled connections must not leak across
        assert asyncio.run(r.arerank("q", texts(3))).num_rows == 3
    r.close()
    assert r.rerank("q", texts(3)).num_rows == 3  # a closed scorer reopens its pool


def test_env_key_is_reread_on_unpickling_a_registered_reranker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CO_API_KEY", KEY)
    env = dict(os.environ)
    env.pop("RERANKIT_PLUGINS", None)
    with FakeRerankServer("cohere", api_key=KEY) as server:
        import pickle

        r = rerankit.get_reranker("cohere", base_url=server.url, top_n=2)
        blob = pickle.dumps(r)
        assert KEY.encode() not in blob
        code = (
            "import json, pickle, sys; r = pickle.loads(sys.stdin.buffer.read()); "
            "out = r.rerank('alpha', ['alpha one', 'beta two', 'alpha three']); "
            "print(json.dumps(out['text'].to_pylist()))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], input=blob, capture_output=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        assert json.loads(done.stdout) == sorted(
            ["alpha one", "beta two", "alpha three"], key=lambda t: -fake_score("alpha", t)
        )[:2]


# -- asking again after a bad answer (split_bad_answers) and per-request reading -----------------
class SplittingScorer(AcmeScorer):
    """Acme, for an API whose answers can be wrong in ways worth asking again (an LLM's)."""

    split_bad_answers = True
    seen_sizes: list[int]

    def read_answer(self, data, texts):
        self.seen_sizes.append(len(texts))  # the hook sees the documents each request carried
        return super().read_answer(data, texts)


def splitting(server: FakeRerankServer, **options: Any) -> rerankit.ScoringReranker:
    cfg = AcmeConfig(**{"base_url": server.url, "api_key": KEY, **FAST, **options})
    scorer = SplittingScorer(cfg)
    scorer.seen_sizes = []
    return rerankit.ScoringReranker("acme", cfg, scorer)


def drop_last(answer: Any) -> Any:
    answer["results"].pop()
    return answer


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_bad_answer_is_asked_again_in_halves(
    cohere_like: FakeRerankServer, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.WARNING, logger="rerankit")
    r = splitting(cohere_like, batch_size=5, max_concurrency=1)  # requests arrive in order
    docs = texts(13)
    cohere_like.script(Fault.change(lambda a: a), Fault.change(drop_last))  # the 2nd request answers 4 of 5
    out = r.rerank("beta", docs) if mode == "sync" else await r.arerank("beta", docs)
    assert out.num_rows == 13
    check_scores("beta", out)
    sizes = [len(s.body["documents"]) for s in cohere_like.seen]
    assert sorted(sizes) == [2, 3, 3, 5, 5]  # 5 + 5(bad) + 3, then the bad one as 3 + 2
    assert sorted(r.scorer.seen_sizes) == [2, 3, 3, 5, 5]
    asked_again = sorted(s.body["documents"] for s in cohere_like.seen[2:4])  # right after the bad one
    assert asked_again == sorted([docs[5:8], docs[8:10]])
    assert "documents 5-9 of query 0" in caplog.text and "asking again in 2 requests" in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_wrong_twice_names_the_documents_and_both_problems(cohere_like: FakeRerankServer, mode: str) -> None:
    r = splitting(cohere_like, batch_size=4)
    dup = Fault.change(lambda a: (a["results"][-1].update(index=a["results"][0]["index"]), a)[1])
    cohere_like.script(Fault.change(drop_last), dup, Fault.change(lambda a: a))
    with pytest.raises(rerankit.ProviderResponseError) as info:
        r.rerank("beta", texts(4)) if mode == "sync" else await r.arerank("beta", texts(4))
    message = str(info.value)
    assert "3 results for 4 documents" in message and "(documents 0-3 of query 0)" in message
    assert "split in half" in message and "is ranked more than once" in message
    assert info.value.provider == "acme"
    assert cohere_like.attempts in (2, 3)  # the second half may be cut short by the first one failing


def test_a_single_document_is_asked_again_as_is(cohere_like: FakeRerankServer) -> None:
    r = splitting(cohere_like)
    cohere_like.script(Fault.change(drop_last))
    assert r.rerank("beta", texts(1)).num_rows == 1 and cohere_like.attempts == 2
    cohere_like.reset()
    cohere_like.script(Fault.change(drop_last), Fault.change(drop_last))
    with pytest.raises(rerankit.ProviderResponseError, match=r"asked again as is, the answer for document 0 "):
        r.rerank("beta", texts(1))


def test_without_split_bad_answers_a_bad_answer_fails_at_once(cohere_like: FakeRerankServer) -> None:
    cohere_like.script(Fault.change(drop_last))
    with pytest.raises(rerankit.ProviderResponseError):
        acme(cohere_like).rerank("beta", texts(4))
    assert cohere_like.attempts == 1


def test_split_sizes_and_caller_context_in_worker_threads(cohere_like: FakeRerankServer) -> None:
    import contextvars

    current: contextvars.ContextVar[list] = contextvars.ContextVar("current")

    class Windowed(AcmeScorer):
        def split(self, query, texts):
            return [3, 3, 2]  # not the config's batch_size

        def read_answer(self, data, texts):
            current.get().append(len(texts))  # set by the caller, read on a worker thread
            return super().read_answer(data, texts)

    cfg = AcmeConfig(base_url=cohere_like.url, api_key=KEY, **FAST)
    scorer = Windowed(cfg)
    sizes: list[int] = []
    current.set(sizes)
    assert len(scorer.score("beta", texts(8))) == 8
    assert sorted(sizes) == [2, 3, 3] and cohere_like.attempts == 3
def test_api_key_env_and_path_options(cohere_like: FakeRerankServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTHER_VENDOR_KEY", raising=False)
    monkeypatch.setenv("ACME_API_KEY", "not-this-one")
    with pytest.raises(rerankit.AuthenticationError, match="OTHER_VENDOR_KEY"):
        acme(cohere_like, api_key=None, api_key_env="OTHER_VENDOR_KEY")  # named, so required even off-default
    monkeypatch.setenv("OTHER_VENDOR_KEY", KEY)
    assert acme(cohere_like, api_key=None, api_key_env="OTHER_VENDOR_KEY").rerank("q", texts(2)).num_rows == 2
    assert cohere_like.seen[-1].headers["Authorization"] == f"Bearer {KEY}"
    with pytest.raises(rerankit.ProviderError) as info:  # the fake serves /v2/rerank only
        acme(cohere_like, path="/rerank").rerank("q", texts(2))
    assert info.value.status_code == 404 and cohere_like.seen[-1].path == "/rerank"
def test_a_split_that_loses_texts_is_refused(cohere_like: FakeRerankServer) -> None:
    class Lossy(AcmeScorer):
        def split(self, query, texts):
            return [len(texts) - 1]
    cfg = AcmeConfig(base_url=cohere_like.url, api_key=KEY)
    with pytest.raises(ValueError, match="must be positive and add up to the number of texts"):
        Lossy(cfg).score("q", texts(3))
    assert cohere_like.attempts == 0
