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
