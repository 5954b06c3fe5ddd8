"""The Reranker API through a real third-party scorer plugin and the fusion built-ins:
inputs, outputs, async twins, batches, and every bad input's typed error."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import rerankit

QUERY = "apple pie"


@pytest.fixture
def terms(use_plugin_site):
    return rerankit.get_reranker("fixture-terms")


def vec():
    return pa.table(
        {
            "_rowid": pa.array([1, 2, 3], pa.uint64()),
            "text": ["pear tart", "apple pie", "apple crumble"],
            "_distance": pa.array([0.1, 0.2, 0.3], pa.float32()),
        }
    )


def fts():
    return pa.table(
        {
            "_rowid": pa.array([2, 4], pa.uint64()),
            "text": ["apple pie", "pie chart"],
            "_score": pa.array([3.0, 1.0], pa.float32()),
        }
    )


# -- scoring rerankers -------------------------------------------------------------------------
def test_rerank_vector_and_fts(terms):
    out = terms.rerank_vector(QUERY, vec())
    assert out["_rowid"].to_pylist() == [2, 3, 1]
    assert out.column_names == ["_rowid", "text", "_relevance_score"]
    out = terms.rerank_fts(QUERY, fts())
    assert out["_rowid"].to_pylist() == [2, 4]
    assert "_score" not in out.column_names


def test_rerank_hybrid_keeps_both_scores_with_return_score_all(use_plugin_site):
    r = rerankit.get_reranker("fixture-terms", return_score="all")
    out = r.rerank_hybrid(QUERY, vec(), fts())
    assert out["_rowid"].to_pylist() == [2, 3, 4, 1]  # ties (3 and 4 score 1) keep input order
    rows = {row["_rowid"]: row for row in out.to_pylist()}
    assert rows[2]["_distance"] == pytest.approx(0.2) and rows[2]["_score"] == 3.0
    assert rows[4]["_distance"] is None and rows[1]["_score"] is None
    assert out.schema.field("_relevance_score").type == pa.float32()


def test_rerank_multivector_concatenates_and_optionally_deduplicates(terms):
    out = terms.rerank_multivector([vec(), vec()], query=QUERY)
    assert out.num_rows == 6
    out = terms.rerank_multivector([vec(), vec()], query=QUERY, deduplicate=True)
    assert out["_rowid"].to_pylist() == [2, 3, 1]
    with pytest.raises(rerankit.InputError, match="query must be a non-empty string"):
        terms.rerank_multivector([vec()])


@pytest.mark.parametrize(
    "docs",
    [
        ["pear tart", "apple pie"],
        [{"text": "pear tart", "id": 1}, {"text": "apple pie", "id": 2}],
        pa.table({"text": ["pear tart", "apple pie"]}),
        pa.RecordBatch.from_pydict({"text": ["pear tart", "apple pie"]}),
        pd.DataFrame({"text": ["pear tart", "apple pie"]}),
        pl.DataFrame({"text": ["pear tart", "apple pie"]}),
    ],
    ids=["strings", "dicts", "table", "batch", "pandas", "polars"],
)
def test_rerank_accepts_lists_tables_and_dataframes(terms, docs):
    out = terms.rerank(QUERY, docs)
    assert isinstance(out, pa.Table)
    assert out["text"].to_pylist() == ["apple pie", "pear tart"]


def test_objects_with_to_arrow_are_accepted(terms):
    class QueryBuilder:  # what LanceDB's unexecuted searches offer
        def to_arrow(self):
            return vec()

    out = rerankit.get_reranker("rrf").rerank_multivector([QueryBuilder(), QueryBuilder()])
    assert out["_rowid"].to_pylist() == [1, 2, 3]
    assert terms.rerank_vector(QUERY, QueryBuilder())["_rowid"].to_pylist() == [2, 3, 1]


def test_top_n_and_column_templates_and_nested_fields(use_plugin_site):
    docs = [
        {"title": "apple", "body": "tart", "meta": {"summary": "pear"}},
        {"title": "apple", "body": "pie", "meta": {"summary": "apple pie"}},
    ]
    r = rerankit.get_reranker("fixture-terms", column="{title} {body}", top_n=1)
    assert r.rerank(QUERY, docs)["body"].to_pylist() == ["pie"]
    r = rerankit.get_reranker("fixture-terms", column="meta.summary")
    assert r.rerank(QUERY, docs)["title"].to_pylist() == ["apple", "apple"]
    assert r.rerank(QUERY, docs)["_relevance_score"].to_pylist() == [2.0, 0.0]


async def test_async_twins_equal_sync(terms):
    assert (await terms.arerank_vector(QUERY, vec())).equals(terms.rerank_vector(QUERY, vec()))
    assert (await terms.arerank_fts(QUERY, fts())).equals(terms.rerank_fts(QUERY, fts()))
    assert (await terms.arerank_hybrid(QUERY, vec(), fts())).equals(terms.rerank_hybrid(QUERY, vec(), fts()))
    assert (await terms.arerank_multivector([vec()], QUERY)).equals(terms.rerank_multivector([vec()], QUERY))
    assert (await terms.arerank(QUERY, ["a", "apple"])).equals(terms.rerank(QUERY, ["a", "apple"]))
    rrf = rerankit.get_reranker("rrf")
    assert (await rrf.arerank_hybrid(QUERY, vec(), fts())).equals(rrf.rerank_hybrid(QUERY, vec(), fts()))


async def test_batches_sync_and_async(terms):
    queries = ["apple", "pie", "tart"]
    results = [vec(), fts(), ["pear tart", "tart"]]
    sync = terms.rerank_batch(queries, results)
    assert [t.num_rows for t in sync] == [3, 2, 2]
    assert sync[0]["_rowid"].to_pylist()[:2] == [2, 3]
    assert sync[2]["_relevance_score"].to_pylist() == [1.0, 1.0]
    got = await terms.arerank_batch(queries, results, max_concurrency=2)
    assert all(a.equals(b) for a, b in zip(got, sync))
    with pytest.raises(rerankit.InputError, match="queries has 2 item"):
        terms.rerank_batch(["a", "b"], [vec()])


def test_zero_rows_give_zero_rows(terms):
    empty = vec().slice(0, 0)
    out = terms.rerank_vector(QUERY, empty)
    assert out.num_rows == 0 and out.schema.field("_relevance_score").type == pa.float32()
    out = rerankit.get_reranker("rrf").rerank_hybrid(QUERY, empty, fts().slice(0, 0))
    assert out.num_rows == 0 and "_relevance_score" in out.column_names
    assert terms.rerank(QUERY, []).num_rows == 0


def test_existing_relevance_column_is_replaced_when_chaining(terms):
    once = rerankit.get_reranker("rrf").rerank_vector(QUERY, vec())
    twice = terms.rerank_vector(QUERY, once)
    assert twice.column_names.count("_relevance_score") == 1
    assert twice["_rowid"].to_pylist() == [2, 3, 1]


# -- bad input ---------------------------------------------------------------------------------
def test_missing_text_column(terms):
    with pytest.raises(rerankit.MissingColumnError) as info:
        terms.rerank_vector(QUERY, vec().rename_columns(["_rowid", "body", "_distance"]))
    assert info.value.column == "text"
    assert "no column 'text'" in str(info.value) and "pass column=" in str(info.value)


def test_null_text(terms):
    table = pa.table({"text": ["apple", None, None]})
    with pytest.raises(rerankit.InputError, match=r"column 'text' has 2 null value\(s\) \(rows \[1, 2\]\); fill"):
        terms.rerank(QUERY, table)


def test_non_text_column(use_plugin_site):
    with pytest.raises(rerankit.InputError, match="column '_rowid' has type uint64, not text"):
        rerankit.get_reranker("fixture-terms", column="_rowid").rerank_vector(QUERY, vec())


@pytest.mark.parametrize("name", ["rrf", "fixture-terms"])
def test_hybrid_needs_rowid(use_plugin_site, name):
    message = r"vector_results has no column '_rowid'.*with_row_id\(True\)"
    with pytest.raises(rerankit.MissingColumnError, match=message):
        rerankit.get_reranker(name).rerank_hybrid(QUERY, vec().drop_columns(["_rowid"]), fts())


def test_multivector_fusion_needs_rowid():
    with pytest.raises(rerankit.MissingColumnError, match=r"vector_results\[1\] has no column '_rowid'"):
        rerankit.get_reranker("rrf").rerank_multivector([vec(), vec().drop_columns(["_rowid"])])
    with pytest.raises(rerankit.MissingColumnError, match=r"vector_results\[0\] has no column '_rowid'"):
        rerankit.get_reranker("rrf").rerank_multivector([vec().drop_columns(["_rowid"])])


def test_duplicate_and_null_rowids():
    dup = pa.table({"_rowid": pa.array([1, 1], pa.uint64()), "text": ["a", "b"], "_score": [0.1, 0.2]})
    with pytest.raises(rerankit.InputError, match="fts_results has duplicate _rowid values"):
        rerankit.get_reranker("rrf").rerank_hybrid(QUERY, vec(), dup)
    first = pa.table({"_rowid": pa.array([7, 8, 7], pa.uint64()), "text": ["a", "b", "c"]})
    with pytest.raises(rerankit.InputError, match=r"vector_results has duplicate _rowid values \(e.g. 7\)"):
        rerankit.get_reranker("rrf").rerank_hybrid(QUERY, first, fts())
    nulls = pa.table({"_rowid": pa.array([1, None], pa.uint64()), "text": ["a", "b"]})
    with pytest.raises(rerankit.InputError, match="'_rowid' has 1 null value"):
        rerankit.get_reranker("rrf").rerank_hybrid(QUERY, nulls, fts())


def test_rowid_types_must_match():
    signed = fts().set_column(0, "_rowid", pa.array([2, 4], pa.int64()))
    message = "column '_rowid' is uint64 in vector_results but int64 in fts_results"
    with pytest.raises(rerankit.InputError, match=message):
        rerankit.get_reranker("rrf").rerank_hybrid(QUERY, vec(), signed)


def test_mismatched_schemas_name_the_column():
    other = fts().set_column(1, "text", pa.array([1, 2]))
    with pytest.raises(rerankit.InputError, match="column 'text' is string in vector_results but int64 in fts_results"):
        rerankit.get_reranker("rrf").rerank_hybrid(QUERY, vec(), other)


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ("just a string", "docs must be a pyarrow Table, a dataframe, or a list"),
        (["a", {"text": "b"}], "list of all strings or all dicts; got a mix of dict, str"),
        (pa.table({}), "docs has no columns"),
        (42, "got int"),
    ],
)
def test_unusable_docs(terms, docs, message):
    with pytest.raises(rerankit.InputError, match=message):
        terms.rerank(QUERY, docs)


def test_linear_needs_scores():
    with pytest.raises(rerankit.InputError, match="linear method needs scores"):
        rerankit.get_reranker("linear").rerank_vector(QUERY, vec().drop_columns(["_distance"]))


def test_template_errors_name_the_field(use_plugin_site):
    r = rerankit.get_reranker("fixture-terms", column="{title}: {text}")
    with pytest.raises(rerankit.MissingColumnError, match="names 'title', which the results lack"):
        r.rerank_vector(QUERY, vec())
    r = rerankit.get_reranker("fixture-terms", column="meta.nope")
    with pytest.raises(rerankit.MissingColumnError, match="no field path 'nope'"):
        r.rerank(QUERY, [{"meta": {"x": "a"}}])


def test_scorer_output_is_checked(use_plugin_site):
    class Broken(rerankit.Scorer):
        def score(self, query, texts):
            return [float("nan")] * len(texts)

    r = rerankit.ScoringReranker("broken", rerankit.RerankerConfig(), Broken(rerankit.RerankerConfig()))
    with pytest.raises(rerankit.ScoringError, match="non-finite score"):
        r.rerank(QUERY, ["a"])
    assert asyncio.run(rerankit.get_reranker("fixture-terms").arerank(QUERY, ["apple"])).num_rows == 1
    bonus = rerankit.get_reranker("fixture-terms", bonus=0.5).rerank(QUERY, ["x"])
    assert np.isclose(bonus["_relevance_score"][0].as_py(), 0.5)


class CountingScorer(rerankit.Scorer):
    """Scores by length; module level so a hand-built reranker can pickle by value."""

    def score(self, query, texts):
        return [float(len(t)) for t in texts]


def test_hand_built_scoring_reranker_needs_no_registry() -> None:
    # Built without get_reranker: the core's own text selection, no entry-point scan, pickled by value.
    import rerankit._registry as registry_module

    registry_module.reset_registry()
    cfg = rerankit.RerankerConfig(column="{title}: {text}")
    reranker = rerankit.ScoringReranker("by-length", cfg, CountingScorer(cfg))
    out = reranker.rerank("q", [{"title": "a", "text": "bb"}, {"title": "ccc", "text": "dddd"}])
    assert out["title"].to_pylist() == ["ccc", "a"] and out["_relevance_score"].to_pylist() == [9.0, 5.0]
    assert registry_module._registry is None  # nothing asked the registry for anything
    clone = pickle.loads(pickle.dumps(reranker))
    assert type(clone.scorer) is CountingScorer and clone.config == cfg
    again = clone.rerank("q", [{"title": "a", "text": "bb"}, {"title": "ccc", "text": "dddd"}])
    assert again.equals(out)
