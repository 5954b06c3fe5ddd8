"""rerankit.batch: many queries' candidates reranked group by group, record batches in and out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import rerankit
from rerankit.batch import GroupReranker, as_reranker, rerank_batches
from rerankit.testing import fake_score
from tests.core.batch_data import candidates


class OverlapScorer(rerankit.Scorer):
    """Deterministic scores (rerankit.testing.fake_score); counts its calls."""

    def __init__(self, config: rerankit.RerankerConfig) -> None:
        super().__init__(config)
        self.calls: list[int] = []

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        return [fake_score(query, t) for t in texts]

    def score_batch(self, queries, texts, max_concurrency=16):
        self.calls.append(len(queries))
        return super().score_batch(queries, texts, max_concurrency)


def scoring(**options) -> rerankit.ScoringReranker:
    config = rerankit.RerankerConfig(**options)
    return rerankit.ScoringReranker("overlap", config, OverlapScorer(config))


def per_group(table: pa.Table, fn) -> list[pa.Table]:
    """fn(query, rows) for each group, in order of first appearance."""
    outs = []
    for key in dict.fromkeys(table["query_id"].to_pylist()):
        rows = table.filter(pc.equal(table["query_id"], key))
        outs.append(fn(rows["query"][0].as_py(), rows))
    return outs


def collect(batches) -> pa.Table:
    return pa.Table.from_batches(list(batches))


def with_rank(out: pa.Table) -> pa.Table:
    return out.append_column(pa.field("_rank", pa.int32()), pa.array(np.arange(1, out.num_rows + 1), pa.int32()))


def sort_group(rows: pa.Table) -> pa.Table:
    return rows.sort_by([("_distance", "ascending"), ("_rowid", "ascending")])


# -- what comes out ------------------------------------------------------------------------------
def test_each_group_is_reranked_whole_and_ranked() -> None:
    table = candidates(7)
    reranker = scoring(top_n=4)
    out = collect(rerank_batches(table.to_batches(max_chunksize=5), reranker, batch_size=3))
    expected = pa.concat_tables(per_group(table, lambda q, rows: with_rank(reranker.rerank(q, sort_group(rows)))))
    assert out.equals(expected)
    assert out.schema.field("_rank").type == pa.int32()
    assert out.schema.names == [*[c for c in table.column_names if c not in ("_distance", "_score")],
                                "_relevance_score", "_rank"]
    assert reranker.scorer.calls == [3, 3, 1]  # three groups per call: one call per batch_size groups


def test_rows_within_a_group_may_arrive_in_any_order() -> None:
    """The order inside a group is fixed by the data (search score, then _rowid), as a shuffle needs."""
    table = candidates(7, seed=3)
    shuffled = pa.concat_tables(
        per_group(table, lambda q, rows: rows.take(np.random.default_rng(1).permutation(rows.num_rows)))
    )
    for reranker in (scoring(return_score="all"), rerankit.get_reranker("rrf")):
        a = collect(rerank_batches([table], reranker))
        b = collect(rerank_batches(shuffled.to_batches(max_chunksize=4), reranker))
        assert a.equals(b)


def test_hybrid_groups_by_source_column_match_rerank_hybrid() -> None:
    table = candidates(7, hybrid=True)
    for reranker in (rerankit.get_reranker("rrf", return_score="all"), rerankit.get_reranker("linear", top_n=3),
                     scoring()):
        out = collect(rerank_batches(table.to_batches(max_chunksize=6), reranker, batch_size=2))

        def hybrid(query: str, rows: pa.Table, r=reranker) -> pa.Table:
            vec = rows.filter(pc.equal(rows["source"], "vector")).sort_by([("_distance", "ascending")])
            fts = rows.filter(pc.equal(rows["source"], "fts")).sort_by([("_score", "descending")])
            return with_rank(r.rerank_hybrid(query, vec, fts))

        assert out.equals(pa.concat_tables(per_group(table, hybrid), promote_options="default"))


def test_fusion_needs_no_query_column() -> None:
    table = candidates(7).drop_columns(["query"])
    out = collect(rerank_batches([table], "rrf"))
    assert out.num_rows == table.num_rows
    assert pc.all(pc.greater_equal(out["_rank"], 1)).as_py()


def test_the_reranker_may_be_a_name_a_mapping_or_a_config_file(tmp_path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('reranker = "rrf"\nK = 10\ntop_n = 2\n', encoding="utf-8")
    built = rerankit.get_reranker("rrf", K=10, top_n=2)
    table = candidates(7)
    expected = collect(rerank_batches([table], built))
    for spec in (path, str(path), {"reranker": "rrf", "K": 10, "top_n": 2}):
        assert collect(rerank_batches([table], spec)).equals(expected)
    assert as_reranker("rrf").name == "rrf"
    with pytest.raises(rerankit.ConfigError, match="reranker must be"):
        as_reranker(42)


def test_empty_input_gives_no_batches() -> None:
    assert list(rerank_batches([], "rrf")) == []
    assert list(rerank_batches([candidates(7).slice(0, 0)], "rrf")) == []


def test_group_reranker_pickles_by_name_and_config() -> None:
    import pickle

    groups = GroupReranker(rerankit.get_reranker("rrf", K=5), group_column="qid")
    clone = pickle.loads(pickle.dumps(groups))
    assert clone.reranker.config == groups.reranker.config and clone.group_column == "qid"


# -- errors --------------------------------------------------------------------------------------
def test_a_group_that_comes_back_is_an_error() -> None:
    table = candidates(7)
    first = table.filter(pc.equal(table["query_id"], "q0"))
    broken = pa.concat_tables([first.slice(0, 1), table.filter(pc.equal(table["query_id"], "q1")), first.slice(1)])
    with pytest.raises(rerankit.InputError, match=r"query_id='q0' are not together.*sort or group the input"):
        collect(rerank_batches(broken.to_batches(max_chunksize=2), "rrf"))


def test_a_null_text_names_its_group() -> None:
    table = candidates(7)
    texts = table["text"].to_pylist()
    bad = table["query_id"].to_pylist().index("q4") + 1
    texts[bad] = None
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    with pytest.raises(rerankit.InputError, match=r"group query_id='q4': results column 'text' has 1 null"):
        collect(rerank_batches([table], scoring(), batch_size=10))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda t: t.drop_columns(["query_id"]), rerankit.MissingColumnError,
         r"batches\[0\] has no column 'query_id'.*pass group_column="),
        (lambda t: t.drop_columns(["query"]), rerankit.MissingColumnError,
         r"the group has no column 'query'.*pass query_column="),
        (lambda t: t.set_column(0, "query_id", pa.array([None] * t.num_rows, pa.string())), rerankit.InputError,
         r"column 'query_id' has \d+ null value\(s\)"),
        (lambda t: t.set_column(1, "query", pa.array([f"q{i}" for i in range(t.num_rows)])), rerankit.InputError,
         r"group query_id='q0' has different values in column 'query'"),
        (lambda t: t.append_column("source", pa.array(["dense"] * t.num_rows)), rerankit.InputError,
         r"column 'source' holds dense; .* 'vector' or 'fts'"),
    ],
)
def test_bad_input_is_a_clear_error(change, error, message) -> None:
    with pytest.raises(error, match=message):
        collect(rerank_batches([change(candidates(7))], scoring()))


def test_fusion_needs_each_lists_ranking_in_the_data() -> None:
    table = candidates(7).drop_columns(["_distance", "_score"])
    with pytest.raises(rerankit.InputError, match=r"group query_id='q0': its rows have no '_distance' value"):
        collect(rerank_batches([table], "rrf"))
    hybrid = candidates(7, hybrid=True).drop_columns(["_score"])
    with pytest.raises(rerankit.InputError, match=r"its fts rows have no '_score' value"):
        collect(rerank_batches([hybrid], "rrf"))


@pytest.mark.parametrize("option", ["batch_size", "max_concurrency"])
def test_sizes_must_be_positive(option) -> None:
    with pytest.raises(rerankit.ConfigError, match=f"{option} must be a whole number"):
        collect(rerank_batches([candidates(7)], "rrf", **{option: 0}))
