"""Scorer.select_inputs: a scorer that scores rows by another column than their text (stored token
embeddings, in rerankit-colbert) gets that column's values, restricted and ordered like the rows."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

import rerankit


class ByColumn(rerankit.Scorer):
    """Scores each row by its 'weight' column; records what it was handed."""

    def __init__(self, config: rerankit.RerankerConfig) -> None:
        super().__init__(config)
        self.seen: list = []

    def select_inputs(self, table: pa.Table):
        return table["weight"]

    def score(self, query, texts):
        self.seen.append(texts)
        return [float(v) for v in texts.to_pylist()]


def results(ids, weights, **extra) -> pa.Table:
    return pa.table({"_rowid": pa.array(ids, pa.uint64()), "weight": weights, **extra})


@pytest.fixture
def reranker():
    config = rerankit.RerankerConfig(return_score="all")
    return rerankit.ScoringReranker("by-column", config, ByColumn(config))


def test_values_replace_the_text_which_is_not_required(reranker):
    out = reranker.rerank_vector("q", results([1, 2, 3], [0.5, 2.0, 1.0], _distance=[0.1, 0.2, 0.3]))
    assert out["_rowid"].to_pylist() == [2, 3, 1]  # no 'text' column needed
    assert isinstance(reranker.scorer.seen[-1], (pa.Array, pa.ChunkedArray))


def test_hybrid_and_deduplicated_multivector_rows_get_their_own_values(reranker):
    vec = results([1, 2, 3], [1.0, 2.0, 3.0])
    fts = results([3, 4], [3.0, 4.0], _score=[9.0, 8.0])
    out = reranker.rerank_hybrid("q", vec, fts)
    assert out["_rowid"].to_pylist() == [4, 3, 2, 1]
    assert out["_relevance_score"].to_pylist() == [4.0, 3.0, 2.0, 1.0]
    multi = reranker.rerank_multivector([vec, results([2, 5], [2.0, 5.0])], "q", deduplicate=True)
    assert multi["_rowid"].to_pylist() == [5, 3, 2, 1]
    assert len(reranker.scorer.seen[-1]) == 4


def test_batch_async_and_empty(reranker):
    outs = reranker.rerank_batch(["a", "b"], [results([1, 2], [1.0, 2.0]), results([3], [3.0])])
    assert [o["_rowid"].to_pylist() for o in outs] == [[2, 1], [3]]
    assert asyncio.run(reranker.arerank_vector("q", results([7, 8], [2.0, 1.0])))["_rowid"].to_pylist() == [7, 8]
    empty = reranker.rerank_vector("q", results([], pa.array([], pa.float64())))
    assert empty.num_rows == 0 and "_relevance_score" in empty.column_names


def test_the_query_is_still_checked(reranker):
    with pytest.raises(rerankit.InputError, match="query must be a non-empty string"):
        reranker.rerank_vector(" ", results([1], [1.0]))


def test_default_is_text():
    assert rerankit.Scorer(rerankit.RerankerConfig()).select_inputs(pa.table({"text": ["a"]})) is None
