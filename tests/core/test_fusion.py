"""Fusion rerankers: equal to independent references, to lancedb.rerankers, and well-behaved."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lancedb.rerankers import LinearCombinationReranker, MRRReranker, RRFReranker

import rerankit
from tests.core import reference
from tests.core.strategies import fts_table, result_lists, vector_table

FAST = settings(max_examples=60, deadline=None)


def scores_by_id(table: pa.Table) -> dict[int, float]:
    return dict(zip(table["_rowid"].to_pylist(), table["_relevance_score"].to_pylist()))


def assert_matches_reference(out: pa.Table, expected: dict[int, float], appearance: list[int]) -> None:
    assert out.schema.field("_relevance_score").type == pa.float32()
    assert out["_rowid"].to_pylist() == reference.ordered(expected, appearance)
    got = scores_by_id(out)
    for rid, score in expected.items():
        assert got[rid] == pytest.approx(score, rel=1e-6, abs=1e-9)


# -- independent references --------------------------------------------------------------------
@FAST
@given(result_lists())
def test_rrf_hybrid_equals_reference(data):
    (vec, fts), (dists, _), (_, scores) = data
    out = rerankit.get_reranker("rrf").rerank_hybrid("q", vector_table(vec, dists), fts_table(fts, scores))
    assert_matches_reference(out, reference.rrf([vec, fts]), reference.first_appearance(vec, fts))


@FAST
@given(result_lists())
def test_rrf_hybrid_with_lancedb_sized_rowids(data):
    """LanceDB row ids are fragment << 32 | offset: far from dense, so the hash path runs."""
    (vec, fts), (dists, _), (_, scores) = data
    big = [[(i % 7) << 32 | i for i in ids] for ids in (vec, fts)]
    out = rerankit.get_reranker("rrf").rerank_hybrid("q", vector_table(big[0], dists), fts_table(big[1], scores))
    assert_matches_reference(out, reference.rrf(big), reference.first_appearance(*big))


@FAST
@given(result_lists())
def test_mrr_hybrid_equals_reference(data):
    (vec, fts), _, _ = data
    r = rerankit.get_reranker("mrr", weight_vector=0.3, weight_fts=0.7)
    out = r.rerank_hybrid("q", vector_table(vec, [0.1] * len(vec)), fts_table(fts, [1.0] * len(fts)))
    assert_matches_reference(out, reference.mrr_hybrid(vec, fts, 0.3, 0.7), reference.first_appearance(vec, fts))


@FAST
@given(result_lists())
def test_linear_hybrid_equals_reference(data):
    (vec, fts), (dists, _), (_, scores) = data
    r = rerankit.get_reranker("linear", weight=0.6, fill=0.8)
    out = r.rerank_hybrid("q", vector_table(vec, dists), fts_table(fts, scores))
    f32 = lambda x: float(np.float32(x))  # noqa: E731  the tables hold float32
    expected = reference.linear(
        {i: f32(d) for i, d in zip(vec, dists)}, {i: f32(s) for i, s in zip(fts, scores)}, 0.6, 0.8
    )
    assert_matches_reference(out, expected, reference.first_appearance(vec, fts))


@FAST
@given(result_lists(min_lists=1, max_lists=5))
def test_multivector_rrf_and_mrr_equal_reference(data):
    lists, dists, _ = data
    tables = [vector_table(ids, d) for ids, d in zip(lists, dists)]
    appearance = reference.first_appearance(*lists)
    out = rerankit.get_reranker("rrf", K=10).rerank_multivector(tables)
    assert_matches_reference(out, reference.rrf(lists, K=10), appearance)
    out = rerankit.get_reranker("mrr").rerank_multivector(tables)
    assert_matches_reference(out, reference.mrr_mean(lists), appearance)


@FAST
@given(result_lists(min_lists=3, max_lists=3))
def test_weighted_n_way_rrf(data):
    lists, dists, _ = data
    tables = [vector_table(ids, d) for ids, d in zip(lists, dists)]
    out = rerankit.get_reranker("rrf").rerank_multivector(tables, weights=[2.0, 1.0, 0.5])
    assert_matches_reference(
        out, reference.rrf(lists, weights=[2.0, 1.0, 0.5]), reference.first_appearance(*lists)
    )


# -- output invariants -------------------------------------------------------------------------
@FAST
@given(result_lists(), st.sampled_from(["rrf", "linear", "mrr"]))
def test_hybrid_output_is_union_with_rows_intact(data, name):
    (vec, fts), (dists, _), (_, scores) = data
    vt, ft = vector_table(vec, dists), fts_table(fts, scores)
    r = rerankit.get_reranker(name, return_score="all")
    out = r.rerank_hybrid("q", vt, ft)
    assert sorted(out["_rowid"].to_pylist()) == sorted(set(vec) | set(fts))
    rel = out["_relevance_score"].to_numpy()
    assert np.all(rel[:-1] >= rel[1:])
    rows = {row["_rowid"]: row for row in out.to_pylist()}
    for row in vt.to_pylist():
        assert {k: rows[row["_rowid"]][k] for k in row} == row  # vector rows untouched
    for row in ft.to_pylist():
        got = rows[row["_rowid"]]
        assert got["_score"] == row["_score"] and got["text"] == row["text"]
        if row["_rowid"] not in vec:
            assert got["_distance"] is None and got["vector_side"] is None  # never invented
    # deterministic
    assert out.equals(r.rerank_hybrid("q", vt, ft))


@pytest.mark.parametrize("name", ["rrf", "linear", "mrr"])
def test_relevance_mode_drops_score_columns_and_top_n_cuts(name):
    vt = vector_table([1, 2, 3], [0.1, 0.2, 0.3])
    ft = fts_table([3, 4], [5.0, 1.0])
    full = rerankit.get_reranker(name, return_score="all").rerank_hybrid("q", vt, ft)
    out = rerankit.get_reranker(name, top_n=2).rerank_hybrid("q", vt, ft)
    assert "_distance" not in out.column_names and "_score" not in out.column_names
    assert out["_rowid"].to_pylist() == full["_rowid"].to_pylist()[:2]


# -- equivalence with lancedb.rerankers --------------------------------------------------------
def _lance_pairs():
    return [
        (RRFReranker(), rerankit.get_reranker("rrf")),
        (RRFReranker(K=5, return_score="all"), rerankit.get_reranker("rrf", K=5, return_score="all")),
        (LinearCombinationReranker(), rerankit.get_reranker("linear")),
        (
            LinearCombinationReranker(weight=0.4, fill=0.5, return_score="all"),
            rerankit.get_reranker("linear", weight=0.4, fill=0.5, return_score="all"),
        ),
        (MRRReranker(), rerankit.get_reranker("mrr")),
        (
            MRRReranker(weight_vector=0.8, weight_fts=0.2),
            rerankit.get_reranker("mrr", weight_vector=0.8, weight_fts=0.2),
        ),
    ]


def assert_same_as_lance(ours: pa.Table, theirs: pa.Table) -> None:
    assert ours["_rowid"].to_pylist() == theirs["_rowid"].to_pylist()
    np.testing.assert_allclose(
        ours["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy(), rtol=1e-6, atol=1e-7
    )
    assert ours["text"].to_pylist() == theirs["text"].to_pylist()


@settings(max_examples=40, deadline=None)
@given(result_lists(max_rows=40))
def test_hybrid_matches_lancedb(data):
    (vec, fts), (dists, _), (_, scores) = data
    vt, ft = vector_table(vec, dists), fts_table(fts, scores)
    for theirs, ours in _lance_pairs():
        expected = theirs.rerank_hybrid("q", vt, ft)
        if isinstance(theirs, LinearCombinationReranker) and not (vec and fts):
            # Documented difference: LanceDB returns one-sided linear results unsorted.
            expected = expected.sort_by([("_relevance_score", "descending")])
        assert_same_as_lance(ours.rerank_hybrid("q", vt, ft), expected)


@settings(max_examples=40, deadline=None)
@given(result_lists(min_lists=1, max_lists=4, max_rows=40))
def test_multivector_matches_lancedb(data):
    lists, dists, _ = data
    if not any(lists):
        return  # lancedb cannot concatenate zero rows from zero lists; covered separately
    tables = [vector_table(ids, d) for ids, d in zip(lists, dists)]
    for theirs, ours in [(RRFReranker(), rerankit.get_reranker("rrf")), (MRRReranker(), rerankit.get_reranker("mrr"))]:
        assert_same_as_lance(ours.rerank_multivector(tables), theirs.rerank_multivector(tables))


def test_lancedb_equivalence_at_search_scale():
    rng = np.random.default_rng(7)
    for _ in range(20):
        vec = rng.choice(500, size=100, replace=False).tolist()
        fts = rng.choice(500, size=100, replace=False).tolist()
        vt = vector_table(vec, np.sort(rng.random(100)).tolist())
        ft = fts_table(fts, np.sort(rng.random(100) * 20)[::-1].tolist())
        for theirs, ours in _lance_pairs():
            assert_same_as_lance(ours.rerank_hybrid("q", vt, ft), theirs.rerank_hybrid("q", vt, ft))


# -- single lists, runs ------------------------------------------------------------------------
def test_single_list_calls_are_defined():
    vt = vector_table([5, 6, 7], [0.3, 0.1, 0.2])
    ft = fts_table([5, 6], [1.0, 9.0])
    # rank-based methods keep the list's own order; linear orders by its score
    for name in ("rrf", "mrr"):
        assert rerankit.get_reranker(name).rerank_vector("q", vt)["_rowid"].to_pylist() == [5, 6, 7]
        assert rerankit.get_reranker(name).rerank_fts("q", ft)["_rowid"].to_pylist() == [5, 6]
    lin = rerankit.get_reranker("linear")
    out = lin.rerank_vector("q", vt)
    assert out["_rowid"].to_pylist() == [6, 7, 5]
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), [0.9, 0.8, 0.7], rtol=1e-6)
    assert lin.rerank_fts("q", ft)["_rowid"].to_pylist() == [6, 5]
    assert rerankit.get_reranker("rrf").rerank_multivector([vt])["_rowid"].to_pylist() == [5, 6, 7]


def test_fuse_runs_equals_per_query_reference():
    rng = np.random.default_rng(3)
    runs_py = []
    for _ in range(2):
        rows = []
        for q in ["q1", "q2", "q3"]:
            docs = rng.choice(30, size=12, replace=False)
            rows += [(q, int(d), float(s)) for d, s in zip(docs, rng.random(12))]
        runs_py.append(rows)
    runs = [
        pa.table({"query_id": [r[0] for r in rows], "_rowid": [r[1] for r in rows], "score": [r[2] for r in rows]})
        for rows in runs_py
    ]
    out = rerankit.get_reranker("rrf", top_n=5).fuse_runs(runs)
    assert out.column_names == ["query_id", "_rowid", "_relevance_score"]
    for q in ["q1", "q2", "q3"]:
        lists = [[d for qq, d, s in sorted(rows, key=lambda r: -r[2]) if qq == q] for rows in runs_py]
        expected = reference.rrf(lists)
        mine = out.filter(pa.compute.equal(out["query_id"], q))
        assert mine["_rowid"].to_pylist() == reference.ordered(expected, reference.first_appearance(*[
            [d for qq, d, _ in rows if qq == q] for rows in runs_py]))[:5]
    assert out["query_id"].to_pylist() == ["q1"] * 5 + ["q2"] * 5 + ["q3"] * 5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 8), st.sampled_from([-1.5, -0.0, 0.0, 0.5, 2.0])),
        max_size=40,
        unique_by=lambda r: r[:2],
    ),
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 8), st.sampled_from([-1.0, 0.0, 1.0])),
        max_size=40,
        unique_by=lambda r: r[:2],
    ),
    st.booleans(),
)
def test_fuse_runs_linear_matches_per_query_reference(run_a, run_b, presort):
    """Negative, zero and tied scores; runs in any row order or pre-sorted as search systems emit them."""
    if presort:
        run_a = sorted(run_a, key=lambda r: (r[0], -r[2]))
        run_b = sorted(run_b, key=lambda r: (r[0], -r[2]))
    schema = pa.schema([("query_id", pa.string()), ("_rowid", pa.int64()), ("score", pa.float64())])
    runs = [pa.Table.from_pylist([dict(zip(schema.names, r)) for r in run], schema=schema) for run in (run_a, run_b)]
    if not run_a and not run_b:
        return
    out = rerankit.get_reranker("linear", weight=0.3, fill=2.5).fuse_runs(runs)
    queries = list(dict.fromkeys([r[0] for r in (*run_a, *run_b)]))
    assert list(dict.fromkeys(out["query_id"].to_pylist())) == queries
    for q in queries:
        def ranked(run, q=q):
            rows = [(i, d, s) for i, (qq, d, s) in enumerate(run) if qq == q]
            return {d: s for _, d, s in sorted(rows, key=lambda r: (-r[2], r[0]))}
        a, b = ranked(run_a), ranked(run_b)
        appearance = list(dict.fromkeys([d for qq, d, _ in (*run_a, *run_b) if qq == q]))
        expected = {d: 0.3 * a.get(d, 1.0 - 2.5) + 0.7 * b.get(d, 1.0 - 2.5) for d in appearance}
        if not (run_a and run_b):  # one run in all: its own scores, as for a single list
            expected = {d: (a or b)[d] for d in appearance}
        mine = out.filter(pa.compute.equal(out["query_id"], q))
        assert mine["_rowid"].to_pylist() == reference.ordered(expected, appearance)


def test_fuse_runs_rejects_a_document_listed_twice_for_one_query():
    run = pa.table({"query_id": ["a", "a", "b"], "_rowid": [1, 1, 1], "score": [1.0, 0.5, 0.2]})
    with pytest.raises(rerankit.InputError, match=r"runs\[0\] lists a document twice for one query \(e.g. 1\)"):
        rerankit.get_reranker("rrf").fuse_runs([run])


def test_large_hybrid_equals_reference():
    rng = np.random.default_rng(11)
    vec = rng.choice(20_000, size=5_000, replace=False).tolist()
    fts = rng.choice(20_000, size=5_000, replace=False).tolist()
    out = rerankit.get_reranker("rrf").rerank_hybrid(
        "q", vector_table(vec, [0.5] * len(vec)), fts_table(fts, [1.0] * len(fts))
    )
    assert_matches_reference(out, reference.rrf([vec, fts]), reference.first_appearance(vec, fts))


def test_fuse_runs_errors_name_the_column():
    run = pa.table({"qid": ["a"], "_rowid": [1], "score": [1.0]})
    with pytest.raises(rerankit.MissingColumnError, match="query_id"):
        rerankit.get_reranker("rrf").fuse_runs([run])
    out = rerankit.get_reranker("rrf").fuse_runs([run], query_column="qid")
    assert out["qid"].to_pylist() == ["a"]
    with pytest.raises(rerankit.InputError, match="weights has 1 value"):
        rerankit.get_reranker("rrf").fuse_runs([run, run], query_column="qid", weights=[1.0])


def test_fusion_output_is_checked():
    def broken(lists, size, config):
        return np.full(size, np.nan)

    def short(lists, size, config):
        return np.zeros(max(size - 1, 0))

    vt = vector_table([1, 2], [0.1, 0.2])
    with pytest.raises(rerankit.ScoringError, match="'nan-fusion' returned a non-finite score"):
        rerankit.FusionReranker("nan-fusion", rerankit.RerankerConfig(), broken).rerank_vector("q", vt)
    with pytest.raises(rerankit.ScoringError, match="'short' returned 1 scores for 2 rows"):
        rerankit.FusionReranker("short", rerankit.RerankerConfig(), short).rerank_vector("q", vt)


def test_linear_on_zero_rows_gives_zero_rows():
    assert rerankit.get_reranker("linear").rerank("q", []).num_rows == 0
    with pytest.raises(rerankit.InputError, match="linear method needs scores"):
        rerankit.get_reranker("linear").rerank("q", ["a"])
