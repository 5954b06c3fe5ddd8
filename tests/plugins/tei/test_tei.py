"""rerankit-tei against a local server speaking text-embeddings-inference's /rerank wire format."""

from __future__ import annotations

import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs
from tests.plugins.hosted_support import reranker, shared_server


class TestTEI(HostedRerankerConformance):
    name = "tei"
    dialect = "tei"
    env_vars = ("TEI_API_KEY",)
    top_n_field = None  # TEI scores every text; the top_n cut is ours
    results_key = None  # a bare array
    key_required = False


module_server, server = shared_server("tei", "TEI_API_KEY", api_key=None)


def make(server: FakeRerankServer, **options) -> rerankit.Reranker:
    return reranker("tei", server, **{"api_key": None, **options})


def test_request_body_and_no_key(server: FakeRerankServer) -> None:
    out = make(server, top_n=2, truncate=True, truncation_direction="left").rerank("wind", docs(4))
    assert out.num_rows == 2
    seen = server.seen[0]
    assert seen.path == "/rerank"
    assert seen.body == {
        "query": "wind", "texts": docs(4), "raw_scores": False, "truncate": True, "truncation_direction": "Left",
    }
    assert "authorization" not in {k.lower() for k in seen.headers}
    make(server, raw_scores=True).rerank("wind", docs(2))
    assert server.seen[1].body == {"query": "wind", "texts": docs(2), "raw_scores": True}


def test_base_url_is_required() -> None:
    with pytest.raises(rerankit.ConfigError, match="base_url"):
        rerankit.get_reranker("tei")
    r = rerankit.get_reranker("tei", base_url="http://tei.internal:8080/")
    assert r.scorer.url == "http://tei.internal:8080/rerank" and r.config.batch_size == 32


def test_batch_size_limit_is_teis_422(server: FakeRerankServer) -> None:
    with pytest.raises(rerankit.ProviderError) as info:
        make(server, batch_size=40).rerank("q", docs(40))
    assert info.value.status_code == 422 and server.attempts == 1
    assert "batch size 40 > maximum allowed batch size 32 (Validation)" in str(info.value)
    assert make(server).rerank("q", docs(40)).num_rows == 40  # the default, 32: split in two
    assert sorted(len(s.body["texts"]) for s in server.seen[1:]) == [8, 32]


def test_split_under_the_payload_limit(server: FakeRerankServer) -> None:
    server.dialect.max_body_bytes = 4096  # as if started with --payload-limit 4096
    texts = [f"{i} " + "solar roof " * 90 for i in range(10)]  # ~1 kB each
    out = make(server, max_payload_bytes=4096).rerank("solar", texts)
    assert out.num_rows == 10 and sorted(out["text"].to_pylist()) == sorted(texts)
    sizes = [len(s.body["texts"]) for s in server.seen]
    assert len(sizes) > 1 and sum(sizes) == 10 and max(sizes) <= 4
    server.reset()
    with pytest.raises(rerankit.ProviderError) as info:  # one text over the limit: TEI's plain 413
        make(server, max_payload_bytes=4096).rerank("solar", ["x" * 5000])
    assert info.value.status_code == 413 and "length limit exceeded" in str(info.value)


def test_axum_plain_text_422(server: FakeRerankServer) -> None:
    scorer_cls = make(server).scorer.__class__

    class Broken(scorer_cls):
        def build_request(self, query, texts):
            return {"query": query, "documents": list(texts)}  # not TEI's field name

    cfg = Broken.Config(base_url=server.url)
    with pytest.raises(rerankit.ProviderError) as info:
        rerankit.ScoringReranker("tei-broken", cfg, Broken(cfg)).rerank("q", ["a"])
    assert info.value.status_code == 422 and server.attempts == 1
    assert "Failed to deserialize the JSON body into the target type: missing field `texts`" in str(info.value)


def test_wrong_key_is_a_bare_401(server: FakeRerankServer) -> None:
    server.api_key = KEY  # a server started with --api-key
    with pytest.raises(rerankit.AuthenticationError) as info:
        make(server, api_key="not-the-key").rerank("q", docs(2))
    message = str(info.value)
    assert info.value.status_code == 401 and "(empty body)" in message and "TEI_API_KEY" in message
    assert make(server, api_key=KEY).rerank("q", docs(2)).num_rows == 2
    assert server.seen[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_overloaded_429_is_retried(server: FakeRerankServer) -> None:
    server.script(Fault.error(429, message="Model is overloaded"))
    assert make(server).rerank("q", docs(3)).num_rows == 3 and server.attempts == 2
    server.reset()
    server.script(*[Fault.error(429, message="Model is overloaded")] * 2)
    with pytest.raises(rerankit.RateLimitError, match=r"Model is overloaded \(Overloaded\)"):
        make(server, max_retries=1).rerank("q", docs(3))
