"""The output of every rerank call: scores attached, rows sorted, ``top_n`` applied.

The rules (stable ordering, nulls for scores a row never had, no row invented or dropped) hold
for every reranker, whatever computes its scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

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
    ``order`` (row numbers, best first) replaces the sort when the caller ranks by more than the score.
    """
    scores32 = np.asarray(scores, dtype=np.float32)
    if order is None:
        order = np.argsort(np.negative(scores32), kind="stable")
    if top_n is not None:
        order = order[:top_n]
    table = rows.table((*drop, RELEVANCE))
    src = order if rows.index is None else rows.index[order]
    out = table if _is_identity(src, table.num_rows) else table.take(src)
    if rows.index is not None:
        # the scores, and a column only some result sets have (e.g. one only the full-text search
        # returns): a row found by several takes the first value it has, so no column is lost
        partial = [
            n for n in table.column_names
            if n not in SCORE_COLUMNS and any(t.schema.get_field_index(n) < 0 for t in rows.inputs)
        ]
        for name in (*SCORE_COLUMNS, *partial):
            if table.schema.get_field_index(name) >= 0 and table[name].null_count:
                first = rows.first_valid(table[name])[order]
                fixed = table[name].take(pa.array(first, mask=first < 0))
                out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), fixed)
    out = out.append_column(pa.field(RELEVANCE, pa.float32()), pa.array(scores32[order], pa.float32()))
    for name, values in (columns or {}).items():
        out = out.append_column(name, values.take(pa.array(order)))
    return out


def _is_identity(src: np.ndarray, n: int) -> bool:
    return len(src) == n and bool(np.all(src == np.arange(n)))


