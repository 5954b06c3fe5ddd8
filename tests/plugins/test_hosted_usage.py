"""One usage record: for every hosted reranker and the remote embedding path, after requests of
every kind (a retried 503, long lists split into parts, many queries, threads, async) to a local
fake of its API, ``reranker.usage`` holds exactly what the fake billed, each answer once.

The oracle is the fake server's own answers (``FakeRerankServer.answers``), read here by where
each provider documents its bill, and the requests the fake received; never rerankit's reading.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import rerankit
from rerankit.testing import EmbeddingsDialect, FakeRerankServer, Fault
from rerankit.testing.chat import ChatDialect, refuse
from rerankit.testing.hosted import KEY, docs
from tests.plugins.openai.fake_llm import FakeJudge, read_prompt

FAST = {"backoff_base": 0.001, "backoff_max": 0.005, "max_concurrency": 2}


def usage_object(answer: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in answer["usage"].items() if isinstance(v, (int, float))}


#: name -> (the fake's dialect, reranker options, where an answer states its bill)
CASES: dict[str, tuple[Callable[[], Any], dict[str, Any], Callable[[Mapping[str, Any]], dict[str, float]]]] = {
    "cohere": (lambda: "cohere", {"batch_size": 3}, lambda a: dict(a["meta"]["billed_units"])),
    "jina": (lambda: "jina", {"batch_size": 3}, usage_object),
    "voyage": (lambda: "voyage", {"batch_size": 3, "model_name": "rerank-2.5"}, usage_object),
    "tei": (lambda: "tei", {"batch_size": 3, "api_key": None}, lambda a: {}),  # TEI bills nothing
    "mixedbread": (lambda: "mixedbread", {"batch_size": 3}, usage_object),
    "pinecone": (lambda: "pinecone", {"batch_size": 3}, usage_object),
    "openai-scores": (lambda: ChatDialect(FakeJudge()), {"window_size": 3}, usage_object),
    "openai-yes_no": (lambda: ChatDialect(FakeJudge()), {"method": "yes_no"}, usage_object),
    "openai-listwise": (lambda: ChatDialect(FakeJudge()), {"method": "listwise", "window_size": 3}, usage_object),
    "embedding": (EmbeddingsDialect, {"batch_size": 3, "model_name": "text-embedding-3-small"}, usage_object),
}


def make(case: str, server: FakeRerankServer) -> Any:
    _, options, _ = CASES[case]
    name = case.split("-")[0]
    base_url = server.url + ("/v1" if name in ("openai", "embedding") else "")
    return rerankit.get_reranker(name, **{"api_key": KEY, "base_url": base_url, **FAST, **options})


def documents_sent(case: str, server: FakeRerankServer, body: Any) -> int:
    if case.startswith("openai"):
        return len(read_prompt(body).documents)
    return len(server.dialect.parse(body)[1])


def billed_by_the_fake(case: str, server: FakeRerankServer) -> dict[str, float]:
    bill: dict[str, float] = {}
    for answer in server.answers:
        for unit, value in CASES[case][2](answer).items():
            bill[unit] = bill.get(unit, 0) + value
    return bill


@pytest.mark.parametrize("case", list(CASES))
async def test_usage_is_what_the_fake_billed_once(case: str) -> None:
    with FakeRerankServer(CASES[case][0](), api_key=None if case == "tei" else KEY) as server:
        r = make(case, server)
        # a 503 is retried: the failed attempt is neither billed nor counted (one request here)
        server.script(Fault.error(503))
        await asyncio.to_thread(r.rerank, "kiwis", docs(1 if case == "openai-yes_no" else 2))
        if case == "openai-scores":  # a refused answer is asked again in halves: billed, counted
            server.script(Fault.change(refuse()))
        await asyncio.to_thread(r.rerank, "apples", docs(7, 1))
        await asyncio.to_thread(r.rerank_batch, ["pears", "plums"], [docs(4, 2), docs(5, 3)])
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            await asyncio.gather(*(
                asyncio.wrap_future(pool.submit(r.rerank, q, docs(6, i))) for i, q in enumerate(["a", "b", "c", "d"])
            ))
        await r.arerank("figs", docs(5, 4))
        await r.arerank_batch(["dates", "limes"], [docs(3, 5), docs(7, 6)])
        await r.aclose()

        answered = server.seen[1:]  # the first attempt got the 503
        assert server.faults_injected >= 1 and len(server.answers) == len(answered) > 10
        usage = r.usage
        assert usage.requests == len(answered)
        assert usage.documents == sum(documents_sent(case, server, s.body) for s in answered)
        bill = billed_by_the_fake(case, server)
        assert usage.billed == bill
        assert (bill != {}) == (case != "tei")
        counters = usage.counters()
        assert {k.removeprefix("billed."): v for k, v in counters.items() if k.startswith("billed.")} == bill


def test_a_fallbacks_bill_reaches_the_primarys_usage_once() -> None:
    with FakeRerankServer("cohere", api_key=KEY) as primary, FakeRerankServer("jina", api_key=KEY) as second:
        jina = {"reranker": "jina", "api_key": KEY, "base_url": second.url, "max_retries": 0}
        r = rerankit.get_reranker("cohere", api_key=KEY, base_url=primary.url, max_retries=0, fallback=[jina])
        r.rerank("apples", docs(3))  # the primary answers
        primary.script(Fault.error(503))
        out = r.rerank("pears", docs(4))  # the primary fails: jina answers
        assert out["_reranker"].to_pylist() == ["jina"] * 4
        r.rerank("plums", docs(2))
        jina_tokens = sum(a["usage"]["total_tokens"] for a in second.answers)
        assert len(second.answers) == 1 and jina_tokens > 0
        usage = r.usage
        assert usage.billed == {"search_units": 2, "total_tokens": jina_tokens}
        assert (usage.requests, usage.documents) == (3, 3 + 4 + 2)
        assert usage.fallbacks == 1 and usage.answered_by == {"cohere": 2, "jina": 1}
        assert usage.counters()["billed.total_tokens"] == jina_tokens  # what /metrics exports


def test_a_fallback_of_a_fallback_bills_each_record_once() -> None:
    servers = [FakeRerankServer(d, api_key=KEY).start() for d in ("cohere", "jina", "voyage")]
    try:
        primary, second, third = servers
        voyage = {"reranker": "voyage", "api_key": KEY, "base_url": third.url, "model_name": "rerank-2.5"}
        jina = {"reranker": "jina", "api_key": KEY, "base_url": second.url, "max_retries": 0, "fallback": [voyage]}
        r = rerankit.get_reranker("cohere", api_key=KEY, base_url=primary.url, max_retries=0, fallback=[jina])
        primary.script(Fault.error(503))
        second.script(Fault.error(503))
        assert r.rerank("apples", docs(3)).num_rows == 3  # voyage answered
        tokens = sum(a["usage"]["total_tokens"] for a in third.answers)
        assert len(third.answers) == 1 and primary.answers == second.answers == []
        assert r.usage.billed == {"total_tokens": tokens} and (r.usage.requests, r.usage.documents) == (1, 3)
    finally:
        for server in servers:
            server.stop()
