"""``reranker.usage``: what the fake servers billed, counted per reranker, thread-safe, resettable,
and printed by ``rerankit rerank --verbose``."""

from __future__ import annotations

import concurrent.futures
import json
import logging

import pytest

import rerankit
from rerankit._cli import main
from rerankit.testing import FakeRerankServer, Fault

DOCS = [f"document number {i} about apples" for i in range(7)]


def words(seen) -> int:
    return sum(len(d.split()) for s in seen for d in s.body["documents"])


@pytest.mark.parametrize(("dialect", "unit"), [("cohere", "search_units"), ("jina", "total_tokens"),
                                               ("voyage", "total_tokens")])
def test_usage_equals_what_the_server_billed(dialect, unit):
    with FakeRerankServer(dialect, api_key="k") as server:
        model = {"voyage": {"model_name": "rerank-2.5"}}.get(dialect, {})
        r = rerankit.get_reranker(dialect, api_key="k", base_url=server.url, batch_size=3, backoff_base=0, **model)
        server.script(Fault.error(503))  # a failed attempt is retried: not billed, not counted
        r.rerank("kiwis", DOCS[:2])
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda q: r.rerank(q, DOCS), ["apples", "pears", "plums", "figs"]))
        answered = server.seen[1:]  # the first attempt got the 503
        assert len(answered) == 1 + 4 * 3  # 7 documents in parts of 3: three requests a query
        expected = len(answered) if unit == "search_units" else words(answered)
        usage = r.usage
        assert usage.requests == 13 and usage.documents == 2 + 4 * len(DOCS)
        assert usage.billed == {unit: expected}
        assert getattr(usage, unit) == expected
        counters = usage.counters()
        assert counters["requests"] == 13 and counters[f"billed.{unit}"] == expected
        usage.reset()
        assert r.usage.requests == 0 and r.usage.billed == {} and getattr(r.usage, unit) == 0


def test_each_reranker_has_its_own_record():
    with FakeRerankServer("cohere", api_key="k") as server:
        a = rerankit.get_reranker("cohere", api_key="k", base_url=server.url)
        b = rerankit.get_reranker("cohere", api_key="k", base_url=server.url)
        a.rerank("q", DOCS)
        assert a.usage.requests == 1 and b.usage.requests == 0


def test_a_local_scorer_counts_cache_hits():
    class Length(rerankit.Scorer):
        def score(self, query, texts):
            return [float(len(t)) for t in texts]

    r = rerankit.ScoringReranker("length", rerankit.RerankerConfig(), Length(rerankit.RerankerConfig()))
    assert r.usage.counters()["requests"] == 0
    with pytest.raises(TypeError, match="no counter"):
        r.usage.add(bogus=1)


def test_verbose_cli_prints_the_usage(tmp_path, capsys):
    with FakeRerankServer("cohere", api_key="k") as server:
        docs = tmp_path / "docs.jsonl"
        docs.write_text("\n".join(json.dumps({"text": d}) for d in DOCS[:3]), encoding="utf-8")
        config = tmp_path / "reranker.json"
        config.write_text(json.dumps({"reranker": "cohere", "api_key": "k", "base_url": server.url}))
        logger = logging.getLogger("rerankit")
        saved = (list(logger.handlers), logger.propagate, logger.level)
        try:  # the CLI sets up its own stderr handler on the rerankit logger
            code = main(["--verbose", "rerank", "--config", str(config), "--query", "apples", "--input", str(docs)])
        finally:
            logger.handlers[:], logger.propagate, _ = saved[0], saved[1], logger.setLevel(saved[2])
    assert code == 0
    err = capsys.readouterr().err
    assert "usage: requests=1 documents=3 billed.search_units=1" in err
