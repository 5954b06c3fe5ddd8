"""The core README's output promises, each a named test (the README links here).

- "Every input row appears once with every column unchanged": :func:`test_every_column_unchanged`
  (a column only one search returns keeps its value for rows both found; ``string`` and
  ``large_string`` columns of two inputs are promoted, not refused).
- "Keys never shown": ``tests/core/test_secrets.py::test_key_never_shown`` (every registered
  reranker, fuzzed) and ``tests/adapters/test_keys_hidden.py`` (LanceDB drop-ins, adapters).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import rerankit

VEC = pa.table(
    {
        "_rowid": pa.array([1, 2, 3], pa.uint64()),
        "text": ["a", "b", "c"],
        "vector_only": [10, 20, 30],
        "_distance": [0.1, 0.2, 0.3],
    }
)
FTS = pa.table(
    {
        "_rowid": pa.array([3, 1, 4], pa.uint64()),
        "text": ["c", "a", "d"],
        "fts_only": ["x3", "x1", "x4"],
        "_score": [5.0, 4.0, 3.0],
    }
)


@pytest.mark.parametrize("name", ["rrf", "linear", "mrr"])
def test_every_column_unchanged(name: str) -> None:
    """Each row keeps the value of every column any search gave it, whichever side has it."""
    out = rerankit.get_reranker(name, return_score="all").rerank_hybrid("q", VEC, FTS)
    rows = {r["_rowid"]: r for r in out.to_pylist()}
    assert {k: (r["vector_only"], r["fts_only"]) for k, r in rows.items()} == {
        1: (10, "x1"), 2: (20, None), 3: (30, "x3"), 4: (None, "x4")
    }
    assert {k: (r["_distance"], r["_score"]) for k, r in rows.items()} == {
        1: (0.1, 4.0), 2: (0.2, None), 3: (0.3, 5.0), 4: (None, 3.0)
    }


def test_every_column_unchanged_across_string_and_large_string() -> None:
    """pandas gives large_string where Arrow gives string: the column is promoted, values unchanged."""
    fts = FTS.set_column(1, "text", FTS["text"].cast(pa.large_string()))
    out = rerankit.get_reranker("rrf").rerank_hybrid("q", VEC, fts)
    assert out.schema.field("text").type == pa.large_string()
    assert dict(zip(out["_rowid"].to_pylist(), out["text"].to_pylist())) == {1: "a", 2: "b", 3: "c", 4: "d"}


def test_a_real_type_clash_is_still_an_input_error() -> None:
    fts = FTS.set_column(1, "text", pa.array([1, 2, 3]))
    with pytest.raises(rerankit.InputError, match="column 'text' is string in vector_results but int64"):
        rerankit.get_reranker("rrf").rerank_hybrid("q", VEC, fts)
