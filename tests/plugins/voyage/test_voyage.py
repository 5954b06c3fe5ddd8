"""rerankit-voyage against a local server speaking Voyage's /v1/rerank wire format."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs


class TestVoyage(HostedRerankerConformance):
    name = "voyage"
    dialect = "voyage"
    env_vars = ("VOYAGE_API_KEY",)
    options: ClassVar[dict[str, Any]] = {"model_name": "rerank-2.5"}
    top_n_field = "top_k"
    results_key = "data"


def test_top_n_is_sent_as_top_k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOYAGE_API_KEY", raising=False)
    with FakeRerankServer("voyage", api_key=KEY) as server:
        r = rerankit.get_reranker(
            "voyage", model_name="rerank-2.5-lite", api_key=KEY, base_url=server.url, top_n=2,
            truncation=False,
        )
        assert r.rerank("wind", docs(5)).num_rows == 2
        assert server.seen[0].body == {
            "model": "rerank-2.5-lite", "query": "wind", "documents": docs(5),
            "truncation": False, "return_documents": False, "top_k": 2,
        }


def test_model_name_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", "voyage-key")
    with pytest.raises(rerankit.ConfigError, match="model_name"):
        rerankit.get_reranker("voyage")
    r = rerankit.get_reranker("voyage", model_name="rerank-2")
    assert r.scorer.url == "https://api.voyageai.com/v1/rerank" and r.config.truncation is True


def test_batch_size_cannot_exceed_voyage_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", "voyage-key")
    with pytest.raises(rerankit.ConfigError, match="batch_size"):
        rerankit.get_reranker("voyage", model_name="rerank-2", batch_size=1001)


def test_voyage_detail_message_on_400() -> None:
    with FakeRerankServer("voyage", api_key=KEY, max_documents=3) as server:
        r = rerankit.get_reranker("voyage", model_name="rerank-2", api_key=KEY, base_url=server.url)
        with pytest.raises(rerankit.ProviderError) as info:
            r.rerank("q", docs(4))
        assert info.value.status_code == 400
        assert "The number of documents (4) exceeds the limit of 3." in str(info.value)
        r = rerankit.get_reranker(
            "voyage", model_name="rerank-2", api_key=KEY, base_url=server.url, batch_size=3
        )
        assert r.rerank("q", docs(4)).num_rows == 4


def test_split_by_the_models_token_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Voyage caps query tokens x documents + document tokens per request (600K for rerank-2.x,
    300K for rerank-1); rerankit splits on characters, which are never fewer than those tokens."""
    monkeypatch.delenv("VOYAGE_API_KEY", raising=False)
    big = ["a " * 200_000 + str(i) for i in range(3)]  # 400K characters, 200K words each
    with FakeRerankServer("voyage", api_key=KEY) as server:
        r = rerankit.get_reranker("voyage", model_name="rerank-2.5", api_key=KEY, base_url=server.url)
        assert r.rerank("a", big).num_rows == 3
        assert [len(s.body["documents"]) for s in server.seen] == [1, 1, 1]  # 2 x 400K > 600K
        server.reset()
        r = rerankit.get_reranker("voyage", model_name="rerank-2.5", api_key=KEY, base_url=server.url,
                                  max_request_tokens=10**9)  # a budget above Voyage's: its own 400
        with pytest.raises(rerankit.ProviderError) as info:
            r.rerank("a", big)
        assert info.value.status_code == 400 and server.attempts == 1
        assert "The max allowed tokens per submitted batch is 600000" in str(info.value)


def test_token_budget_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOYAGE_API_KEY", raising=False)
    texts = ["x" * 100_000 + f" {i}" for i in range(7)]  # ~100K characters each
    with FakeRerankServer("voyage", api_key=KEY) as server:
        for model, parts in (("rerank-2", [2, 5]), ("rerank-1", [1, 2, 2, 2]), ("rerank-9-future", [1, 2, 2, 2])):
            server.reset()
            r = rerankit.get_reranker("voyage", model_name=model, api_key=KEY, base_url=server.url)
            assert r.rerank("x", texts).num_rows == 7
            assert sorted(len(s.body["documents"]) for s in server.seen) == parts, model
        server.reset()
        r = rerankit.get_reranker("voyage", model_name="rerank-2", api_key=KEY, base_url=server.url,
                                  max_request_tokens=250_000, batch_size=2)
        r.rerank("x", texts)
        assert sorted(len(s.body["documents"]) for s in server.seen) == [1, 2, 2, 2]
