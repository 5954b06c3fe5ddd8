"""One rule for non-finite input scores: every fusion method, every normalization, every entry point.

A NaN or infinite ``_distance``/``_score`` (or a run's score) is an ``InputError`` naming the
argument and the column, before any method runs; a null score means "missing" everywhere (for
``linear``: ``1 - fill``). Also ``lower_bounds``: finite, and never above a list's best score.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import rerankit

METHODS = [
    ("rrf", {}),
    ("mrr", {}),
    *[("linear", {"normalize": n}) for n in ("none", "min-max", "z-score", "rank", "dbsf", "tm2c2")],
]
BAD = [math.nan, math.inf, -math.inf]


def _vec(bad: float | None = None) -> pa.Table:
    d = [0.1, 0.2, 0.3]
    if bad is not None:
        d[1] = bad
    return pa.table({"_rowid": pa.array([1, 2, 3], pa.uint64()), "text": ["a", "b", "c"], "_distance": d})


def _fts(bad: float | None = None) -> pa.Table:
    s = [9.0, 5.0, 1.0]
    if bad is not None:
        s[2] = bad
    return pa.table({"_rowid": pa.array([3, 4, 5], pa.uint64()), "text": ["c", "d", "e"], "_score": s})


def _run(bad: float | None = None) -> pa.Table:
    s = [3.0, 2.0, 1.0]
    if bad is not None:
        s[0] = bad
    return pa.table({"query_id": ["q", "q", "q"], "_rowid": [1, 2, 3], "score": s})


#: entry point -> (call with a bad value, argument named, column named)
ENTRIES: dict[str, tuple[Callable[[rerankit.Reranker, float], Any], str, str]] = {
    "rerank_vector": (lambda r, b: r.rerank_vector("q", _vec(b)), "vector_results", "_distance"),
    "rerank_fts": (lambda r, b: r.rerank_fts("q", _fts(b)), "fts_results", "_score"),
    "rerank_hybrid/vector": (lambda r, b: r.rerank_hybrid("q", _vec(b), _fts()), "vector_results", "_distance"),
    "rerank_hybrid/fts": (lambda r, b: r.rerank_hybrid("q", _vec(), _fts(b)), "fts_results", "_score"),
    "arerank_hybrid": (
        lambda r, b: asyncio.run(r.arerank_hybrid("q", _vec(), _fts(b))), "fts_results", "_score"
    ),
    "rerank_multivector": (
        lambda r, b: r.rerank_multivector([_vec(), _vec(b)]), "vector_results[1]", "_distance"
    ),
    "rerank": (lambda r, b: r.rerank("q", _fts(b)), "docs", "_score"),
    "rerank_batch": (lambda r, b: r.rerank_batch(["q", "q"], [_fts(b), _fts()]), "results[0]", "_score"),
    "fuse_runs": (lambda r, b: r.fuse_runs([_run(), _run(b)]), "runs[1]", "score"),
    "lancedb.to_lancedb": (
        lambda r, b: __import__("rerankit.lancedb", fromlist=["to_lancedb"]).to_lancedb(r).rerank_hybrid(
            "q", _vec(), _fts(b)
        ),
        "fts_results",
        "_score",
    ),
}


@pytest.mark.parametrize("bad", BAD, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("entry", ENTRIES, ids=list(ENTRIES))
@pytest.mark.parametrize(("name", "options"), METHODS, ids=[f"{n}-{o.get('normalize', '')}" for n, o in METHODS])
def test_non_finite_input_score_is_an_input_error(name: str, options: dict, entry: str, bad: float) -> None:
    call, argument, column = ENTRIES[entry]
    reranker = rerankit.get_reranker(name, **options)
    with pytest.raises(rerankit.InputError) as err:
        call(reranker, bad)
    message = str(err.value)
    assert f"{argument} column '{column}'" in message and "non-finite" in message, message
    assert "drop those rows or give them a finite score" in message


@pytest.mark.parametrize(("name", "options"), METHODS, ids=[f"{n}-{o.get('normalize', '')}" for n, o in METHODS])
@pytest.mark.parametrize("entry", ["rerank_vector", "rerank_hybrid/vector", "rerank_hybrid/fts"])
def test_null_score_means_missing(name: str, options: dict, entry: str) -> None:
    """A null is a missing score, alike on one list and on either side of a hybrid merge."""
    vec = _vec().set_column(2, "_distance", pa.array([0.1, None, 0.3], pa.float64()))
    fts = _fts().set_column(2, "_score", pa.array([9.0, 5.0, None], pa.float64()))
    reranker = rerankit.get_reranker(name, **options)
    if entry == "rerank_vector":
        out = reranker.rerank_vector("q", vec)
    elif entry == "rerank_hybrid/vector":
        out = reranker.rerank_hybrid("q", vec, _fts())
    else:
        out = reranker.rerank_hybrid("q", _vec(), fts)
    scores = out["_relevance_score"].to_numpy()
    assert np.isfinite(scores).all() and out.num_rows == (3 if entry == "rerank_vector" else 5)


def test_null_linear_score_counts_as_fill() -> None:
    """linear on one list: the row without a score gets 1 - fill, as a missing side of a hybrid does."""
    vec = _vec().set_column(2, "_distance", pa.array([0.1, None, 0.3], pa.float64()))
    out = rerankit.get_reranker("linear", fill=0.75).rerank_vector("q", vec)
    by_id = dict(zip(out["_rowid"].to_pylist(), out["_relevance_score"].to_pylist()))
    assert by_id[2] == pytest.approx(0.25)


@pytest.mark.parametrize("column", ["_distance", "_score"])
def test_non_numeric_score_column_is_an_input_error(column: str) -> None:
    table = _vec() if column == "_distance" else _fts()
    table = table.set_column(2, column, pa.array(["0.1", "x", "0.3"]))
    for name in ("rrf", "linear"):
        with pytest.raises(rerankit.InputError, match=f"column '{column}' has type string, not numbers; cast"):
            rerankit.get_reranker(name).rerank("q", table)


def test_non_numeric_run_scores_are_an_input_error() -> None:
    run = _run().set_column(2, "score", pa.array(["a", "b", "c"]))
    with pytest.raises(rerankit.InputError, match="runs\\[0\\] column 'score' has type string"):
        rerankit.get_reranker("rrf").fuse_runs([run])


@pytest.mark.parametrize("bounds", [[math.nan, 0.0], [0.0, math.inf], []])
def test_lower_bounds_must_be_finite(bounds: list[float]) -> None:
    with pytest.raises(rerankit.ConfigError, match="lower_bounds"):
        rerankit.get_reranker("linear", normalize="tm2c2", lower_bounds=bounds)


def test_lower_bound_above_the_best_score_is_refused() -> None:
    """[5, 0] would turn (s - 5) / (max - 5) negative and invert the vector order."""
    linear = rerankit.get_reranker("linear", normalize="tm2c2", lower_bounds=[5.0, 0.0])
    with pytest.raises(rerankit.InputError, match=r"lower_bounds\[0\] = 5.0 is above the best score"):
        linear.rerank_hybrid("q", _vec(), _fts())
    far = pa.table({"_rowid": pa.array([1, 2], pa.uint64()), "text": ["a", "b"], "_distance": [2.5, 3.0]})
    with pytest.raises(rerankit.InputError, match=r"the default lower bound -1\.0 is above the best score"):
        rerankit.get_reranker("linear", normalize="tm2c2").rerank_hybrid("q", far, _fts())
    ok = rerankit.get_reranker("linear", normalize="tm2c2", lower_bounds=[-3.0, 0.0]).rerank_hybrid("q", far, _fts())
    assert ok.num_rows == 5


@pytest.mark.parametrize("weights", [[1.0, math.nan], [1.0, -1.0], [1.0, math.inf], [True, 1.0], "11"])
@pytest.mark.parametrize("entry", ["rerank_multivector", "fuse_runs"])
def test_call_time_weights_are_checked_as_the_config_checks_them(entry: str, weights: Any) -> None:
    rrf = rerankit.get_reranker("rrf")
    with pytest.raises(rerankit.InputError, match="weights must be"):
        if entry == "fuse_runs":
            rrf.fuse_runs([_run(), _run()], weights=weights)
        else:
            rrf.rerank_multivector([_vec(), _vec()], weights=weights)
    assert rrf.rerank_multivector([_vec(), _vec()], weights=np.array([1.0, 2.0])).num_rows == 3


def test_a_scorer_returning_non_numbers_is_a_scoring_error() -> None:
    """A plugin's scores that are not numbers name the reranker, not a numpy conversion."""

    class Words(rerankit.Scorer):
        def score(self, query: str, texts: list[str]) -> list[Any]:
            return ["high"] * len(texts)

    reranker = rerankit.ScoringReranker("words", rerankit.RerankerConfig(), Words(rerankit.RerankerConfig()))
    with pytest.raises(rerankit.ScoringError, match="'words' returned scores that are not numbers \\(str\\)"):
        reranker.rerank("q", ["a", "b"])
