"""The kit's own assertions catch each way an output can be wrong, and importing rerankit never
imports the kit (or pytest)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import rerankit
from rerankit.testing import assert_reranked, assert_same_ranking, data, expected_union


@pytest.fixture
def good() -> tuple[pa.Table, pa.Table]:
    """A correct hybrid reranking (return_score='all') and the rows it was made from."""
    vec, fts = data.vector_results(), data.fts_results()
    out = rerankit.get_reranker("rrf", return_score="all").rerank_hybrid(data.QUERY, vec, fts)
    return out, expected_union([vec, fts])


def test_a_correct_output_passes(good) -> None:
    out, expected = good
    assert_reranked(out, expected, return_score="all")
    assert_reranked(out.slice(0, 4), expected, top_n=4, return_score="all")
    assert_same_ranking(out, out, "itself")
    assert_same_ranking(out.slice(0, 3), out, "head", head=True)


def _set(table: pa.Table, name: str, values: list) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(name), pa.array(values, table.schema.field(name).type))


MUTATIONS = {
    "a value altered": lambda t: _set(t, "title", ["changed", *t["title"].to_pylist()[1:]]),
    "a null filled": lambda t: _set(t, "n", [0 if v is None else v for v in t["n"].to_pylist()]),
    "a row lost": lambda t: t.slice(1),
    "a row duplicated": lambda t: pa.concat_tables([t, t.slice(0, 1)]),
    "a row invented": lambda t: pa.concat_tables([t.slice(0, t.num_rows - 1), t.slice(0, 1)]),
    "unsorted": lambda t: t.take(pa.array(list(range(t.num_rows))[::-1])),
    "float64 score": lambda t: t.set_column(
        t.num_columns - 1, "_relevance_score", pc.cast(t["_relevance_score"], pa.float64())
    ),
    "score not last": lambda t: t.select(["_relevance_score", *t.column_names[:-1]]),
    "a column dropped": lambda t: t.drop_columns(["tags"]),
    "a column retyped": lambda t: _set(t, "n", t["n"].to_pylist()).cast(
        t.schema.set(t.schema.get_field_index("n"), pa.field("n", pa.float64()))
    ),
    "a null score": lambda t: _set(t, "_relevance_score", [None, *t["_relevance_score"].to_pylist()[1:]]),
    "_score dropped in 'all' mode": lambda t: t.drop_columns(["_score"]),
    "_distance invented": lambda t: _set(t, "_distance", [0.5 if v is None else v for v in t["_distance"].to_pylist()]),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_assert_reranked_catches(good, mutation: str) -> None:
    out, expected = good
    with pytest.raises(AssertionError):
        assert_reranked(MUTATIONS[mutation](out), expected, return_score="all")


def test_relevance_mode_requires_score_columns_gone(good) -> None:
    out, expected = good
    with pytest.raises(AssertionError, match="_distance/_score dropped"):
        assert_reranked(out, expected, return_score="relevance")


def test_top_n_is_checked(good) -> None:
    out, expected = good
    with pytest.raises(AssertionError, match="expected 3 row"):
        assert_reranked(out.slice(0, 4), expected, top_n=3, return_score="all")


def test_assert_same_ranking_tolerates_noise_only(good) -> None:
    out, _ = good
    scores = out["_relevance_score"].to_pylist()
    noisy = _set(out, "_relevance_score", [s * (1 + 1e-7) for s in scores])
    assert_same_ranking(noisy, out, "float noise")
    shifted = _set(out, "_relevance_score", [s + 0.01 for s in scores])
    with pytest.raises(AssertionError, match="scores differ"):
        assert_same_ranking(shifted, out, "shifted")
    swapped = out.take(pa.array([1, 0, *range(2, out.num_rows)]))
    swapped = _set(swapped, "_relevance_score", scores)
    with pytest.raises(AssertionError, match="not in the expected ranking"):
        assert_same_ranking(swapped, out, "rows swapped without a tie")
    with pytest.raises(AssertionError, match="rows"):
        assert_same_ranking(out.slice(1), out, "shorter")


def test_import_rerankit_does_not_import_the_kit_or_pytest() -> None:
    code = (
        "import json, sys, rerankit; rerankit.get_reranker('rrf').rerank_fts('q', "
        "[{'_rowid': 1, '_score': 1.0}]); print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('pytest', '_pytest') or m.startswith('rerankit.testing'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []
