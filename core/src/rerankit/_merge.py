"""Merge result sets: concatenate them, or union them by ``_rowid`` with each row once.

The union keeps every input's positions so fusion can rank each list, and stays lazy
(:class:`Rows`) so the output is built with one ``take``. Vectorized with numpy and pyarrow
compute: no per-row Python loops.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._errors import InputError
from ._inputs import rowids


def concat(tables: Sequence[pa.Table], arguments: Sequence[str]) -> pa.Table:
    """Concatenate tables whose schemas may differ by columns; a clash of types is an InputError."""
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=True) for t in tables[1:]):
        return pa.concat_tables(tables)  # nothing to promote
    tables = _large_where_mixed(tables)
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(_schema_clash(tables, arguments) or str(exc)) from None


def _large_where_mixed(tables: Sequence[pa.Table]) -> Sequence[pa.Table]:
    """Cast ``string`` to ``large_string`` (and ``binary`` to ``large_binary``) in a column that
    has both across the tables (pandas and Arrow inputs differ so); the values are unchanged."""
    types: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for field in table.schema:
            types.setdefault(field.name, set()).add(field.type)
    mixed = {
        name: large
        for name, seen in types.items()
        for small, large in ((pa.string(), pa.large_string()), (pa.binary(), pa.large_binary()))
        if seen == {small, large}
    }
    if not mixed:
        return tables
    out = []
    for table in tables:
        for name, large in mixed.items():
            i = table.schema.get_field_index(name)
            if i >= 0 and table.schema.types[i] != large:
                table = table.set_column(i, table.schema.field(i).with_type(large), table.column(i).cast(large))
        out.append(table)
    return out


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

    ``inputs`` are the result sets; ``concatenated`` is them in one table. Union row ``u`` is
    ``concatenated`` row ``index[u]`` (``index`` None: every row, in order). ``positions[i]`` maps each row of input
    ``i``, in its order, to its union row; ``bounds[i]`` is where input ``i`` starts in ``concatenated``.
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
    def concatenated(self) -> pa.Table:
        return concat(self.inputs, self.arguments)

    def table(self, drop: tuple[str, ...]) -> tuple[pa.Table, bool]:
        """``concatenated`` without the ``drop`` columns (dropped before concatenating: less to copy),
        and whether every result set has the same columns (then none is only in some of them)."""
        parts = []
        for t in self.inputs:
            for i in _positions(t.schema, drop):  # last first, as Table.drop_columns removes them
                t = t.remove_column(i)
            parts.append(t)
        if len(parts) == 1:
            return parts[0], True
        first = parts[0].schema
        same = all(p.schema.equals(first) for p in parts[1:])
        if same and _same_metadata(first, parts):
            return pa.concat_tables(parts), True  # one schema: nothing to promote
        return concat(parts, self.arguments), same

    @property
    def size(self) -> int:
        return sum(t.num_rows for t in self.inputs) if self.index is None else len(self.index)

    def column(self, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Values computed over ``concatenated`` (one per row of it), restricted to the union rows."""
        return values if self.index is None else values.take(pa.array(self.index))

    def first_valid(self, column: pa.ChunkedArray) -> np.ndarray:
        """Per union row, the ``concatenated`` row of the first non-null value of ``column`` (a column
        of ``concatenated``) among the row's appearances; -1 where it has none."""
        src = np.full(self.size, -1, dtype=np.int64)
        for i, pos in enumerate(self.positions):
            start = self.bounds[i] if self.bounds else 0
            valid = ~np.asarray(column.slice(start, len(pos)).is_null())
            hit = pos[valid]
            unset = src[hit] < 0
            src[hit[unset]] = start + np.flatnonzero(valid)[unset]
        return src


#: The schemas seen last, with where the columns of a ``drop`` list are: a hybrid call alternates
#: two schemas, and ``Schema.equals`` costs less than looking every name up again.
_RECENT: tuple[tuple[pa.Schema, tuple[str, ...], list[int]], ...] = ()


def _positions(schema: pa.Schema, names: tuple[str, ...]) -> list[int]:
    """Where the ``names`` that are columns of ``schema`` are, last first."""
    global _RECENT
    for seen, asked, positions in _RECENT:
        if asked == names and seen.equals(schema):
            return positions
    positions = sorted((i for i in map(schema.get_field_index, names) if i >= 0), reverse=True)
    _RECENT = ((schema, names, positions), *_RECENT[:7])
    return positions


def _same_metadata(first: pa.Schema, tables: Sequence[pa.Table]) -> bool:
    """Whether every table's schema has ``first``'s metadata (none, mostly: no comparison needed)."""
    if first.metadata is None and all(t.schema.metadata is None for t in tables):
        return True
    return all(t.schema.equals(first, check_metadata=True) for t in tables)


def union_by_rowid(tables: Sequence[pa.Table], arguments: Sequence[str]) -> Rows:
    """Merge result sets by ``_rowid``: each row once, in order of first appearance.

    A row takes its columns from its first appearance (earlier tables win); ``_distance``,
    ``_score`` and any column only some tables have take the first non-null value across all
    appearances (``_output.finish``), so a row found by both the vector and the full-text search
    keeps both scores and the columns only one of them returns. O(n) numpy over all the ids at once.
    """
    ids = [rowids(t, a) for t, a in zip(tables, arguments)]
    first = ids[0]
    n = len(first)
    if len(ids) == 1:
        codes, firsts = first_appearance(first)
        positions, bounds = [codes], [0]
    else:
        dtype = first.dtype
        for i in ids:
            if i.dtype != dtype:  # numpy would silently mix them as floats
                raise InputError(_schema_clash(tables, arguments) or "_rowid has different types across result sets")
        codes, firsts = first_appearance(np.concatenate(ids))
        positions, bounds, start = [], [], 0
        for i in ids:
            positions.append(codes[start : start + len(i)])
            bounds.append(start)
            start += len(i)
    # the first list is duplicate-free exactly when each of its rows opens a new id
    clean_first = not n or (len(firsts) >= n and firsts[n - 1] == n - 1)
    size = len(firsts)
    for k in range(1 if clean_first else 0, len(ids)):
        if len(positions[k]) > 1:
            _check_ids_unique(positions[k], size, ids[k], arguments[k])
    return Rows(list(tables), list(arguments), positions, firsts, bounds)


def _check_ids_unique(codes: np.ndarray, size: int, ids: np.ndarray, argument: str) -> None:
    counts = np.bincount(codes, minlength=size)
    if _MAX(counts) > 1:
        check_unique(codes, size, ids, f"{argument} has duplicate _rowid values", DUPLICATE_FIX)


DUPLICATE_FIX = (
    "each row may appear once per result set. To combine several searches use "
    "rerank_multivector(..., deduplicate=True)"
)


def first_appearance(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number distinct keys in order of first appearance, in O(n).

    Returns ``codes`` (the number of each key's distinct value) and ``firsts`` (for each distinct
    value, the index of its first appearance in ``keys``). Integer keys within a small range (dense
    ids, composite query/document codes, LanceDB row ids of one fragment) use direct addressing;
    any others, one hash pass.
    """
    n = len(keys)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    kind = keys.dtype.kind
    if kind in "iu":
        span = 4 * n + 1024
        high = int(_MAX(keys))
        low = 0 if kind == "u" and high < span else int(_MIN(keys))
        if high - low < span:
            if low:
                keys = keys - keys.dtype.type(low)
            rows = _row_numbers(n) if n <= 4096 else _ARANGE(n)
            first = np.empty(high - low + 1, dtype=np.int64)
            first.fill(n)
            np.minimum.at(first, keys, rows)
            seen = first[keys]  # the row where each key first appears
            firsts = (seen == rows).nonzero()[0]
            if n <= 256:  # one call numbers them (O(n log n): the few rows of a search)
                return firsts.searchsorted(seen), firsts
            number = first  # reused: each key's number among the distinct ones
            number[keys[firsts]] = _ARANGE(len(firsts))
            return number[keys], firsts
        if n <= 4096:  # ids spread wide (rows of a large table, several fragments): sort the few
            return _by_sorting(keys)
    codes = pc.dictionary_encode(pa.array(keys)).indices.to_numpy().astype(np.int64)
    seen = np.maximum.accumulate(codes)
    opens = np.empty(n, dtype=bool)  # a code larger than all before it opens a new value
    opens[0] = True
    np.greater(seen[1:], seen[:-1], out=opens[1:])
    return codes, np.flatnonzero(opens)


def _by_sorting(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`first_appearance` by one stable sort (O(n log n)): fewer steps than a hash table
    for the rows of a search."""
    order = keys.argsort(kind="stable")
    ordered = keys[order]
    opens = np.empty(len(keys), dtype=bool)  # where a new value starts in sorted order
    opens[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=opens[1:])
    starts = order[opens]  # each value's first appearance (the stable sort keeps it first)
    by_appearance = starts.argsort()
    firsts = starts[by_appearance]
    number = np.empty(len(starts), dtype=np.int64)  # each value's number, by first appearance
    number[by_appearance] = _ARANGE(len(starts))
    codes = np.empty(len(keys), dtype=np.int64)
    codes[order] = number[np.cumsum(opens) - 1]
    return codes, firsts


_ARANGE = np.arange


@functools.lru_cache(maxsize=16)
def _row_numbers(n: int) -> np.ndarray:
    """0..n-1 (int64), read-only and remembered (for the few rows of searches, which return the
    same number of rows call after call)."""
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows

_MAX = np.maximum.reduce
_MIN = np.minimum.reduce


def check_unique(codes: np.ndarray, size: int, values: Any, what: str, fix: str) -> None:
    """Raise InputError if a code repeats within one list, naming an example value."""
    if len(codes) > 1:
        counts = np.bincount(codes, minlength=size)
        if counts.max() > 1:
            example = values[int(np.flatnonzero(counts[codes] > 1)[0])]
            example = example.as_py() if isinstance(example, pa.Scalar) else example
            raise InputError(f"{what} (e.g. {example}); {fix}")


