"""rerankit-pinecone against a local server speaking Pinecone's inference /rerank wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs
from tests.plugins.hosted_support import reranker, shared_server


class TestPinecone(HostedRerankerConformance):
    name = "pinecone"
    dialect = "pinecone"
    env_vars = ("PINECONE_API_KEY",)
    top_n_field = "top_n"
    results_key = "data"
    auth_header = ("Api-Key", "{key}")


module_server, server = shared_server("pinecone", "PINECONE_API_KEY")


def make(server: FakeRerankServer, **options) -> rerankit.Reranker:
    return reranker("pinecone", server, **options)


def test_headers_and_body_are_pinecones(server: FakeRerankServer) -> None:
    assert make(server, top_n=2, truncate="END").rerank("wind", docs(4)).num_rows == 2
    seen = server.seen[0]
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert seen.path == "/rerank" and headers["api-key"] == KEY and "authorization" not in headers
    assert headers["x-pinecone-api-version"] == "2026-04"
    assert seen.body == {
        "model": "bge-reranker-v2-m3", "query": "wind", "documents": [{"text": t} for t in docs(4)],
        "return_documents": False, "top_n": 2, "parameters": {"truncate": "END"},
    }
    make(server, model_name="cohere-rerank-3.5", api_version="2025-10").rerank("wind", docs(2))
    seen = server.seen[1]
    assert "parameters" not in seen.body and seen.body["model"] == "cohere-rerank-3.5"
    assert {k.lower(): v for k, v in seen.headers.items()}["x-pinecone-api-version"] == "2025-10"


def test_per_model_document_caps(server: FakeRerankServer) -> None:
    texts = [f"d{i} wind" for i in range(150)]
    assert make(server).rerank("wind", texts).num_rows == 150  # bge-reranker-v2-m3: 100 per request
    assert sorted(len(s.body["documents"]) for s in server.seen) == [50, 100]
    server.reset()
    assert make(server, model_name="cohere-rerank-3.5", batch_size=200).rerank("wind", texts).num_rows == 150
    assert server.attempts == 1
    server.reset()
    with pytest.raises(rerankit.ProviderError) as info:  # over the model's cap: Pinecone's own 400
        make(server, batch_size=200).rerank("wind", texts)
    assert info.value.status_code == 400 and server.attempts == 1
    assert "exceeds the maximum of 100 for model bge-reranker-v2-m3. (INVALID_ARGUMENT)" in str(info.value)


def test_wrong_key_has_pinecones_body(server: FakeRerankServer) -> None:
    with pytest.raises(rerankit.AuthenticationError) as info:
        make(server, api_key="pc-wrong").rerank("q", docs(2))
    assert "Invalid API key. (UNAUTHENTICATED)" in str(info.value) and "PINECONE_API_KEY" in str(info.value)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINECONE_API_KEY", "pc-key")
    r = rerankit.get_reranker("pinecone")
    assert r.scorer.url == "https://api.pinecone.io/rerank"
    assert (r.config.model_name, r.config.api_version, r.config.batch_size, r.config.truncate) == (
        "bge-reranker-v2-m3", "2026-04", 100, None
    )
    with pytest.raises(rerankit.ConfigError, match="truncate"):
        rerankit.get_reranker("pinecone", truncate="START")
