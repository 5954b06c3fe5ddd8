"""rerankit-cohere against a local server speaking Cohere's /v2/rerank wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs


class TestCohere(HostedRerankerConformance):
    name = "cohere"
    dialect = "cohere"
    env_vars = ("CO_API_KEY", "COHERE_API_KEY")
    top_n_field = "top_n"
    results_key = "results"


def test_request_body_is_cohere_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    with FakeRerankServer("cohere", api_key=KEY) as server:
        r = rerankit.get_reranker("cohere", api_key=KEY, base_url=server.url, top_n=2, max_tokens_per_doc=512)
        r.rerank("solar", docs(4))
        body = server.seen[0].body
        assert server.seen[0].path == "/v2/rerank"
        assert body == {
            "model": "rerank-v3.5", "query": "solar", "documents": docs(4),
            "max_tokens_per_doc": 512, "top_n": 2,
        }


def test_defaults_and_key_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CO_API_KEY", "first")
    monkeypatch.setenv("COHERE_API_KEY", "second")
    r = rerankit.get_reranker("cohere")
    cfg = r.config
    assert (cfg.model_name, cfg.base_url, cfg.batch_size, cfg.top_n) == (
        "rerank-v3.5", "https://api.cohere.com", 1000, None
    )
    assert r.scorer.url == "https://api.cohere.com/v2/rerank"
    assert r.scorer._api_key.get_secret_value() == "first"
    monkeypatch.delenv("CO_API_KEY")
    assert rerankit.get_reranker("cohere").scorer._api_key.get_secret_value() == "second"


@pytest.mark.parametrize(
    ("texts", "query", "message"),
    [
        (["fine", "   "], "q", "document at index 1 cannot be empty"),
        (["fine"], "   ", None),  # rejected by rerankit before any request (InputError)
    ],
)
def test_cohere_validation_errors(texts: list[str], query: str, message: str | None) -> None:
    with FakeRerankServer("cohere", api_key=KEY) as server:
        r = rerankit.get_reranker("cohere", api_key=KEY, base_url=server.url)
        if message is None:
            with pytest.raises(rerankit.InputError, match="query"):
                r.rerank(query, texts)
            assert server.attempts == 0
            return
        with pytest.raises(rerankit.ProviderError) as info:
            r.rerank(query, texts)
        assert info.value.status_code == 400 and message in str(info.value)
        assert server.attempts == 1


def test_unknown_field_is_a_422_with_cohere_message() -> None:
    class Legacy(rerankit.get_reranker("cohere", api_key=KEY).scorer.__class__):
        def build_request(self, query, texts):  # a v1-style field Cohere v2 refuses
            return {**super().build_request(query, texts), "return_documents": False}

    with FakeRerankServer("cohere", api_key=KEY) as server:
        cfg = Legacy.Config(api_key=KEY, base_url=server.url)
        r = rerankit.ScoringReranker("cohere-legacy", cfg, Legacy(cfg))
        with pytest.raises(rerankit.ProviderError) as info:
            r.rerank("q", ["a"])
        assert info.value.status_code == 422
        assert "unknown field: parameter 'return_documents' is not a valid field" in str(info.value)
        assert server.attempts == 1
