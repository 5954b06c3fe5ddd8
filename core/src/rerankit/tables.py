"""Arrow plumbing: turn inputs into tables, merge result sets by ``_rowid``, and order the output.

Everything here is vectorized with numpy and pyarrow compute; no per-row Python loops. The rules
(stable ordering, nulls for scores a row never had, no row invented or dropped) are the data model
of DESIGN.md and hold for every reranker, whatever computes its scores.
"""

from __future__ import annotations

import functools
import itertools
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
    polars, DuckDB), anything with ``to_arrow()`` (LanceDB query builders), a list of dicts, or a
    list of strings (put into ``text_column``).
    """
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
    elif hasattr(data, "__arrow_c_stream__") or _is_pandas(data):
        table = pa.table(data)
    elif callable(getattr(data, "to_arrow", None)):  # e.g. an unexecuted LanceDB query builder
        table = data.to_arrow()
        if not isinstance(table, pa.Table):
            raise InputError(f"{argument}.to_arrow() returned {type(table).__name__}, not a pyarrow Table")
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
    return _without_view_types(table)


def _view_types() -> dict[int, pa.DataType]:
    try:
        return {pa.string_view().id: pa.string(), pa.binary_view().id: pa.binary()}
    except AttributeError:  # pyarrow without view types
        return {}


_VIEW_TYPES = _view_types()


def _without_view_types(table: pa.Table) -> pa.Table:
    """Cast Arrow view types (polars exports strings as string_view) to their plain twins.

    The values are unchanged; pyarrow cannot yet reorder view columns, which reranking must do.
    """
    for i in _view_columns(table.schema):
        plain = _VIEW_TYPES[table.schema.types[i].id]
        table = table.set_column(i, table.schema.field(i).with_type(plain), table.column(i).cast(plain))
    return table


@functools.lru_cache(maxsize=256)
def _view_columns(schema: pa.Schema) -> tuple[int, ...]:
    return tuple(i for i, dtype in enumerate(schema.types) if dtype.id in _VIEW_TYPES)


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def require_column(table: pa.Table, column: str, argument: str, fix: str) -> pa.ChunkedArray:
    """Return ``table[column]`` or raise MissingColumnError naming the argument and the fix."""
    if table.schema.get_field_index(column) < 0:
        raise MissingColumnError(
            f"{argument} has no column '{column}' (columns: {', '.join(table.column_names)}); {fix}",
            column=column,
            argument=argument,
        )
    return table[column]


ROWID_FIX = "add it with .with_row_id(True) on the LanceDB search, or pass your own unique id as _rowid"


def rowids(table: pa.Table, argument: str) -> np.ndarray:
    """The ``_rowid`` column as numpy, checked for nulls (duplicates are checked by the union)."""
    col = require_column(table, ROWID, argument, ROWID_FIX)
    if col.null_count:
        raise InputError(f"{argument} column '_rowid' has {col.null_count} null value(s); every row needs an id")
    return col.to_numpy()


def concat(tables: Sequence[pa.Table], arguments: Sequence[str]) -> pa.Table:
    """Concatenate tables whose schemas may differ by columns; a clash of types is an InputError."""
    if len(tables) == 1:
        return tables[0]
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


@dataclass
class Rows:
    """The rows a rerank call scores, kept lazy so the output is built with one ``take``.

    ``inputs`` are the result sets; ``source`` is them concatenated. Union row ``u`` is ``source``
    row ``index[u]`` (``index`` None: every row, in order). ``positions[i]`` maps each row of input
    ``i``, in its order, to its union row; ``bounds[i]`` is where input ``i`` starts in ``source``.
    """

    inputs: list[pa.Table]
    arguments: list[str]
    positions: list[np.ndarray]
    index: np.ndarray | None = None
    bounds: list[int] | None = None

    @classmethod
    def of(cls, table: pa.Table, argument: str) -> Rows:
        return cls([table], [argument], [np.arange(table.num_rows)])

    @functools.cached_property
    def source(self) -> pa.Table:
        return concat(self.inputs, self.arguments)

    def table(self, drop: Sequence[str]) -> pa.Table:
        """``source`` without the ``drop`` columns (dropped before concatenating: less to copy)."""
        parts = [t.drop_columns([c for c in drop if t.schema.get_field_index(c) >= 0]) for t in self.inputs]
        return concat(parts, self.arguments)

    @property
    def size(self) -> int:
        return sum(t.num_rows for t in self.inputs) if self.index is None else len(self.index)

    def column(self, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Values computed over ``source`` (one per source row), restricted to the union rows."""
        return values if self.index is None else values.take(pa.array(self.index))

    def first_valid(self, column: pa.ChunkedArray) -> np.ndarray:
        """Per union row, the source row of the first non-null value of ``column`` (a column of
        ``source``) among the row's appearances; -1 where it has none."""
        src = np.full(self.size, -1, dtype=np.int64)
        for i, pos in enumerate(self.positions):
            start = self.bounds[i] if self.bounds else 0
            valid = ~np.asarray(column.slice(start, len(pos)).is_null())
            hit = pos[valid]
            unset = src[hit] < 0
            src[hit[unset]] = start + np.flatnonzero(valid)[unset]
        return src


def union_by_rowid(tables: Sequence[pa.Table], arguments: Sequence[str]) -> Rows:
    """Merge result sets by ``_rowid``: each row once, in order of first appearance.

    A row takes its columns from its first appearance (earlier tables win); ``_distance`` and
    ``_score`` take the first non-null value across all appearances, so a row found by both the
    vector and the full-text search keeps both scores. One stable sort of all ids, then O(n) numpy.
    """
    ids = [rowids(t, a) for t, a in zip(tables, arguments)]
    if len({i.dtype for i in ids}) > 1:  # numpy would silently mix them as floats
        raise InputError(_schema_clash(tables, arguments) or "_rowid has different types across result sets")
    bounds = [0, *itertools.accumulate(len(i) for i in ids)]
    positions_all, firsts = first_appearance(np.concatenate(ids))
    positions = [positions_all[bounds[i] : bounds[i + 1]] for i in range(len(ids))]
    for k, (pos, argument, values) in enumerate(zip(positions, arguments, ids)):
        # the first list is duplicate-free exactly when each of its rows opens a new id
        if k > 0 or np.searchsorted(firsts, bounds[1]) != bounds[1]:
            check_unique(pos, len(firsts), values, f"{argument} has duplicate _rowid values", DUPLICATE_FIX)
    return Rows(list(tables), list(arguments), positions, firsts, bounds[:-1])


DUPLICATE_FIX = (
    "each row may appear once per result set. To combine several searches use "
    "rerank_multivector(..., deduplicate=True)"
)


def first_appearance(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number distinct keys in order of first appearance, in O(n).

    Returns ``codes`` (the number of each key's distinct value) and ``firsts`` (for each distinct
    value, the index of its first appearance in ``keys``). Small non-negative integer keys (dense
    ids, composite query/document codes) use direct addressing; any others, one hash pass.
    """
    n = len(keys)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if keys.dtype.kind in "iu" and keys.min() >= 0 and keys.max() < 4 * n + 1024:
        space = int(keys.max()) + 1
        rows = np.arange(n)
        first = np.full(space, n, dtype=np.int64)
        np.minimum.at(first, keys, rows)
        firsts = np.flatnonzero(first[keys] == rows)
        number = np.empty(space, dtype=np.int64)
        number[keys[firsts]] = np.arange(len(firsts))
        return number[keys], firsts
    codes = pc.dictionary_encode(pa.array(keys)).indices.to_numpy().astype(np.int64)
    seen = np.maximum.accumulate(codes)
    opens = np.empty(n, dtype=bool)  # a code larger than all before it opens a new value
    opens[0] = True
    np.greater(seen[1:], seen[:-1], out=opens[1:])
    return codes, np.flatnonzero(opens)


def check_unique(codes: np.ndarray, size: int, values: Any, what: str, fix: str) -> None:
    """Raise InputError if a code repeats within one list, naming an example value."""
    if len(codes) > 1:
        counts = np.bincount(codes, minlength=size)
        if counts.max() > 1:
            example = values[int(np.flatnonzero(counts[codes] > 1)[0])]
            example = example.as_py() if isinstance(example, pa.Scalar) else example
            raise InputError(f"{what} (e.g. {example}); {fix}")


def finish(
    rows: Rows,
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
    order = np.argsort(np.negative(scores32), kind="stable")
    if top_n is not None:
        order = order[:top_n]
    table = rows.table((*drop, RELEVANCE))
    src = order if rows.index is None else rows.index[order]
    out = table if _is_identity(src, table.num_rows) else table.take(src)
    if rows.index is not None:
        for name in SCORE_COLUMNS:
            if table.schema.get_field_index(name) >= 0 and table[name].null_count:
                first = rows.first_valid(table[name])[order]
                fixed = table[name].take(pa.array(first, mask=first < 0))
                out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), fixed)
    return out.append_column(pa.field(RELEVANCE, pa.float32()), pa.array(scores32[order], pa.float32()))


def _is_identity(src: np.ndarray, n: int) -> bool:
    return len(src) == n and bool(np.all(src == np.arange(n)))


def _is_text(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        return _is_text(dtype.value_type)
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def text_values(column: pa.Array | pa.ChunkedArray, name: str, argument: str) -> list[str]:
    """Check a text column (string type, no nulls) and return it as a list of str."""
    if not pa.types.is_string(column.type):
        if _is_text(column.type):
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
