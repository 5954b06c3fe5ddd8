"""The local path: scores equal sentence-transformers' own embeddings and a similarity computed here."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest
from rerankit_embedding import EmbeddingScorer, model_cache_info

import rerankit
from tests.plugins.embedding.embedding_models import QUERY, TEXTS


def reference(model_path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu", local_files_only=True)


def cosine(q: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``docs`` with ``q``, written out pair by pair."""
    q = q.astype(np.float64)
    return np.array([float(np.dot(q, d) / (np.linalg.norm(q) * np.linalg.norm(d))) for d in docs.astype(np.float64)])


@pytest.fixture(scope="module")
def tiny_reference(tiny_model: str):
    return reference(tiny_model)


def scores_by_text(out: pa.Table) -> dict[str, float]:
    return dict(zip(out["text"].to_pylist(), out["_relevance_score"].to_pylist()))


def test_cosine_equals_sentence_transformers(tiny_model: str, tiny_reference) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", batch_size=3)
    out = r.rerank(QUERY, TEXTS)
    want = cosine(tiny_reference.encode(QUERY), tiny_reference.encode(TEXTS))
    got = scores_by_text(out)
    np.testing.assert_allclose([got[t] for t in TEXTS], want, rtol=1e-5, atol=1e-6)
    assert out["text"].to_pylist() == [TEXTS[i] for i in np.argsort(-want, kind="stable")]


def test_dot_and_normalize(tiny_model: str, tiny_reference) -> None:
    q, docs = tiny_reference.encode(QUERY), tiny_reference.encode(TEXTS)
    dot = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", similarity="dot")
    got = dot.scorer.score(QUERY, TEXTS)
    np.testing.assert_allclose(got, docs.astype(np.float64) @ q.astype(np.float64), rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, cosine(q, docs))  # the tiny model does not normalize: dot differs
    unit = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", similarity="dot", normalize=True)
    np.testing.assert_allclose(unit.scorer.score(QUERY, TEXTS), cosine(q, docs), rtol=1e-5, atol=1e-6)


def test_packaged_minilm_equals_sentence_transformers(minilm_path: str, minilm_reference) -> None:
    texts = TEXTS[:4]
    r = rerankit.get_reranker("embedding", model_name=minilm_path, device="cpu")
    got = r.scorer.score("supersonic wing drag", texts)
    want = cosine(minilm_reference.encode("supersonic wing drag"), minilm_reference.encode(texts))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # a real model ranks the obvious match first; cosine of MiniLM's unit vectors is the dot product
    assert int(np.argmax(got)) == 3
    dot = rerankit.get_reranker("embedding", model_name=minilm_path, device="cpu", similarity="dot")
    np.testing.assert_allclose(dot.scorer.score("supersonic wing drag", texts), got, rtol=1e-4, atol=1e-5)


def test_configured_prompts_are_applied(tiny_model: str, tiny_reference) -> None:
    r = rerankit.get_reranker(
        "embedding", model_name=tiny_model, device="cpu", query_prompt="query: ", document_prompt="passage: "
    )
    want = cosine(
        tiny_reference.encode("query: " + QUERY), tiny_reference.encode(["passage: " + t for t in TEXTS])
    )
    np.testing.assert_allclose(r.scorer.score(QUERY, TEXTS), want, rtol=1e-5, atol=1e-6)
    plain = cosine(tiny_reference.encode(QUERY), tiny_reference.encode(TEXTS))
    assert not np.allclose(want, plain, atol=1e-4)  # the prompts change the scores, so the check can fail


def test_saved_prompts_are_applied(prompted_model: str) -> None:
    ref = reference(prompted_model)
    assert ref.prompts["query"] == "query: "
    want = cosine(ref.encode("query: " + QUERY), ref.encode(["passage: " + t for t in TEXTS]))
    r = rerankit.get_reranker("embedding", model_name=prompted_model, device="cpu")
    np.testing.assert_allclose(r.scorer.score(QUERY, TEXTS), want, rtol=1e-5, atol=1e-6)
    none = rerankit.get_reranker(
        "embedding", model_name=prompted_model, device="cpu", query_prompt="", document_prompt=""
    )
    np.testing.assert_allclose(
        none.scorer.score(QUERY, TEXTS), cosine(ref.encode(QUERY, prompt=""), ref.encode(TEXTS, prompt="")),
        rtol=1e-5, atol=1e-6,
    )


def test_vector_column_equals_reencoding(tiny_model: str) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu")
    vectors = r.scorer.embed_documents(TEXTS)
    table = pa.table({
        "_rowid": pa.array(range(len(TEXTS)), pa.uint64()),
        "vector": pa.array(list(vectors), pa.list_(pa.float32(), vectors.shape[1])),
    })
    stored = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", vector_column="vector")
    out = stored.rerank_vector(QUERY, table)  # no text column at all: only the query is encoded
    assert out.column_names == ["_rowid", "vector", "_relevance_score"]
    by_text = r.rerank_vector(QUERY, table.append_column("text", pa.array(TEXTS)))
    assert out["_rowid"].to_pylist() == by_text["_rowid"].to_pylist()
    np.testing.assert_allclose(out["_relevance_score"], by_text["_relevance_score"], rtol=1e-6)
    # list<double> works too
    plain = table.set_column(1, "vector", pa.array([v.tolist() for v in vectors], pa.list_(pa.float64())))
    again = stored.rerank_vector(QUERY, plain)
    np.testing.assert_allclose(again["_relevance_score"], out["_relevance_score"], rtol=1e-6)


@pytest.mark.parametrize("defect", ["null", "dims", "ragged", "nan", "type", "missing"])
def test_vector_column_errors_name_the_column(tiny_model: str, defect: str) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", vector_column="emb")
    good = [[0.1] * 16, [0.2] * 16, [0.3] * 16]
    column = {
        "null": pa.array([good[0], None, good[2]], pa.list_(pa.float32(), 16)),
        "dims": pa.array([[0.1] * 8] * 3, pa.list_(pa.float32(), 8)),
        "ragged": pa.array([good[0], [0.1] * 15, good[2]], pa.list_(pa.float32())),
        "nan": pa.array([good[0], [float("nan")] * 16, good[2]], pa.list_(pa.float32(), 16)),
        "type": pa.array(["a", "b", "c"]),
        "missing": None,
    }[defect]
    table = pa.table({"_rowid": pa.array([1, 2, 3], pa.uint64()), "text": ["a", "b", "c"]})
    if column is not None:
        table = table.append_column("emb", column)
    error = rerankit.MissingColumnError if defect == "missing" else rerankit.InputError
    with pytest.raises(error) as info:
        r.rerank_vector(QUERY, table)
    assert "'emb'" in str(info.value)
    if defect == "dims":
        assert "8-dimensional" in str(info.value) and "16-dimensional" in str(info.value)
    if defect == "null":
        assert "rows [1]" in str(info.value)


def test_dimensions_cut_the_vectors(tiny_model: str, tiny_reference) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", dimensions=8)
    q, docs = tiny_reference.encode(QUERY), tiny_reference.encode(TEXTS)
    np.testing.assert_allclose(r.scorer.score(QUERY, TEXTS), cosine(q[:8], docs[:, :8]), rtol=1e-5, atol=1e-6)
    assert r.scorer.embed_documents(TEXTS[:2]).shape == (2, 8)
    with pytest.raises(rerankit.ConfigError, match="dimensions=99"):
        rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", dimensions=99).rerank(QUERY, TEXTS)


def test_batch_encodes_each_query_and_each_document_once(tiny_model: str, tiny_reference) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", batch_size=4)
    model = r.scorer.model.model
    seen: list[list[str]] = []
    encode = model.encode

    def counting(texts, *args, **kwargs):
        seen.append(list(texts))
        return encode(texts, *args, **kwargs)

    model.encode = counting
    try:
        queries = [QUERY, "wing lift", QUERY]
        sets = [TEXTS[:4], TEXTS[2:7], [*TEXTS[7:], TEXTS[0], TEXTS[5]]]  # lists share documents
        outs = r.rerank_batch(queries, sets)
    finally:
        del model.encode
    encoded = [t for batch in seen for t in batch]
    assert sorted(encoded) == sorted([QUERY, "wing lift", *TEXTS])  # each query and document once
    for q, docs, out in zip(queries, sets, outs, strict=True):
        want = cosine(tiny_reference.encode(q), tiny_reference.encode(docs))
        got = scores_by_text(out)
        np.testing.assert_allclose([got[t] for t in docs], want, rtol=1e-5, atol=1e-6)


def test_truncation_is_counted_and_logged(tiny_model: str, caplog: pytest.LogCaptureFixture) -> None:
    r = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", max_length=8)
    caplog.set_level(logging.WARNING, logger="rerankit")
    r.rerank(QUERY, TEXTS)
    long = sum(len(r.scorer.tokenizer(t)["input_ids"]) > 8 for t in TEXTS)
    assert long > 0 and r.scorer.truncated_total == long
    assert any("were longer than max_length=8 tokens" in rec.getMessage() for rec in caplog.records)
    assert r.scorer.max_length == 8


def test_model_is_shared_and_loads_lazily(tiny_model: str) -> None:
    before = model_cache_info()["loads"]
    a = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", batch_size=2, top_n=1)
    b = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu", similarity="dot")
    assert model_cache_info()["loads"] == before  # building loads nothing
    assert a.scorer.model is b.scorer.model
    assert isinstance(a.scorer, EmbeddingScorer) and a.scorer.tokenizer is a.scorer.model.tokenizer


def test_bad_model_path_is_config_error(tmp_path) -> None:
    r = rerankit.get_reranker("embedding", model_name=str(tmp_path / "nothing-here"), device="cpu")
    with pytest.raises(rerankit.ConfigError, match="could not load embedding model_name"):
        r.rerank(QUERY, TEXTS[:2])


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": 5.0}, "timeout"),
        ({"max_retries": 1, "path": "/x"}, "path, max_retries"),
        ({"base_url": "http://localhost:1/v1", "device": "cpu"}, "device"),
        ({"base_url": "http://localhost:1/v1", "max_length": 64}, "max_length"),
        ({"similarity": "euclid"}, "similarity"),
        ({"base_url": "localhost:8000"}, "base_url"),
    ],
)
def test_options_of_the_other_path_are_config_errors(options: dict, named: str) -> None:
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("embedding", **options)
    for name in named.split(", "):
        assert name in str(info.value)
