"""rerankit-jina against a local server speaking Jina's /v1/rerank wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs


class TestJina(HostedRerankerConformance):
    name = "jina"
    dialect = "jina"
    env_vars = ("JINA_API_KEY",)
    top_n_field = "top_n"
    results_key = "results"


def test_request_body_asks_for_no_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    with FakeRerankServer("jina", api_key=KEY) as server:
        r = rerankit.get_reranker("jina", api_key=KEY, base_url=server.url, top_n=1)
        out = r.rerank("grid", docs(3))
        assert out.num_rows == 1
        seen = server.seen[0]
        assert seen.path == "/v1/rerank" and seen.headers.get("Accept") == "application/json"
        assert seen.body == {
            "model": "jina-reranker-v2-base-multilingual", "query": "grid", "documents": docs(3),
            "return_documents": False, "top_n": 1,
        }


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JINA_API_KEY", "jina-key")
    r = rerankit.get_reranker("jina")
    assert r.config.model_name == "jina-reranker-v2-base-multilingual"
    assert r.scorer.url == "https://api.jina.ai/v1/rerank"


def test_fastapi_validation_detail_becomes_the_message() -> None:
    class Broken(rerankit.get_reranker("jina", api_key=KEY).scorer.__class__):
        def build_request(self, query, texts):
            body = super().build_request(query, texts)
            del body["query"]
            return body

    with FakeRerankServer("jina", api_key=KEY) as server:
        cfg = Broken.Config(api_key=KEY, base_url=server.url)
        with pytest.raises(rerankit.ProviderError) as info:
            rerankit.ScoringReranker("jina-broken", cfg, Broken(cfg)).rerank("q", ["a"])
        assert info.value.status_code == 422 and "body.query: Field required" in str(info.value)
        assert server.attempts == 1


def test_insufficient_balance_402_is_not_retried() -> None:
    with FakeRerankServer("jina", api_key=KEY) as server:
        server.script(Fault.error(402, message="Insufficient balance"))
        with pytest.raises(rerankit.ProviderError) as info:
            rerankit.get_reranker("jina", api_key=KEY, base_url=server.url).rerank("q", ["a", "b"])
        assert type(info.value) is rerankit.ProviderError
        assert info.value.status_code == 402 and "Insufficient balance" in str(info.value)
        assert server.attempts == 1
