"""``min_score``: one threshold with one meaning for every reranker. Rows whose score (calibrated,
where a calibration is set) is below it are dropped after ranking, with ``top_n``; the rest keep
their order. Local (a tiny cross-encoder saved by the test), hosted (a fake Cohere) and fusion
rerankers, every entry point and the async twins; an uncalibrated threshold warns once."""

from __future__ import annotations

import asyncio
import logging
import os

import numpy as np
import pyarrow as pa
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import rerankit
from rerankit.testing import FakeRerankServer
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, build_tiny


@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory):
    return str(build_tiny(tmp_path_factory.mktemp("min-score-ce")))


@pytest.fixture(scope="module")
def server():
    with FakeRerankServer("cohere", api_key="k") as srv:
        yield srv


@pytest.fixture(params=["local", "hosted"])
def make(request, tiny_ce, server):
    """Builds the local or the hosted scoring reranker with the given options."""
    if request.param == "local":
        return lambda **o: rerankit.get_reranker("crossencoder", model_name=tiny_ce, **o)
    return lambda **o: rerankit.get_reranker("cohere", api_key="k", base_url=server.url, **o)


def docs() -> pa.Table:
    return pa.table({"text": TEXTS, "_rowid": pa.array(range(len(TEXTS)), pa.uint64()),
                     "_distance": pa.array([0.1 * i for i in range(len(TEXTS))], pa.float32())})


def threshold_between(scores: list[float], rank: int) -> float:
    """A threshold that keeps exactly the best ``rank`` of the (sorted) scores."""
    return float((scores[rank - 1] + scores[rank]) / 2)


def kept(full: pa.Table, min_score: float, top_n: int | None = None) -> pa.Table:
    """What the reference says: the full ranking, cut to top_n, rows below min_score dropped."""
    cut = full if top_n is None else full.slice(0, top_n)
    return cut.filter(pa.array(cut["_relevance_score"].to_numpy() >= min_score))


def test_scoring_rerankers_drop_the_rows_below_it(make):
    full = make().rerank(QUERY, docs())
    cut = threshold_between(full["_relevance_score"].to_pylist(), 5)
    out = make(min_score=cut).rerank(QUERY, docs())
    assert out.num_rows == 5 and out.equals(full.slice(0, 5))
    assert make(min_score=cut, top_n=3).rerank(QUERY, docs()).equals(full.slice(0, 3))
    everything = float(np.float32(full["_relevance_score"].to_numpy().min()))
    assert make(min_score=everything).rerank(QUERY, docs()).equals(full)  # at the threshold: kept
    nothing = make(min_score=1e9).rerank(QUERY, docs())
    assert nothing.num_rows == 0 and nothing.schema == full.schema


def test_every_scoring_entry_point_and_async_twin(make):
    full = make().rerank(QUERY, docs())
    cut = threshold_between(full["_relevance_score"].to_pylist(), 4)
    r = make(min_score=cut)
    table = docs()
    half = [table.slice(0, 6), table.slice(6)]
    plain = make()
    calls = {
        "rerank": lambda x: x.rerank(QUERY, table),
        "vector": lambda x: x.rerank_vector(QUERY, table),
        "fts": lambda x: x.rerank_fts(QUERY, table.rename_columns(["text", "_rowid", "_score"])),
        "hybrid": lambda x: x.rerank_hybrid(QUERY, half[0], half[1].rename_columns(["text", "_rowid", "_score"])),
        "multivector": lambda x: x.rerank_multivector(half, QUERY),
        "batch": lambda x: x.rerank_batch([QUERY, QUERY], [table, half[1]])[1],
        "arerank": lambda x: asyncio.run(x.arerank(QUERY, table)),
        "avector": lambda x: asyncio.run(x.arerank_vector(QUERY, table)),
        "ahybrid": lambda x: asyncio.run(
            x.arerank_hybrid(QUERY, half[0], half[1].rename_columns(["text", "_rowid", "_score"]))),
        "abatch": lambda x: asyncio.run(x.arerank_batch([QUERY], [half[1]]))[0],
    }
    for name, call in calls.items():
        assert call(r).equals(kept(call(plain), cut)), name


def test_fusion_rerankers_drop_the_rows_below_it():
    vector = pa.table({"_rowid": pa.array([1, 2, 3, 4], pa.uint64()), "_distance": [0.1, 0.2, 0.3, 0.4]})
    fts = pa.table({"_rowid": pa.array([3, 5, 1], pa.uint64()), "_score": [9.0, 5.0, 1.0]})
    full = rerankit.get_reranker("rrf").rerank_hybrid("q", vector, fts)
    scores = full["_relevance_score"].to_pylist()
    cut = threshold_between(scores, 2)
    r = rerankit.get_reranker("rrf", min_score=cut)
    assert r.rerank_hybrid("q", vector, fts).equals(full.slice(0, 2))
    assert asyncio.run(r.arerank_hybrid("q", vector, fts)).equals(full.slice(0, 2))
    both = rerankit.get_reranker("rrf").rerank_multivector([vector, vector])  # 2 / (60 + rank)
    assert rerankit.get_reranker("rrf", min_score=0.032).rerank_multivector([vector, vector]).equals(both.slice(0, 2))
    # whole runs, many queries at once: the threshold applies per row, every query
    runs = [
        pa.table({"query_id": ["a", "a", "b"], "_rowid": [1, 2, 1], "score": [0.9, 0.5, 0.7]}),
        pa.table({"query_id": ["a", "b", "b"], "_rowid": [2, 2, 1], "score": [3.0, 2.0, 1.0]}),
    ]
    all_runs = rerankit.get_reranker("rrf").fuse_runs(runs)
    some = rerankit.get_reranker("rrf", min_score=1 / 61 + 1 / 62).fuse_runs(runs)
    assert some.equals(all_runs.filter(pa.array(all_runs["_relevance_score"].to_numpy() >= 1 / 61 + 1 / 62)))
    assert 0 < some.num_rows < all_runs.num_rows


def test_a_calibrated_threshold_is_a_probability(server):
    calibration = {"method": "isotonic", "x": [0.0, 0.3, 0.6], "y": [0.0, 0.4, 0.9]}
    r = rerankit.get_reranker("cohere", api_key="k", base_url=server.url, calibration=calibration, min_score=0.5)
    full = rerankit.get_reranker("cohere", api_key="k", base_url=server.url, calibration=calibration)
    out, ranked = r.rerank(QUERY, TEXTS), full.rerank(QUERY, TEXTS)
    assert out.equals(kept(ranked, 0.5))
    assert 0 < out.num_rows < ranked.num_rows  # the raw scores the fake gives straddle 0.3-0.6


def test_an_uncalibrated_threshold_warns_once(server, caplog):
    caplog.set_level(logging.WARNING, logger="rerankit")
    r = rerankit.get_reranker("cohere", api_key="k", base_url=server.url, min_score=0.2)
    r.rerank(QUERY, TEXTS)
    r.rerank(QUERY, TEXTS)
    warnings = [rec for rec in caplog.records if "min_score" in rec.getMessage()]
    assert len(warnings) == 1 and "not calibrated" in warnings[0].getMessage()
    caplog.clear()
    calibrated = rerankit.get_reranker(
        "cohere", api_key="k", base_url=server.url, min_score=0.2,
        calibration={"method": "platt", "slope": 3.0, "intercept": -1.0},
    )
    calibrated.rerank(QUERY, TEXTS)
    rerankit.get_reranker("rrf", min_score=0.01).rerank_fts("q", pa.table({"_score": [1.0]}))
    messages = [rec.getMessage() for rec in caplog.records if "min_score" in rec.getMessage()]
    assert len(messages) == 1 and "'rrf'" in messages[0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.5", True])
def test_a_threshold_must_be_a_finite_number(bad):
    with pytest.raises(rerankit.ConfigError, match="min_score"):
        rerankit.get_reranker("rrf", min_score=bad)
