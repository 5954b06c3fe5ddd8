"""LanceDB's own queries with rerankit behind them take ``min_score``, a ``calibration`` and the
``cascade`` reranker: through ``to_lancedb`` and LanceDB's class names (``min_score`` is an
attribute there, set to rebuild), a query returns what the reranker itself keeps, in order."""

from __future__ import annotations

import pyarrow as pa
import pytest

import rerankit
import rerankit.lancedb as ours
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY
from tests.integration.integration_support import embed, make_table

QUERY = "red apple orchard"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("scores"))


@pytest.fixture(scope="module")
def server():
    with FakeRerankServer("cohere", api_key=KEY) as srv:
        yield srv


def fts(table, limit=10):
    return table.search(QUERY, query_type="fts").limit(limit)


def hybrid(table, limit=10):
    return table.search(query_type="hybrid").vector(embed(QUERY)).text(QUERY).limit(limit)


def reference(reranker: rerankit.Reranker, rows: pa.Table) -> list[int]:
    return reranker.rerank_fts(QUERY, rows)["id"].to_pylist()


def test_to_lancedb_with_min_score_calibration_and_cascade(table, server):
    cohere = {"reranker": "cohere", "api_key": KEY, "base_url": server.url}
    rows = fts(table).with_row_id(True).to_arrow()
    for config in (
        {**cohere, "min_score": 0.5},
        {**cohere, "calibration": {"method": "isotonic", "x": [0.0, 0.7], "y": [0.1, 0.9]}, "min_score": 0.5},
        {"reranker": "cascade", "stages": [{**cohere, "keep": 3}, cohere], "min_score": 0.5},
    ):
        want = reference(rerankit.from_config(config), rows)
        assert 0 < len(want) < rows.num_rows, config
        out = fts(table).rerank(reranker=ours.to_lancedb(config)).to_arrow()
        assert out["id"].to_pylist() == want


def test_drop_in_classes_take_min_score_as_an_attribute(table, server):
    reranker = ours.CohereReranker(api_key=KEY, base_url=server.url)
    every = fts(table).rerank(reranker=reranker).to_arrow()
    scores = every["_relevance_score"].to_pylist()
    reranker.min_score = (scores[1] + scores[2]) / 2
    assert reranker.min_score == pytest.approx((scores[1] + scores[2]) / 2)
    assert fts(table).rerank(reranker=reranker).to_arrow()["id"].to_pylist() == every["id"].to_pylist()[:2]
    rrf = ours.RRFReranker()
    fused = hybrid(table).rerank(reranker=rrf).to_arrow()
    rrf.min_score = float(fused["_relevance_score"][2].as_py())  # at the threshold: kept
    assert hybrid(table).rerank(reranker=rrf).to_arrow()["id"].to_pylist() == fused["id"].to_pylist()[:3]
