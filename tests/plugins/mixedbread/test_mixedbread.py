"""rerankit-mixedbread against a local server speaking Mixedbread's /v1/reranking wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs
from tests.plugins.hosted_support import reranker, shared_server


class TestMixedbread(HostedRerankerConformance):
    name = "mixedbread"
    dialect = "mixedbread"
    env_vars = ("MXBAI_API_KEY",)
    top_n_field = "top_k"
    results_key = "data"


module_server, server = shared_server("mixedbread", "MXBAI_API_KEY")


def make(server: FakeRerankServer, **options) -> rerankit.Reranker:
    return reranker("mixedbread", server, **options)


def test_request_body_is_mixedbreads(server: FakeRerankServer) -> None:
    assert make(server, top_n=2).rerank("wind", docs(5)).num_rows == 2
    seen = server.seen[0]
    assert seen.path == "/v1/reranking" and seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body == {
        "model": "mixedbread-ai/mxbai-rerank-large-v2", "query": "wind", "input": docs(5),
        "return_input": False, "top_k": 2,
    }


def test_defaults_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXBAI_API_KEY", "mxbai-key")
    r = rerankit.get_reranker("mixedbread")
    assert r.scorer.url == "https://api.mixedbread.com/v1/reranking" and r.config.batch_size == 1000
    with pytest.raises(rerankit.ConfigError, match="batch_size"):
        rerankit.get_reranker("mixedbread", batch_size=1001)


def test_1001_documents_go_in_two_requests(server: FakeRerankServer) -> None:
    texts = [f"d{i} solar" for i in range(1001)]
    out = make(server, top_n=3).rerank("solar", texts)
    assert out.num_rows == 3
    assert sorted(len(s.body["input"]) for s in server.seen) == [1, 1000]


def test_422_validation_body(server: FakeRerankServer) -> None:
    with pytest.raises(rerankit.ProviderError) as info:  # Mixedbread caps the query at 32,000 characters
        make(server).rerank("q" * 32_001, docs(2))
    assert info.value.status_code == 422 and server.attempts == 1
    assert "query: String should have at most 32000 characters" in str(info.value)


def test_429_with_mixedbreads_body_and_retry_after(server: FakeRerankServer) -> None:
    limited = Fault.error(429, message="Rate limit exceeded. Please try again later.", headers={"Retry-After": "0"})
    server.script(limited)
    assert make(server).rerank("q", docs(3)).num_rows == 3 and server.attempts == 2
    server.reset()
    server.script(*[limited] * 3)
    with pytest.raises(rerankit.RateLimitError, match=r"Rate limit exceeded\. Please try again later\."):
        make(server, max_retries=2).rerank("q", docs(3))
    assert server.attempts == 3


def test_402_insufficient_balance_is_not_retried(server: FakeRerankServer) -> None:
    server.script(Fault.error(402, message="Insufficient balance. Top up your account to continue."))
    with pytest.raises(rerankit.ProviderError, match="Insufficient balance") as info:
        make(server).rerank("q", docs(2))
    assert info.value.status_code == 402 and server.attempts == 1
