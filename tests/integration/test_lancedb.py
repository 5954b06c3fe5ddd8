"""rerankit rerankers inside real LanceDB queries (embedded table, vectors and a full-text index)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from lancedb.rerankers import LinearCombinationReranker, MRRReranker, RRFReranker
from lancedb.rerankers import Reranker as LanceReranker

import rerankit
from rerankit.lancedb import to_lancedb
from tests.integration.integration_support import embed, make_table


@pytest.fixture
def table(tmp_path):
    return make_table(tmp_path)


LANCEDB_OWN = {"rrf": RRFReranker, "linear": LinearCombinationReranker, "mrr": MRRReranker}
QUERY = "red apple orchard"


def hybrid(tbl, query: str = QUERY, limit: int = 8, text=None):
    return tbl.search(query_type="hybrid").vector(embed(query)).text(text or query).limit(limit)


def term_count(query: str, text: str, bonus: float = 0.0) -> float:
    """What the fixture plugin's ``fixture-terms`` scorer computes: query words found in the text."""
    terms = set(query.lower().split())
    return sum(t in terms for t in text.lower().split()) + bonus


def ids(result: pa.Table) -> list[int]:
    return result["id"].to_pylist()


def assert_sorted_by_relevance(result: pa.Table) -> None:
    scores = result["_relevance_score"].to_numpy()
    assert result.schema.field("_relevance_score").type == pa.float32()
    assert np.all(np.diff(scores) <= 0), scores


# -- the wrapper -------------------------------------------------------------------------------
def test_importing_rerankit_does_not_import_lancedb():
    code = (
        "import sys, rerankit, rerankit.lancedb, rerankit._cli\n"
        "before = 'lancedb' in sys.modules\n"
        "rerankit.lancedb.to_lancedb('rrf')\n"
        "print(before, 'lancedb' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_wrapper_is_a_lancedb_reranker_following_return_score():
    wrapped = to_lancedb("rrf", K=30, return_score="all")
    assert isinstance(wrapped, LanceReranker)
    assert wrapped.score == "all"
    assert wrapped.reranker.config.K == 30
    assert to_lancedb("mrr").score == "relevance"
    assert str(wrapped) == "RRFReranker(K=30)" and "K=30" in repr(wrapped)  # LanceDB's str()
    assert type(wrapped).__name__ == "RRFReranker"  # the drop-in class of that kind


def test_wrapper_accepts_an_instance_a_mapping_and_a_config_file(tmp_path):
    built = rerankit.get_reranker("linear", weight=0.4)
    assert to_lancedb(built).reranker is built
    assert to_lancedb({"reranker": "linear", "weight": 0.2}, top_n=3).reranker.config.weight == 0.2
    path = tmp_path / "reranker.toml"
    path.write_text('reranker = "rrf"\nK = 7\n', encoding="utf-8")
    assert to_lancedb(path).reranker.config.K == 7


def test_wrapper_rejects_bad_arguments_with_typed_errors(tmp_path):
    with pytest.raises(rerankit.ConfigError, match="already built"):
        to_lancedb(rerankit.get_reranker("rrf"), K=3)
    with pytest.raises(rerankit.UnknownRerankerError, match="no reranker named 'nope'"):
        to_lancedb("nope")
    with pytest.raises(rerankit.ConfigError, match="unknown option 'k'"):
        to_lancedb("rrf", k=3)
    with pytest.raises(rerankit.ConfigError, match="got int"):
        to_lancedb(42)


def test_wrapper_pickles_by_name_and_config():
    restored = pickle.loads(pickle.dumps(to_lancedb("linear", weight=0.25, top_n=4)))
    assert isinstance(restored, LanceReranker)
    assert restored.reranker.name == "linear"
    assert (restored.reranker.config.weight, restored.reranker.top_n) == (0.25, 4)


# -- fusion through LanceDB's query builders ----------------------------------------------------
@pytest.mark.parametrize("return_score", ["relevance", "all"])
@pytest.mark.parametrize("name", sorted(LANCEDB_OWN))
def test_hybrid_fusion_matches_lancedb_own_rerankers(table, name, return_score):
    ours = hybrid(table).rerank(reranker=to_lancedb(name, return_score=return_score)).to_arrow()
    theirs = hybrid(table).rerank(reranker=LANCEDB_OWN[name](return_score=return_score)).to_arrow()
    assert ids(ours) == ids(theirs)
    np.testing.assert_allclose(
        ours["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy(), rtol=1e-6
    )
    assert_sorted_by_relevance(ours)
    if return_score == "all":
        for column in ("_distance", "_score"):
            assert ours[column].is_null().to_pylist() == theirs[column].is_null().to_pylist()
            np.testing.assert_allclose(
                pc.fill_null(ours[column], -1.0).to_numpy(), pc.fill_null(theirs[column], -1.0).to_numpy()
            )
    else:
        assert "_distance" not in ours.column_names and "_score" not in ours.column_names


@pytest.mark.parametrize("name", sorted(LANCEDB_OWN))
def test_hybrid_fusion_with_no_full_text_match(table, name):
    out = hybrid(table, "blue sky", text="zzzunknownword").rerank(reranker=to_lancedb(name)).to_arrow()
    plain = table.search(embed("blue sky")).limit(8).to_arrow()
    assert ids(out) == ids(plain)  # only the vector side: its order is kept


def test_vector_search_reranked_by_fusion_keeps_the_vector_order(table):
    plain = table.search(embed(QUERY)).limit(6).to_arrow()
    out = (
        table.search(embed(QUERY)).limit(6).rerank(reranker=to_lancedb("rrf"), query_string=QUERY).to_arrow()
    )
    assert ids(out) == ids(plain)
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), 1.0 / (60 + np.arange(1, 7)), rtol=1e-6)
    assert "_distance" not in out.column_names


def test_fts_search_reranked_by_linear_uses_the_bm25_score(table):
    plain = table.search("apple", query_type="fts").limit(10).to_arrow()
    out = table.search("apple", query_type="fts").limit(10).rerank(reranker=to_lancedb("linear")).to_arrow()
    assert sorted(ids(out)) == sorted(ids(plain)) and len(ids(out)) == 4
    by_id = dict(zip(ids(plain), plain["_score"].to_pylist(), strict=True))
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), [by_id[i] for i in ids(out)], rtol=1e-6)


def test_hybrid_top_n_keeps_the_best_rows(table):
    full = hybrid(table).rerank(reranker=to_lancedb("rrf")).to_arrow()
    top = hybrid(table).rerank(reranker=to_lancedb("rrf", top_n=3)).to_arrow()
    assert ids(top) == ids(full)[:3]


def test_multivector_fusion_matches_lancedb_and_runs_query_builders(table):
    searches = [table.search(embed("red apple")).limit(5), table.search(embed("fast car road")).limit(5)]
    results = [s.with_row_id(True).to_arrow() for s in searches]
    theirs = RRFReranker().rerank_multivector(results, QUERY)
    ours = to_lancedb("rrf").rerank_multivector(results, QUERY)
    assert ids(ours) == ids(theirs)
    np.testing.assert_allclose(ours["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy())
    builders = [table.search(embed("red apple")).limit(5), table.search(embed("fast car road")).limit(5)]
    from_builders = to_lancedb("rrf").rerank_multivector(builders, QUERY)  # run here, with row ids
    assert ids(from_builders) == ids(ours)
    assert len(set(ids(ours))) == len(ids(ours))


def test_multivector_weights_reach_the_fusion(table):
    results = [
        table.search(embed("red apple")).limit(4).with_row_id(True).to_arrow(),
        table.search(embed("fast car road")).limit(4).with_row_id(True).to_arrow(),
    ]
    out = to_lancedb("rrf").rerank_multivector(results, QUERY, weights=[0.0, 1.0])
    second = ids(results[1])
    assert ids(out)[: len(second)] == second  # only the second search counts


# -- a scoring reranker from an installed third-party plugin -------------------------------------
@pytest.mark.parametrize("return_score", ["relevance", "all"])
def test_vector_search_reranked_by_a_plugin_scorer(table, use_plugin_site, return_score):
    reranker = to_lancedb("fixture-terms", return_score=return_score)
    out = (
        table.search(embed("sky")).limit(6).rerank(reranker=reranker, query_string="blue sky sea").to_arrow()
    )
    assert len(out) == 6
    expected = [term_count("blue sky sea", t) for t in out["text"].to_pylist()]
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), expected)
    assert_sorted_by_relevance(out)
    assert ("_distance" in out.column_names) == (return_score == "all")


def test_fts_search_reranked_by_a_plugin_scorer_with_options(table, use_plugin_site):
    reranker = to_lancedb("fixture-terms", bonus=0.5, top_n=2)
    out = table.search("apple", query_type="fts").limit(10).rerank(reranker=reranker).to_arrow()
    assert len(out) == 2
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), [1.5, 1.5])
    assert "_score" not in out.column_names


def test_hybrid_with_a_plugin_scorer_scores_each_row_once(table, use_plugin_site):
    query = "apple cinnamon bread"
    vector = table.search(embed(query)).limit(5).to_arrow()
    fts = table.search(query, query_type="fts").limit(5).to_arrow()
    union = list(dict.fromkeys(ids(vector) + ids(fts)))  # vector rows first, then new FTS rows
    text = dict(
        zip(ids(vector) + ids(fts), vector["text"].to_pylist() + fts["text"].to_pylist(), strict=True)
    )
    counts = [term_count(query, text[i]) for i in union]
    best = [union[i] for i in np.argsort(-np.asarray(counts), kind="stable")][:5]  # ties keep union order
    out = hybrid(table, query, limit=5).rerank(reranker=to_lancedb("fixture-terms")).to_arrow()
    assert len(union) > 5, "both legs should contribute rows for this test to mean anything"
    assert ids(out) == best
    expected = [term_count(query, t) for t in out["text"].to_pylist()]
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), expected)
    assert_sorted_by_relevance(out)


def test_passages_inside_a_lancedb_query(table, use_plugin_site):
    """passages in a hybrid query: with aggregate='sum' and no overlap, the passages of 1 word
    (3 query words + 1 = max_length) add up to the whole text's count; offsets slice the row."""
    query = "apple cinnamon bread"
    whole = hybrid(table, query, limit=5).rerank(reranker=to_lancedb("fixture-terms")).to_arrow()
    reranker = to_lancedb(
        "fixture-terms", passages={"max_length": 4, "stride": 0, "aggregate": "sum"}, return_passage=True
    )
    out = hybrid(table, query, limit=5).rerank(reranker=reranker).to_arrow()
    assert ids(out) == ids(whole) and out["_relevance_score"].equals(whole["_relevance_score"])
    for row in out.to_pylist():
        assert row["text"][row["_passage_start"] : row["_passage_end"]] == row["_passage"]
        assert len(row["_passage"].split()) == 1 and term_count(query, row["_passage"]) == (row["_relevance_score"] > 0)


def test_hybrid_return_score_all_restores_the_original_scores(table, use_plugin_site):
    query = "apple cinnamon bread"
    vector = table.search(embed(query)).limit(8).to_arrow()
    fts = table.search(query, query_type="fts").limit(8).to_arrow()
    out = hybrid(table, query).rerank(reranker=to_lancedb("fixture-terms", return_score="all")).to_arrow()
    distance = dict(zip(ids(vector), vector["_distance"].to_pylist(), strict=True))
    score = dict(zip(ids(fts), fts["_score"].to_pylist(), strict=True))
    for row in out.to_pylist():
        assert row["_distance"] == pytest.approx(distance.get(row["id"]))  # None where only FTS found it
        assert row["_score"] == pytest.approx(score.get(row["id"]))
    assert any(r["_distance"] is None for r in out.to_pylist()) or any(
        r["_score"] is None for r in out.to_pylist()
    )


def test_hybrid_with_a_full_text_query_object_gives_the_scorer_its_text(table, use_plugin_site):
    from lancedb.query import MatchQuery

    query = "cinnamon bread"
    out = (
        table.search(query_type="hybrid")
        .vector(embed(query))
        .text(MatchQuery(query, "text"))
        .limit(6)
        .rerank(reranker=to_lancedb("fixture-terms"))
        .to_arrow()
    )
    expected = [term_count(query, t) for t in out["text"].to_pylist()]
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), expected)
    assert max(expected) == 2


def test_multivector_with_a_plugin_scorer_deduplicates_on_request(table, use_plugin_site):
    builders = [table.search(embed("red apple")).limit(5), table.search(embed("apple cake")).limit(5)]
    results = [b.with_row_id(True).to_arrow() for b in builders]
    overlap = set(ids(results[0])) & set(ids(results[1]))
    assert overlap, "the two searches should share rows for this test to mean anything"
    wrapped = to_lancedb("fixture-terms")
    kept = wrapped.rerank_multivector(results, "red apple cake")
    deduped = wrapped.rerank_multivector(results, "red apple cake", deduplicate=True)
    assert len(kept) == 10
    assert len(deduped) == 10 - len(overlap) and len(set(ids(deduped))) == len(deduped)
    expected = [term_count("red apple cake", t) for t in deduped["text"].to_pylist()]
    np.testing.assert_allclose(deduped["_relevance_score"].to_numpy(), expected)


def test_scorer_errors_reach_the_caller_typed(table, use_plugin_site):
    reranker = to_lancedb("fixture-terms", column="body")
    with pytest.raises(rerankit.MissingColumnError, match="'body'"):
        table.search("apple", query_type="fts").limit(5).rerank(reranker=reranker).to_arrow()


def test_hybrid_accepts_an_empty_side_without_rowid(table):
    # Older LanceDB releases hand over an empty result without a _rowid column.
    vector = table.search(embed(QUERY)).limit(4).with_row_id(True).to_arrow()
    empty_fts = pa.table({"id": pa.array([], pa.int64()), "_score": pa.array([], pa.float32())})
    out = to_lancedb("rrf").rerank_hybrid(QUERY, vector, empty_fts)
    assert ids(out) == ids(vector)


async def test_lancedb_async_queries_take_the_wrapper_too(tmp_path):
    import lancedb

    make_table(tmp_path)
    tbl = await (await lancedb.connect_async(str(tmp_path / "db"))).open_table("docs")

    def query():
        return tbl.query().nearest_to(embed(QUERY)).nearest_to_text(QUERY).limit(6)

    ours = await query().rerank(to_lancedb("linear")).to_arrow()
    theirs = await query().rerank(LinearCombinationReranker()).to_arrow()
    assert ids(ours) == ids(theirs)
    np.testing.assert_allclose(
        ours["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy(), rtol=1e-6
    )
    fts = await tbl.query().nearest_to_text("apple").limit(5).rerank(to_lancedb("rrf", top_n=2)).to_arrow()
    assert len(fts) == 2
