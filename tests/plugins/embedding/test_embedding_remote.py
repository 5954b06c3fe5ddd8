"""The remote path against a local server speaking the embeddings wire format (what the hosted
conformance suite does not cover: prompts, dimensions, keys per host, stored vectors, base64)."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault, fake_embedding
from rerankit.testing.hosted import KEY


def make(server: FakeRerankServer, **options):
    config = {"base_url": server.url + "/v1", "api_key": KEY, "model_name": "text-embedding-3-small",
              "backoff_base": 0.001, "backoff_max": 0.005, **options}
    return rerankit.get_reranker("embedding", **config)


def cosine(q: list[float], d: list[float]) -> float:
    qa, da = np.asarray(q, np.float32).astype(np.float64), np.asarray(d, np.float32).astype(np.float64)
    return float((da / np.linalg.norm(da)) @ (qa / np.linalg.norm(qa)))


@pytest.fixture
def server(embeddings_server: FakeRerankServer) -> FakeRerankServer:
    embeddings_server.reset()
    return embeddings_server


def test_prompts_are_put_before_the_texts(server: FakeRerankServer) -> None:
    r = make(server, query_prompt="query: ", document_prompt="passage: ")
    scores = r.scorer.score("solar cost", ["solar panel cost", "wind"])
    assert server.seen[0].body["input"] == ["query: solar cost", "passage: solar panel cost", "passage: wind"]
    query = fake_embedding("query: solar cost")
    want = [cosine(query, fake_embedding("passage: " + t)) for t in ("solar panel cost", "wind")]
    np.testing.assert_allclose(scores, want, rtol=1e-6)


def test_dimensions_are_sent_and_checked(server: FakeRerankServer) -> None:
    r = make(server, dimensions=48)
    texts = ["solar panel cost", "wind farm power grid"]
    scores = r.scorer.score("solar power cost", texts)
    assert server.seen[0].body["dimensions"] == 48
    want = [cosine(fake_embedding("solar power cost", 48), fake_embedding(t, 48)) for t in texts]
    assert scores == pytest.approx(want, rel=1e-6) and want != pytest.approx(
        [cosine(fake_embedding("solar power cost"), fake_embedding(t)) for t in texts], rel=1e-3
    )
    server.script(Fault.change(lambda answer: {**answer, "data": [
        {**item, "embedding": fake_embedding("x")} for item in answer["data"]
    ]}))  # a server that ignores dimensions
    with pytest.raises(rerankit.ProviderResponseError, match="64-dimensional embeddings, but dimensions=48"):
        r.rerank("solar", ["a b"])
    with pytest.raises(rerankit.ProviderError, match="does not support specifying dimensions") as info:
        make(server, dimensions=48, model_name="text-embedding-ada-002").rerank("solar", ["a b"])
    assert info.value.status_code == 400


def test_vector_column_sends_only_the_queries(server: FakeRerankServer) -> None:
    texts = ["solar panel cost", "wind farm", "roof solar"]
    table = pa.table({
        "_rowid": pa.array([1, 2, 3], pa.uint64()),
        "vector": pa.array([fake_embedding(t) for t in texts], pa.list_(pa.float32(), 64)),
    })
    out = make(server, vector_column="vector").rerank_batch(["solar", "wind", "solar"], [table, table, table])
    assert [s.body["input"] for s in server.seen] == [["solar", "wind"]]
    by_text = make(server).rerank("solar", texts)
    np.testing.assert_allclose(out[0]["_relevance_score"], by_text["_relevance_score"], rtol=1e-6)
    short = table.set_column(1, "vector", pa.array([fake_embedding(t, 8) for t in texts], pa.list_(pa.float32(), 8)))
    with pytest.raises(rerankit.InputError, match="column 'vector' holds 8-dimensional vectors"):
        make(server, vector_column="vector").rerank("solar", short)


def test_base64_answers_are_read(server: FakeRerankServer) -> None:
    def to_base64(answer):
        for item in answer["data"]:
            vector = item["embedding"]
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return answer

    server.script(Fault.change(to_base64))
    got = make(server).scorer.score("solar cost", ["solar panel cost"])
    assert got == pytest.approx([cosine(fake_embedding("solar cost"), fake_embedding("solar panel cost"))], rel=1e-6)
    server.script(Fault.change(lambda a: {**a, "data": [{**i, "embedding": "not base64!"} for i in a["data"]]}))
    with pytest.raises(rerankit.ProviderResponseError, match="not base64"):
        make(server).rerank("solar", ["x"])


def test_keys_per_host(server: FakeRerankServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDDING_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret-123456")
    monkeypatch.setattr(server, "api_key", None)  # a self-hosted server without a key
    make(server, api_key=None).rerank("solar", ["x"])  # no OpenAI key sent to it
    assert "authorization" not in {k.lower() for k in server.seen[-1].headers}
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(rerankit.AuthenticationError, match="OPENAI_API_KEY"):
        rerankit.get_reranker("embedding", base_url="https://api.openai.com/v1", model_name="text-embedding-3-small")


def test_remote_path_imports_no_torch(server: FakeRerankServer) -> None:
    code = (
        "import sys, rerankit\n"
        f"r = rerankit.get_reranker('embedding', base_url='{server.url}/v1', api_key='{KEY}', model_name='m')\n"
        "print(r.rerank('solar', ['solar panel', 'wind']).num_rows, 'torch' in sys.modules, "
        "'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["2", "False", "False"]


def test_the_rate_limit_charges_the_requests_actually_sent(server: FakeRerankServer) -> None:
    # 100 requests a second, an allowance of one at a time: a call of k requests waits (k - 1) / 100 s
    limit = {"requests_per_minute": 6000, "burst_seconds": 0.01}
    r = make(server, batch_size=2, rate_limit=limit)
    r.rerank("solar", ["a", "b", "c", "d", "e"])  # the query and 5 texts: 3 requests of 2 inputs
    assert server.attempts == 3 and r.usage.requests == 3
    assert r.usage.rate_limit_waits == 1 and r.usage.rate_limit_wait_seconds == pytest.approx(0.02, abs=0.002)
    # many queries share batches: the call is charged what it sends, not one request per query
    server.reset()
    queries, lists = ["solar", "wind", "solar"], [["a"], ["b", "c"], ["d"]]
    r = make(server, batch_size=8)
    r.rerank_batch(queries, lists)
    assert server.attempts == 1 == r.scorer.requests_for_batch(queries, lists)
    assert r.scorer.requests_for("solar", ["a", "b", "c"]) == 1
    # a text in several lists is sent once, and charged once
    shared = make(server, batch_size=2)
    assert shared.scorer.requests_for_batch(["solar", "wind"], [["a", "b"], ["b", "a"]]) == 2  # 4 inputs
    server.reset()
    shared.rerank_batch(["solar", "wind"], [["a", "b"], ["b", "a"]])
    assert server.attempts == 2
    assert make(server, batch_size=2).scorer.requests_for("solar", ["a", "b", "c"]) == 2
