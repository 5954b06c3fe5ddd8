"""rerankit-cohere against a local server speaking Cohere's /v2/rerank wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.http import HTTPScorer
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
    # the key the server receives: CO_API_KEY first, then COHERE_API_KEY
    with FakeRerankServer("cohere", api_key=None) as server:
        rerankit.get_reranker("cohere", base_url=server.url).rerank("solar", docs(2))
        monkeypatch.delenv("CO_API_KEY")
        rerankit.get_reranker("cohere", base_url=server.url).rerank("solar", docs(2))
        assert [s.headers["Authorization"] for s in server.seen] == ["Bearer first", "Bearer second"]


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


def test_split_under_the_chunk_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cohere refuses a request whose documents x chunks reach 10,000; with a large
    max_tokens_per_doc a document may take many chunks, so fewer documents go per request."""
    monkeypatch.delenv("CO_API_KEY", raising=False)
    texts = [f"doc {i} solar" for i in range(1000)]
    with FakeRerankServer("cohere", api_key=KEY) as server:
        options = {"api_key": KEY, "base_url": server.url, "max_tokens_per_doc": 100_000}
        r = rerankit.get_reranker("cohere", **options)  # rerank-v3.5: 4,096-token context
        assert r.rerank("solar panel cost", texts).num_rows == 1000
        sizes = sorted(len(s.body["documents"]) for s in server.seen)
        assert sum(sizes) == 1000 and len(sizes) == 5 and max(sizes) * 49 < 10_000  # 49 chunks at worst
        server.reset()
        r = rerankit.get_reranker("cohere", model_name="rerank-v4.0-pro", **options)  # 32K context
        assert r.rerank("solar panel cost", texts).num_rows == 1000 and server.attempts == 1

        class Unsplit(type(r.scorer)):  # what Cohere answers when nobody counts chunks
            def split(self, query, texts):
                return HTTPScorer.split(self, query, texts)

        cfg = Unsplit.Config(**options)
        server.reset()
        with pytest.raises(rerankit.ProviderError) as info:
            rerankit.ScoringReranker("cohere", cfg, Unsplit(cfg)).rerank("solar panel cost", texts)
        assert info.value.status_code == 400
        assert "number of total max chunks (25000) must be less than 10000" in str(info.value)


def test_batch_size_up_to_cohere_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CO_API_KEY", "k")
    assert rerankit.get_reranker("cohere", batch_size=10_000).config.batch_size == 10_000
    with pytest.raises(rerankit.ConfigError, match="batch_size"):
        rerankit.get_reranker("cohere", batch_size=10_001)
