"""The output of every rerank call: scores attached, rows sorted, ``top_n`` applied.

The rules (stable ordering, nulls for scores a row never had, no row invented or dropped) hold
for every reranker, whatever computes its scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import RELEVANCE, SCORE_COLUMNS
from ._merge import Rows


def finish(
    rows: Rows,
    scores: np.ndarray,
    *,
    top_n: int | None,
    drop: Sequence[str] = (),
    columns: Mapping[str, pa.Array] | None = None,
    order: np.ndarray | None = None,
) -> pa.Table:
    """Attach ``_relevance_score`` (float32), sort descending, cut to ``top_n``, drop score columns.

    Ties keep input order (a stable sort on the float32 score), the same rule as LanceDB's
    ``sort_by``. Score columns a row never had are null, never invented. ``columns`` (one value
    per row, in row order) are appended after ``_relevance_score``, ordered like the rows.
    One list whose scores are already in descending order (fused by rank, say) skips the sort
    and the ``take``. ``order`` (row numbers, best first) replaces the sort when the caller ranks
    by more than the score.
    """
    scores32 = np.asarray(scores, dtype=np.float32)
    index = rows.index
    if order is None:
        if index is None and _descending(scores32):
            # one list already in order (what the stable sort returns): no sort, no take
            if not columns and (top_n is None or top_n >= len(scores32)):
                table, _ = rows.table((*drop, RELEVANCE))
                fresh = scores32 if scores32 is not scores else scores32.copy()
                return table.append_column(_RELEVANCE_FIELD, _arrow(fresh, np.float32))
            order = _ARANGE(len(scores32))
        else:
            order = np.negative(scores32).argsort(kind="stable")
    if top_n is not None:
        order = order[:top_n]
    table, uniform = rows.table((*drop, RELEVANCE))
    src = order if index is None else index[order]
    out = table if _is_identity(src, table.num_rows) else _TAKE.call([table, _arrow(src, np.int64)])
    if index is not None and not (uniform and (_DROPS_SCORES <= set(drop) or _no_score_columns(table.schema))):
        out = _first_values(rows, table, out, order, uniform)
    out = out.append_column(_RELEVANCE_FIELD, _arrow(scores32[order], np.float32))
    if columns:
        for name, values in columns.items():
            out = out.append_column(name, values.take(pa.array(order)))
    return out


def _descending(scores32: np.ndarray) -> bool:
    return len(scores32) < 2 or bool(_ALL(_LESS_EQUAL(scores32[1:], scores32[:-1])))


_LESS_EQUAL = np.less_equal
_ALL = np.logical_and.reduce
_ARANGE = np.arange


def _first_values(rows: Rows, table: pa.Table, out: pa.Table, order: np.ndarray, uniform: bool) -> pa.Table:
    """The scores, and a column only some result sets have (e.g. one only the full-text search
    returns): a row found by several takes the first value it has, so no column is lost."""
    schema = table.schema
    partial = () if uniform else [
        n for n in schema.names
        if n not in SCORE_COLUMNS and any(t.schema.get_field_index(n) < 0 for t in rows.inputs)
    ]
    for name in (*SCORE_COLUMNS, *partial):
        i = schema.get_field_index(name)
        if i >= 0 and table.column(i).null_count:
            first = rows.first_valid(table.column(i))[order]
            fixed = table.column(i).take(pa.array(first, mask=first < 0))
            out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), fixed)
    return out


_RELEVANCE_FIELD = pa.field(RELEVANCE, pa.float32())
_DROPS_SCORES = set(SCORE_COLUMNS)
_TAKE = pc.get_function("take")


def _no_score_columns(schema: pa.Schema) -> bool:
    """True for the relevance output (score columns dropped): then, with every result set's
    columns the same, there is no value to fill in from a later appearance."""
    return schema.get_field_index(SCORE_COLUMNS[0]) < 0 and schema.get_field_index(SCORE_COLUMNS[1]) < 0


def _arrow(values: np.ndarray, dtype: type[np.generic]) -> pa.Array:
    """``values`` as an Arrow array of ``dtype`` (int64 or float32), zero-copy where they already
    are (``pa.array`` would first probe for pandas' datetime types)."""
    values = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(_ARROW_TYPES[dtype], len(values), [None, pa.py_buffer(values)])


_ARROW_TYPES = {np.int64: pa.int64(), np.float32: pa.float32()}


def _is_identity(src: np.ndarray, n: int) -> bool:
    """Whether ``src`` is 0, 1, ..., n - 1 (then the table is its own ``take``)."""
    if len(src) != n:
        return False
    return n == 0 or (src[0] == 0 and src[-1] == n - 1 and bool(_ALL(src == _ARANGE(n))))
