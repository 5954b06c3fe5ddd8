"""Fusion settings: score normalizations, per-list weights and K, against independent references."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rerankit
from tests.core import reference
from tests.core.strategies import fts_table, result_lists, vector_table
from tests.core.test_fusion import assert_matches_reference, scores_by_id

FAST = settings(max_examples=50, deadline=None)
METHODS = ["none", "min-max", "z-score", "rank", "dbsf", "tm2c2"]


def f32(x: float) -> float:
    return float(np.float32(x))


def sides(vec, dists, fts, scores) -> list[dict[int, float]]:
    """Each side's relevance as rerankit reads it: 1 - _distance, _score (both stored as float32)."""
    return [{i: 1.0 - f32(d) for i, d in zip(vec, dists)}, {i: f32(s) for i, s in zip(fts, scores)}]


# -- each normalization against the reference --------------------------------------------------
@FAST
@given(result_lists(), st.sampled_from(METHODS), st.sampled_from([0.0, 0.3, 0.7, 1.0]))
def test_linear_hybrid_with_each_normalization_equals_reference(data, method, weight):
    (vec, fts), (dists, _), (_, scores) = data
    lowers = [-1.0, 0.0] if method == "tm2c2" else None
    r = rerankit.get_reranker("linear", weight=weight, normalize=method, fill=0.9)
    out = r.rerank_hybrid("q", vector_table(vec, dists), fts_table(fts, scores))
    both = sides(vec, dists, fts, scores)
    if vec and fts:
        expected = reference.linear_normalized(both, [weight, 1 - weight], method, 0.9, lowers)
    else:  # one side only: its own normalized relevance, as LanceDB scores a one-sided search
        side, lower = (both[0], -1.0) if vec else (both[1], 0.0)
        expected = dict(zip(side, reference.normalized(list(side.values()), method, lower)))
    assert_matches_reference(out, expected, reference.first_appearance(vec, fts))


@pytest.mark.parametrize("method", METHODS)
def test_each_normalization_on_a_worked_example(method):
    """Fixed numbers, so a reader can check one case by hand."""
    vec = vector_table([1, 2, 3], [0.2, 0.4, 0.9])  # relevance 0.8, 0.6, 0.1
    fts = fts_table([3, 4], [12.0, 4.0])
    out = rerankit.get_reranker("linear", weight=0.5, normalize=method).rerank_hybrid("q", vec, fts)
    v = {
        "none": [0.8, 0.6, 0.1],
        "min-max": [1.0, 5 / 7, 0.0],
        "z-score": [(x - 0.5) / np.std([0.8, 0.6, 0.1]) for x in (0.8, 0.6, 0.1)],
        "rank": [1.0, 0.5, 0.0],
        "dbsf": [(x - 0.5 + 3 * np.std([0.8, 0.6, 0.1])) / (6 * np.std([0.8, 0.6, 0.1])) for x in (0.8, 0.6, 0.1)],
        "tm2c2": [(x + 1) / 1.8 for x in (0.8, 0.6, 0.1)],  # cosine's lower bound, -1
    }[method]
    f = {
        "none": [12.0, 4.0],
        "min-max": [1.0, 0.0],
        "z-score": [1.0, -1.0],
        "rank": [1.0, 0.0],
        "dbsf": [(12 - 8 + 12) / 24, (4 - 8 + 12) / 24],
        "tm2c2": [1.0, 4 / 12],  # BM25's lower bound, 0
    }[method]
    expected = {1: 0.5 * v[0], 2: 0.5 * v[1], 3: 0.5 * v[2] + 0.5 * f[0], 4: 0.5 * f[1]}
    got = scores_by_id(out)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_zero_spread_maps_to_zero_and_rank_to_one():
    vec = vector_table([1], [0.3])
    fts = fts_table([1, 2], [5.0, 5.0])
    for method, expected in [("min-max", {1: 0.0, 2: 0.0}), ("z-score", {1: 0.0, 2: 0.0}),
                             ("dbsf", {1: 0.0, 2: 0.0}), ("rank", {1: 1.0, 2: 0.0})]:
        out = rerankit.get_reranker("linear", weight=0.5, normalize=method).rerank_hybrid("q", vec, fts)
        assert scores_by_id(out) == pytest.approx(expected), method


def test_min_max_reproduces_lancedb_hybrid_normalization_then_its_linear_reranker():
    """LanceDB's hybrid query min-max normalizes both sides, then calls LinearCombinationReranker."""
    from lancedb.query import LanceHybridQueryBuilder
    from lancedb.rerankers import LinearCombinationReranker

    rng = np.random.default_rng(5)
    for _ in range(10):
        vec = rng.choice(300, size=100, replace=False).tolist()
        fts = rng.choice(300, size=100, replace=False).tolist()
        vt = vector_table(vec, np.sort(rng.random(100) * 2).tolist())
        ft = fts_table(fts, np.sort(rng.random(100) * 25)[::-1].tolist())
        normed_v = vt.set_column(3, "_distance", LanceHybridQueryBuilder._normalize_scores(vt["_distance"]))
        normed_f = ft.set_column(2, "_score", LanceHybridQueryBuilder._normalize_scores(ft["_score"]))
        theirs = LinearCombinationReranker().rerank_hybrid("q", normed_v, normed_f)
        ours = rerankit.get_reranker("linear", normalize="min-max").rerank_hybrid("q", vt, ft)
        assert ours["_rowid"].to_pylist() == theirs["_rowid"].to_pylist()
        np.testing.assert_allclose(
            ours["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy(), rtol=1e-6, atol=1e-6
        )


# -- runs: normalized per query ----------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(st.sampled_from(METHODS), st.integers(0, 2**16))
def test_fuse_runs_normalizes_each_query_separately(method, seed):
    rng = np.random.default_rng(seed)
    runs_py = []
    for scale in (1.0, 30.0):
        rows = []
        for q in ["a", "b", "c"]:
            n = int(rng.integers(1, 9))
            docs = rng.choice(12, size=n, replace=False)
            values = np.round(rng.random(n) * scale, 2)
            rows += sorted(((q, int(d), float(s)) for d, s in zip(docs, values)), key=lambda r: -r[2])
        runs_py.append(rows)
    runs = [pa.table({"query_id": [r[0] for r in rows], "_rowid": [r[1] for r in rows],
                      "score": [r[2] for r in rows]}) for rows in runs_py]
    lowers = [0.0, 0.0] if method == "tm2c2" else None
    r = rerankit.get_reranker("linear", weights=[0.4, 0.6], normalize=method, lower_bounds=lowers)
    out = r.fuse_runs(runs)
    for q in ["a", "b", "c"]:
        per_query = [{d: s for qq, d, s in rows if qq == q} for rows in runs_py]
        expected = reference.linear_normalized(per_query, [0.4, 0.6], method, 1.0, lowers)
        mine = out.filter(pa.compute.equal(out["query_id"], q))
        got = dict(zip(mine["_rowid"].to_pylist(), mine["_relevance_score"].to_pylist()))
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


# -- weights and K for every method ------------------------------------------------------------
@FAST
@given(result_lists(), st.sampled_from([[1.0, 1.0], [2.0, 0.5], [0.0, 1.0]]), st.sampled_from([1, 10, 60]))
def test_rrf_config_weights_and_k_equal_reference(data, weights, k):
    (vec, fts), (dists, _), (_, scores) = data
    out = rerankit.get_reranker("rrf", K=k, weights=weights).rerank_hybrid(
        "q", vector_table(vec, dists), fts_table(fts, scores)
    )
    assert_matches_reference(out, reference.rrf([vec, fts], K=k, weights=weights), reference.first_appearance(vec, fts))


@FAST
@given(result_lists(min_lists=3, max_lists=3))
def test_mrr_and_linear_config_weights_on_three_searches(data):
    lists, dists, _ = data
    tables = [vector_table(ids, d) for ids, d in zip(lists, dists)]
    appearance = reference.first_appearance(*lists)
    w = [0.5, 0.2, 0.3]
    out = rerankit.get_reranker("mrr", weights=w).rerank_multivector(tables)
    expected = {rid: sum(wi / (ids.index(rid) + 1) for wi, ids in zip(w, lists) if rid in ids) for rid in appearance}
    assert_matches_reference(out, expected, appearance)
    if all(lists):
        out = rerankit.get_reranker("linear", weights=w, normalize="min-max").rerank_multivector(tables)
        relevance = [{i: 1.0 - f32(d) for i, d in zip(ids, ds)} for ids, ds in zip(lists, dists)]
        assert_matches_reference(out, reference.linear_normalized(relevance, w, "min-max"), appearance)


def test_config_weights_equal_call_weights_and_the_call_wins():
    tables = [vector_table([1, 2, 3], [0.1, 0.2, 0.3]), vector_table([3, 2, 1], [0.1, 0.2, 0.3])]
    by_config = rerankit.get_reranker("rrf", weights=[3.0, 1.0]).rerank_multivector(tables)
    by_call = rerankit.get_reranker("rrf").rerank_multivector(tables, weights=[3.0, 1.0])
    assert by_config.equals(by_call)
    overridden = rerankit.get_reranker("rrf", weights=[3.0, 1.0]).rerank_multivector(tables, weights=[1.0, 3.0])
    assert overridden["_rowid"].to_pylist() == [3, 2, 1]


def test_mrr_weights_replace_weight_vector_and_weight_fts():
    vt, ft = vector_table([1, 2], [0.1, 0.2]), fts_table([2, 3], [5.0, 1.0])
    a = rerankit.get_reranker("mrr", weights=[0.8, 0.2]).rerank_hybrid("q", vt, ft)
    b = rerankit.get_reranker("mrr", weight_vector=0.8, weight_fts=0.2).rerank_hybrid("q", vt, ft)
    assert a.equals(b)


def test_defaults_are_unchanged():
    for name, fields in [("rrf", {"K": 60, "weights": None}),
                         ("linear", {"weight": 0.7, "fill": 1.0, "normalize": "none", "weights": None}),
                         ("mrr", {"weight_vector": 0.5, "weight_fts": 0.5, "weights": None})]:
        config = rerankit.get_reranker(name).config
        assert {k: getattr(config, k) for k in fields} == fields


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("linear", {"normalize": "zscore"}, r"option 'normalize': Input should be 'none', 'min-max'"),
        ("linear", {"weight": 0.3, "weights": [1, 1]}, "set either weight .* or weights"),
        ("mrr", {"weight_vector": 0.3, "weight_fts": 0.7, "weights": [1, 1]}, "weight_vector/weight_fts or weights"),
        ("rrf", {"weights": [1.0, -2.0]}, "weights must be finite and non-negative"),
        ("rrf", {"weights": []}, "one weight per ranked list"),
        ("rrf", {"K": 0}, "option 'K'"),
        ("linear", {"lower_bounds": [0, 0]}, "lower_bounds applies only to normalize='tm2c2'"),
    ],
)
def test_bad_settings_are_config_errors(name, options, message):
    with pytest.raises(rerankit.ConfigError, match=message):
        rerankit.get_reranker(name, **options)


def test_weights_must_match_the_number_of_lists():
    vt, ft = vector_table([1], [0.1]), fts_table([2], [1.0])
    with pytest.raises(rerankit.InputError, match=r"weights has 3 value\(s\) for 2 ranked lists"):
        rerankit.get_reranker("rrf", weights=[1, 1, 1]).rerank_hybrid("q", vt, ft)
    with pytest.raises(rerankit.InputError, match=r"lower_bounds has 1 value\(s\) for 2 ranked lists"):
        rerankit.get_reranker("linear", normalize="tm2c2", lower_bounds=[0]).rerank_hybrid("q", vt, ft)


def test_tm2c2_on_lists_without_a_known_bound_asks_for_lower_bounds():
    with pytest.raises(rerankit.InputError, match=r"set lower_bounds = \[...\]"):
        rerankit.get_reranker("linear", normalize="tm2c2").rerank("q", pa.table({"text": ["a"], "_score": [1.0]}))
    out = rerankit.get_reranker("linear", normalize="tm2c2", lower_bounds=[-2.0]).rerank(
        "q", pa.table({"text": ["a", "b"], "_score": [1.0, -1.0]})
    )
    assert out["_relevance_score"].to_pylist() == pytest.approx([1.0, 1 / 3])
