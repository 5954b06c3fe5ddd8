"""The shortcuts fusion takes for common inputs give what the general paths give.

Float32/float64 scores without nulls are checked on their numpy view instead of a cast; row ids in a
narrow range (one LanceDB fragment: ``fragment << 32 | offset``) are addressed directly, the few
rows of a search spread wide are sorted; the few rows of a search and the many of a large merge are
numbered two ways. Each is compared here with
the path it shortcuts, or with the independent reference.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rerankit
from tests.core import reference
from tests.core.strategies import fts_table, vector_table


def scores_by_id(table: pa.Table) -> dict[int, float]:
    return dict(zip(table["_rowid"].to_pylist(), table["_relevance_score"].to_pylist()))


def two_lists(max_rows: int) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    ids = st.lists(st.integers(0, 3 * max_rows), unique=True, max_size=max_rows)
    return st.tuples(ids, ids)


@settings(max_examples=25, deadline=None)
@given(two_lists(max_rows=300), st.sampled_from([0, 5 << 32]), st.sampled_from([1, 1 << 33]))
def test_rrf_hybrid_equals_reference_across_sizes_and_id_ranges(lists, offset, stride):
    """Up to 600 ids (every numbering of the merge), from 0 or from one fragment's base, dense or
    spread over many fragments (``stride``)."""
    vec, fts = ([offset + i * stride for i in ids] for ids in lists)
    out = rerankit.get_reranker("rrf").rerank_hybrid(
        "q", vector_table(vec, [0.5] * len(vec)), fts_table(fts, [1.0] * len(fts))
    )
    expected = reference.rrf([vec, fts])
    assert out["_rowid"].to_pylist() == reference.ordered(expected, reference.first_appearance(vec, fts))
    got = scores_by_id(out)
    assert all(got[rid] == pytest.approx(s, rel=1e-6) for rid, s in expected.items())


@pytest.mark.parametrize(
    ("offset", "stride"), [(0, 1), (5 << 32, 1), (0, 1 << 40)], ids=["dense", "one-fragment", "sparse"]
)
@pytest.mark.parametrize("rows", [10, 400])
def test_a_duplicate_rowid_is_refused_on_every_path(offset, stride, rows):
    fts_ids = [offset + i * stride for i in range(rows)]
    fts_ids[-1] = fts_ids[0]
    vec = vector_table([offset + (rows + i) * stride for i in range(3)], [0.1, 0.2, 0.3])
    with pytest.raises(rerankit.InputError, match=f"fts_results has duplicate _rowid values \\(e.g. {offset}\\)"):
        rerankit.get_reranker("rrf").rerank_hybrid("q", vec, fts_table(fts_ids, [1.0] * rows))
    with pytest.raises(rerankit.InputError, match=f"vector_results has duplicate _rowid values \\(e.g. {offset}\\)"):
        rerankit.get_reranker("rrf").rerank_hybrid("q", vector_table(fts_ids, [0.5] * rows), fts_table([], []))


def _with_scores(table: pa.Table, column: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


@pytest.mark.parametrize("name", ["rrf", "mrr", "linear"])
def test_native_float_scores_give_what_the_cast_path_gives(name):
    """float32 and float64 columns (their numpy view) fuse exactly as the same numbers held as
    integers, or split into chunks with a null-free float16 (cast to float64)."""
    rng = np.random.default_rng(3)
    vec_ids, fts_ids = list(range(40)), list(range(20, 70))
    dist = np.round(rng.random(40) * 8) / 8  # exact in float16, float32 and float64
    score = np.round(rng.random(50) * 20)
    vec, fts = vector_table(vec_ids, dist.tolist()), fts_table(fts_ids, score.tolist())
    reranker = rerankit.get_reranker(name)
    outputs = []
    types = [(pa.float32(), pa.float32()), (pa.float64(), pa.float64()), (pa.float16(), pa.int64())]
    for dist_type, score_type in types:
        v = _with_scores(vec, "_distance", pa.array(dist, pa.float64()).cast(dist_type))
        f = _with_scores(fts, "_score", pa.array(score, pa.float64()).cast(score_type))
        outputs.append(reranker.rerank_hybrid("q", v, f))
        outputs.append(reranker.rerank_vector("q", v))
        outputs.append(reranker.rerank_fts("q", f))
    chunked = _with_scores(fts, "_score", pa.chunked_array([pa.array(score[:25]), pa.array(score[25:])]))
    assert reranker.rerank_fts("q", chunked).equals(outputs[2])
    for i in range(3):
        assert outputs[i].equals(outputs[3 + i]), i
        assert outputs[i].equals(outputs[6 + i]), i


@pytest.mark.parametrize("name", ["rrf", "mrr", "linear"])
def test_one_list_already_in_order_gives_what_the_sort_and_take_give(name):
    """A list whose fused scores already descend (ties included) is returned with its scores
    appended, no sort or take; cutting it with top_n (which sorts and takes) gives its first rows."""
    dist = [0.0, 0.125, 0.125, 0.25, 0.5, 0.5, 0.75]
    vec = vector_table([40, 3, 17, 8, 99, 1, 5], dist)
    full = rerankit.get_reranker(name).rerank_vector("q", vec)
    cut = rerankit.get_reranker(name, top_n=len(dist) - 1).rerank_vector("q", vec)
    assert full["_rowid"].to_pylist() == [40, 3, 17, 8, 99, 1, 5]
    assert full.slice(0, len(dist) - 1).equals(cut)
