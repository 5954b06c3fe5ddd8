"""Turn whatever a caller hands a reranker into a ``pyarrow.Table``, and check the columns it needs.

Tables, record batches, dataframes (pandas, polars, anything with ``__arrow_c_stream__``), LanceDB
query builders, lists of strings or dicts are all accepted; every failure is an
:class:`~rerankit.InputError` naming the argument and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import DISTANCE, ROWID, ROWID_FIX, SCORE, SCORE_COLUMNS
from ._errors import InputError, MissingColumnError


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
    for i in layout(table.schema).views:
        plain = _VIEW_TYPES[table.schema.types[i].id]
        table = table.set_column(i, table.schema.field(i).with_type(plain), table.column(i).cast(plain))
    return table


class Layout(NamedTuple):
    """What a result set's schema says, worked out once per schema: its view-type columns, and
    each search score column present (name, position, whether it is float32/float64)."""

    views: tuple[int, ...]
    scores: tuple[tuple[str, int, bool], ...]


#: The schemas seen last and their layouts: a hybrid call alternates two schemas, and
#: ``Schema.equals`` costs a tenth of hashing a schema for a dict lookup.
_RECENT: tuple[tuple[pa.Schema, Layout], ...] = ()


def layout(schema: pa.Schema) -> Layout:
    """The :class:`Layout` of ``schema`` (remembered for the last few schemas seen)."""
    global _RECENT
    for seen, known in _RECENT:
        if seen.equals(schema):
            return known
    types = schema.types
    scores = []
    for name in SCORE_COLUMNS:
        i = schema.get_field_index(name)
        if i >= 0:
            scores.append((name, i, types[i].id in _NATIVE_FLOATS))
    known = Layout(tuple(i for i, dtype in enumerate(types) if dtype.id in _VIEW_TYPES), tuple(scores))
    _RECENT = ((schema, known), *_RECENT[:7])
    return known


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def require_column(table: pa.Table, column: str, argument: str, fix: str) -> pa.ChunkedArray:
    """Return ``table[column]`` or raise MissingColumnError naming the argument and the fix."""
    i = table.schema.get_field_index(column)
    if i < 0:
        raise MissingColumnError(
            f"{argument} has no column '{column}' (columns: {', '.join(table.column_names)}); {fix}",
            column=column,
            argument=argument,
        )
    return table.column(i)


def rowids(table: pa.Table, argument: str) -> np.ndarray:
    """The ``_rowid`` column as numpy, checked for nulls (duplicates are checked by the union)."""
    col = require_column(table, ROWID, argument, ROWID_FIX)
    if col.null_count:
        raise InputError(f"{argument} column '_rowid' has {col.null_count} null value(s); every row needs an id")
    return col.to_numpy()


#: What a caller does about a bad score: the one rule every fusion method and entry point applies.
SCORE_FIX = (
    "scores must be finite numbers; drop those rows or give them a finite score "
    "(a null marks a score as missing)"
)


#: Score types whose numpy view is taken as is (no cast) when they hold no null.
_NATIVE_FLOATS = frozenset({pa.float32().id, pa.float64().id})


def score_array(
    column: pa.Array | pa.ChunkedArray, name: str, argument: str, native: bool | None = None
) -> np.ndarray:
    """A score column as numpy floats, NaN where null, or InputError if it is not numeric or holds
    NaN or an infinity: non-finite input scores are refused the same way wherever they arrive.

    ``float32``/``float64`` columns without nulls come back as their own numpy view (no cast, no
    copy: one scan checks them); anything else is cast to ``float64``. Callers that compute with the
    values convert with ``np.asarray(values, np.float64)``, exact for both. ``native``: whether
    the column is float32/float64, where the caller knows (its :class:`Layout`).
    """
    if native is None:
        native = column.type.id in _NATIVE_FLOATS
    if native and not column.null_count:
        values = column.to_numpy() if isinstance(column, pa.ChunkedArray) else column.to_numpy(zero_copy_only=False)
        if not all_finite(values):
            _refuse(values, None, name, argument)
        return values
    dtype = column.type
    if not (pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)):
        raise InputError(
            f"{argument} column '{name}' has type {dtype}, not numbers; cast it to float64 "
            f"(e.g. pyarrow.compute.cast(col, 'float64')) before reranking"
        )
    nulls = np.asarray(column.is_null()) if column.null_count else None
    values = pc.fill_null(column.cast(pa.float64()), float("nan")) if column.null_count else column.cast(pa.float64())
    values = values.to_numpy() if isinstance(values, pa.ChunkedArray) else values.to_numpy(zero_copy_only=False)
    finite = np.isfinite(values)
    if nulls is not None:
        finite |= nulls
    if not finite.all():
        _refuse(values, nulls, name, argument)
    return np.asarray(values, dtype=np.float64)


def all_finite(values: np.ndarray) -> bool:
    """Whether every value of a float array is finite (no NaN, no infinity)."""
    return bool(_ALL(_ISFINITE(values)))


_ISFINITE = np.isfinite
_ALL = np.logical_and.reduce  # ndarray.all() without its Python wrapper


def _refuse(values: np.ndarray, nulls: np.ndarray | None, name: str, argument: str) -> None:
    bad = ~np.isfinite(values)
    if nulls is not None:
        bad &= ~nulls
    rows = np.flatnonzero(bad)
    raise InputError(
        f"{argument} column '{name}' has {len(rows)} non-finite value(s) ({float(values[rows[0]])} in row "
        f"{int(rows[0])}); {SCORE_FIX}"
    )


def score_values(column: pa.Array | pa.ChunkedArray, name: str, argument: str) -> np.ndarray:
    """:func:`score_array` as ``float64``."""
    return np.asarray(score_array(column, name, argument), dtype=np.float64)


def call_weights(weights: Any, count: int, what: str) -> list[float] | None:
    """A ``weights=`` argument checked as the configs check theirs: one finite, non-negative number
    per ranked list (``what`` names the lists, e.g. "result sets"), or None."""
    if weights is None:
        return None
    if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
        raise InputError(f"weights must be a list of numbers, one per {what[:-1]}; got {type(weights).__name__}")
    if len(weights) != count:
        raise InputError(f"weights has {len(weights)} value(s) for {count} {what}; give one per {what[:-1]}")
    ok = all(
        isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, bool) and np.isfinite(w) and w >= 0
        for w in weights
    )
    if not ok:
        raise InputError(f"weights must be finite, non-negative numbers, one per {what[:-1]} (got {list(weights)})")
    return [float(w) for w in weights]


def search_scores(table: pa.Table, argument: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The search scores a table carries, ``_distance`` and ``_score`` (None where absent), each
    checked and read once with :func:`score_array`: what fusion computes with is what was checked."""
    found = {}
    for name, i, native in layout(table.schema).scores:
        found[name] = score_array(table.column(i), name, argument, native)
    return found.get(DISTANCE), found.get(SCORE)


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
