"""rerankit-embedding under the conformance suites: local (a tiny model) and remote (a fake server).

The hosted suite's tests that assume a rerank API (a ``query`` field, scores from the server, a
results list to corrupt, one request per ``batch_size`` documents) are replaced by their
embeddings-API equivalents in ``TestEmbeddingHosted``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

import rerankit
from rerankit.testing import EmbeddingsDialect, FakeRerankServer, Fault, RerankerConformance, fake_embedding
from rerankit.testing.embeddings import drop_vector, extra_vector, resize_vector, set_index, set_value
from rerankit.testing.hosted import KEY, HostedRerankerConformance, assert_aligned, docs, results_table


def fake_cosine(query: str, text: str) -> float:
    """The cosine of the fake server's vectors, read as float32 as the client reads them."""
    q, d = (np.asarray(fake_embedding(t), dtype=np.float32).astype(np.float64) for t in (query, text))
    return float((d / np.linalg.norm(d)) @ (q / np.linalg.norm(q)))


class TestEmbeddingLocalConformance(RerankerConformance):
    name = "embedding"
    distribution = "rerankit-embedding"

    @pytest.fixture
    def conformance_config(self, tiny_model):
        return {"model_name": tiny_model, "device": "cpu"}


class TestEmbeddingRemoteConformance(RerankerConformance):
    name = "embedding"
    distribution = "rerankit-embedding"
    env: ClassVar[dict] = {"EMBEDDING_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, embeddings_server):
        return {"base_url": embeddings_server.url + "/v1", "model_name": "text-embedding-3-small"}


class TestEmbeddingHosted(HostedRerankerConformance):
    name = "embedding"
    dialect = EmbeddingsDialect
    env_vars = ("EMBEDDING_API_KEY",)
    options: ClassVar[dict] = {"model_name": "text-embedding-3-small"}
    top_n_field = None
    results_key = "data"
    key_required = False  # a self-hosted server may run without a key

    def make(self, server: FakeRerankServer, **options: Any) -> Any:
        return super().make(server, **{"base_url": server.url + "/v1", **options})

    def expected_score(self, query: str, text: str) -> float:
        return fake_cosine(query, text)

    def test_rerank_scores_every_row(self, server: FakeRerankServer) -> None:
        texts = docs(12)
        out = self.make(server).rerank("solar panel cost", texts)
        assert out.num_rows == 12 and sorted(out["text"].to_pylist()) == sorted(texts)
        for row in out.to_pylist():
            assert np.float32(row["_relevance_score"]) == np.float32(fake_cosine("solar panel cost", row["text"]))
        assert server.attempts == 1
        seen = server.seen[0]
        assert seen.path == "/v1/embeddings" and seen.headers.get("Authorization") == f"Bearer {KEY}"
        assert seen.body == {
            "model": "text-embedding-3-small", "input": ["solar panel cost", *texts], "encoding_format": "float",
        }

    @pytest.mark.parametrize("mode", ["sync", "async"])
    async def test_rerank_batch(self, server: FakeRerankServer, mode: str) -> None:
        """Every distinct query once and every document once, batch_size inputs per request."""
        server.latency = 0.05  # answers overlap, so the concurrency bound is visible
        r = self.make(server, batch_size=4)
        queries = [f"solar {i % 5}" for i in range(15)]  # 5 distinct queries
        sets = [results_table(docs(3 + i % 7, 10 + i % 4), 1000 * i) for i in range(15)]  # lists share texts
        if mode == "sync":
            outs = r.rerank_batch(queries, sets, max_concurrency=3)
        else:
            outs = await r.arerank_batch(queries, sets, max_concurrency=3)
            await r.aclose()
        for q, out, source in zip(queries, outs, sets, strict=True):
            assert out.num_rows == source.num_rows
            assert_aligned(q, out, source, fake_cosine)
        sent = [t for s in server.seen for t in s.body["input"]]
        assert sorted(sent) == sorted({*queries} | {t for s in sets for t in s["text"].to_pylist()})
        assert all(len(s.body["input"]) <= 4 for s in server.seen)
        assert server.attempts == -(-len(sent) // 4)
        assert 1 < server.max_in_flight <= 3

    @pytest.mark.parametrize(
        ("mutate", "problem"),
        [
            (drop_vector(), "4 embeddings for 5 inputs"),
            (extra_vector(), "6 embeddings for 5 inputs"),
            (resize_vector(2, 3), "embeddings of different lengths"),
            (set_index(1, 0), "more than one embedding"),
            (set_index(0, 99), "index 99"),
            (set_value(1, "0.5"), "not a finite number"),
            (set_value(1, float("nan")), "not a finite number"),
            (lambda answer: {"unexpected": True}, "'data' list"),
        ],
    )
    def test_bad_rankings_are_rejected(self, server: FakeRerankServer, mutate: Any, problem: str) -> None:
        server.script(Fault.change(mutate))
        with pytest.raises(rerankit.ProviderResponseError) as info:
            self.make(server).rerank("q", docs(4))  # the query and 4 documents: 5 inputs
        assert info.value.provider == self.name and server.attempts == 1
        assert problem in str(info.value)

    def test_fewer_rows_than_top_n_is_an_error(self, server: FakeRerankServer) -> None:
        """No top_n goes to an embeddings server: every row is scored, the cut is the reranker's."""
        out = self.make(server, top_n=3).rerank("solar", docs(10))
        assert out.num_rows == 3 and server.attempts == 1 and "top_n" not in server.seen[0].body

    def test_split_above_the_request_limit(self, server: FakeRerankServer) -> None:
        server.dialect.max_documents = 5
        texts = docs(23, 4)
        q = "solar roof install"
        out = self.make(server, batch_size=5, max_concurrency=3).rerank(q, texts)
        assert out.num_rows == 23 and server.attempts == 5  # 24 inputs: the query rides in the first
        assert sorted(len(s.body["input"]) for s in server.seen) == [4, 5, 5, 5, 5]
        for row in out.to_pylist():
            assert np.float32(row["_relevance_score"]) == np.float32(fake_cosine(q, row["text"]))
        server.reset()
        with pytest.raises(rerankit.ProviderError) as info:  # a limit set above the server's: its own 400
            self.make(server, batch_size=50).rerank(q, texts)
        assert info.value.status_code == 400 and server.attempts == 1
