"""Arrow plumbing: turn inputs into tables, merge result sets by ``_rowid``, and order the output.

Everything here is vectorized with numpy and pyarrow compute; no per-row Python loops. The rules
(stable ordering, nulls for scores a row never had, no row invented or dropped) are the data model
of DESIGN.md and hold for every reranker, whatever computes its scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, MissingColumnError

ROWID = "_rowid"
DISTANCE = "_distance"
SCORE = "_score"
RELEVANCE = "_relevance_score"
SCORE_COLUMNS = (DISTANCE, SCORE)


def as_table(data: Any, argument: str, text_column: str = "text") -> pa.Table:
    """Coerce a result set to a ``pyarrow.Table``.

    Accepts a Table, a RecordBatch or reader, anything exporting ``__arrow_c_stream__`` (pandas,
    polars, DuckDB), a list of dicts, or a list of strings (put into ``text_column``).
    """
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
    elif hasattr(data, "__arrow_c_stream__") or _is_pandas(data):
        table = pa.table(data)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise InputError(
            f"{argument} must be a pyarrow Table, a dataframe, or a list of strings or dicts; "
            f"got {type(data).__name__}"
        )
    elif len(data) == 0:
        table = pa.table({text_column: pa.array([], pa.string())})
    elif all(isinstance(item, str) for item in data):
        table = pa.table({text_column: pa.array(list(data), pa.string())})
    elif all(isinstance(item, Mapping) for item in data):
        try:
            table = pa.Table.from_pylist([dict(item) for item in data])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(f"{argument}: the dicts do not form one table: {exc}") from None
    else:
        kinds = sorted({type(item).__name__ for item in data})
        raise InputError(
            f"{argument} must be a list of all strings or all dicts; got a mix of {', '.join(kinds)}"
        )
    if table.num_columns == 0:
        raise InputError(f"{argument} has no columns; pass the search results with their columns")
    return table


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def require_column(table: pa.Table, column: str, argument: str, fix: str) -> pa.ChunkedArray:
    """Return ``table[column]`` or raise MissingColumnError naming the argument and the fix."""
    if column not in table.column_names:
        raise MissingColumnError(
            f"{argument} has no column '{column}' (columns: {', '.join(table.column_names)}); {fix}",
            column=column,
            argument=argument,
        )
    return table[column]


ROWID_FIX = "add it with .with_row_id(True) on the LanceDB search, or pass your own unique id as _rowid"


def rowids(table: pa.Table, argument: str) -> np.ndarray:
    """The ``_rowid`` column as a numpy array, checked for nulls and in-list duplicates."""
    col = require_column(table, ROWID, argument, ROWID_FIX)
    if col.null_count:
        raise InputError(f"{argument} column '_rowid' has {col.null_count} null value(s); every row needs an id")
    ids = col.to_numpy()
    if len(ids) > 1:
        ordered = np.sort(ids, kind="stable")
        dup = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(dup):
            raise InputError(
                f"{argument} has duplicate _rowid values (e.g. {dup[0]}); each row may appear once per "
                "result set. To combine several searches use rerank_multivector(..., deduplicate=True)"
            )
    return ids


@dataclass(frozen=True)
class Union:
    """Several result sets merged by ``_rowid``: each row once, in order of first appearance.

    ``positions[i]`` gives, for each row of input ``i`` in its order, its row number in ``table``.
    """

    table: pa.Table
    positions: list[np.ndarray]


def concat(tables: Sequence[pa.Table], arguments: Sequence[str]) -> pa.Table:
    """Concatenate tables whose schemas may differ by columns; a clash of types is an InputError."""
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(_schema_clash(tables, arguments) or str(exc)) from None


def _schema_clash(tables: Sequence[pa.Table], arguments: Sequence[str]) -> str | None:
    seen: dict[str, tuple[pa.DataType, str]] = {}
    for table, argument in zip(tables, arguments):
        for field in table.schema:
            if field.name in seen and seen[field.name][0] != field.type:
                first_type, first_arg = seen[field.name]
                return (
                    f"column '{field.name}' is {first_type} in {first_arg} but {field.type} in "
                    f"{argument}; cast one side so both result sets share a schema"
                )
            seen.setdefault(field.name, (field.type, argument))
    return None


def union_by_rowid(tables: Sequence[pa.Table], arguments: Sequence[str]) -> Union:
    """Merge result sets by ``_rowid``, keeping every row once and every side's scores.

    A row takes its columns from its first appearance (earlier tables win); ``_distance`` and
    ``_score`` take the first non-null value across all appearances, so a row found by both the
    vector and the full-text search keeps both scores.
    """
    ids = [rowids(t, a) for t, a in zip(tables, arguments)]
    lengths = [len(i) for i in ids]
    try:
        all_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
    except TypeError:
        all_ids = None
    if all_ids is None or all_ids.dtype == object:
        raise InputError("_rowid columns must be integers of the same kind in every result set")
    combined = concat(tables, arguments)
    if len(tables) == 1:
        return Union(combined, [np.arange(lengths[0])])

    uniq, first, inverse = np.unique(all_ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # union rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    union_pos = rank[inverse.reshape(-1)]
    keep = first[order]
    merged = combined.take(pa.array(keep))
    for name in SCORE_COLUMNS:
        if name in combined.column_names and combined[name].null_count:
            merged = merged.set_column(
                merged.schema.get_field_index(name), name, _first_valid(combined[name], union_pos, len(uniq))
            )
    bounds = np.cumsum([0, *lengths])
    positions = [union_pos[bounds[i] : bounds[i + 1]] for i in range(len(tables))]
    return Union(merged, positions)


def _first_valid(column: pa.ChunkedArray, union_pos: np.ndarray, size: int) -> pa.Array:
    """For each union row, the first non-null value of ``column`` among its appearances."""
    valid = np.flatnonzero(~np.asarray(column.is_null()))
    src = np.full(size, -1, dtype=np.int64)
    rows, first = np.unique(union_pos[valid], return_index=True)
    src[rows] = valid[first]
    return column.take(pa.array(src, mask=src < 0))


def finish(
    table: pa.Table,
    scores: np.ndarray,
    *,
    top_n: int | None,
    drop: Sequence[str] = (),
) -> pa.Table:
    """Attach ``_relevance_score`` (float32), sort descending, cut to ``top_n``, drop score columns.

    Ties keep input order (a stable sort on the float32 score), the same rule as LanceDB's
    ``sort_by``. Score columns a row never had are null, never invented.
    """
    scores32 = np.asarray(scores, dtype=np.float32)
    order = np.argsort(-scores32, kind="stable")
    if top_n is not None:
        order = order[:top_n]
    drop = [c for c in (*drop, RELEVANCE) if c in table.column_names]
    if drop:
        table = table.drop_columns(drop)
    out = table.take(pa.array(order)) if len(order) != len(scores32) or not _is_identity(order) else table
    return out.append_column(pa.field(RELEVANCE, pa.float32()), pa.array(scores32[order], pa.float32()))


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.all(order == np.arange(len(order))))


def text_values(column: pa.Array | pa.ChunkedArray, name: str, argument: str) -> list[str]:
    """Check a text column (string type, no nulls) and return it as a list of str."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        if pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type):
            column = pc.cast(column, pa.string())
        else:
            raise InputError(
                f"{argument} column '{name}' has type {column.type}, not text; pass column= naming a "
                "string column, or a template such as '{title}: {text}'"
            )
    if column.null_count:
        nulls = np.flatnonzero(np.asarray(column.is_null()))[:5].tolist()
        raise InputError(
            f"{argument} column '{name}' has {column.null_count} null value(s) (rows {nulls}); fill "
            "them (e.g. pyarrow.compute.fill_null(col, '')) or drop those rows before reranking"
        )
    return column.to_pylist()
