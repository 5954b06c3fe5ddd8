"""Hypothesis strategies for search result tables."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import strategies as st


@st.composite
def result_lists(draw, min_lists: int = 2, max_lists: int = 2, max_rows: int = 30):
    """Several result sets over a shared id space: (ids per list, distances, scores)."""
    n = draw(st.integers(min_lists, max_lists))
    pool = st.integers(0, 60)
    lists = [draw(st.lists(pool, unique=True, max_size=max_rows)) for _ in range(n)]
    # Few distinct values so ties are common and tie-breaking is exercised.
    values = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.5])
    dists = [[draw(values) for _ in ids] for ids in lists]
    scores = [[draw(values) * 10 for _ in ids] for ids in lists]
    return lists, dists, scores


def vector_table(ids: list[int], dists: list[float]) -> pa.Table:
    return pa.table(
        {
            "_rowid": pa.array(ids, pa.uint64()),
            "text": [f"doc {i}" for i in ids],
            "vector_side": [i * 2 for i in ids],
            "_distance": pa.array(dists, pa.float32()),
        }
    )


def fts_table(ids: list[int], scores: list[float]) -> pa.Table:
    return pa.table(
        {
            "_rowid": pa.array(ids, pa.uint64()),
            "text": [f"doc {i}" for i in ids],
            "_score": pa.array(scores, pa.float32()),
        }
    )
