"""Assertions about reranker output, usable on their own in a plugin's tests.

They restate the data model independently of the core's code: the output holds input rows only,
each with every column value unchanged, plus ``_relevance_score`` (float32, no nulls, sorted
descending); without ``top_n`` no row is lost. Expected rows are built here in plain Python from
the inputs (:func:`expected_union`, :func:`expected_concat`), not with the core's merge code.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

RELEVANCE = "_relevance_score"
ROWID = "_rowid"
SCORE_COLUMNS = ("_distance", "_score")


def _columns(tables: Sequence[pa.Table]) -> list[tuple[str, pa.DataType]]:
    seen: dict[str, pa.DataType] = {}
    for table in tables:
        for field in table.schema:
            if field.name != RELEVANCE:
                seen.setdefault(field.name, field.type)
    return list(seen.items())


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, pa.DataType]]) -> pa.Table:
    schema = pa.schema([pa.field(name, type_) for name, type_ in columns])
    return pa.Table.from_pylist([{n: r.get(n) for n, _ in columns} for r in rows], schema=schema)


def expected_concat(tables: Sequence[pa.Table]) -> pa.Table:
    """Every row of every table, in order (what a scorer reranks from several searches)."""
    columns = _columns(tables)
    return _table([row for t in tables for row in t.to_pylist()], columns)


def expected_union(tables: Sequence[pa.Table]) -> pa.Table:
    """Rows merged by ``_rowid``: each id once, columns from its first appearance, and
    ``_distance``/``_score`` from the first appearance that has them (null when none has)."""
    columns = _columns(tables)
    merged: dict[Any, dict[str, Any]] = {}
    for table in tables:
        for row in table.to_pylist():
            kept = merged.setdefault(row[ROWID], dict(row))
            for name in SCORE_COLUMNS:
                if kept.get(name) is None and row.get(name) is not None:
                    kept[name] = row[name]
    return _table(list(merged.values()), columns)


def expected_first_per_rowid(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenated rows keeping only the first appearance of each ``_rowid`` (deduplicate=True)."""
    seen: set[Any] = set()
    rows = []
    for row in expected_concat(tables).to_pylist():
        if row[ROWID] not in seen:
            seen.add(row[ROWID])
            rows.append(row)
    return _table(rows, _columns(tables))


def drop_score_columns(table: pa.Table) -> pa.Table:
    """``table`` without ``_distance``/``_score`` (what return_score='relevance' shows)."""
    return table.drop_columns([c for c in SCORE_COLUMNS if c in table.column_names])


def _key(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _row_keys(table: pa.Table) -> Counter:
    names = table.column_names
    return Counter(repr(tuple(_key(row[n]) for n in names)) for row in table.to_pylist())


def assert_reranked(
    output: pa.Table,
    expected: pa.Table,
    *,
    top_n: int | None = None,
    return_score: str = "relevance",
) -> None:
    """Assert ``output`` is a correct reranking of the rows in ``expected``.

    ``expected`` holds the input rows as the reranker should see them (see :func:`expected_union`
    and friends), including ``_distance``/``_score``; they must be gone when ``return_score`` is
    'relevance' and kept when 'all'.
    """
    assert isinstance(output, pa.Table), f"a reranker must return a pyarrow.Table, got {type(output).__name__}"
    if return_score == "relevance":
        expected = drop_score_columns(expected)
    want = [*expected.column_names, RELEVANCE]
    assert output.column_names == want, (
        f"output columns {output.column_names} != expected {want} (input columns unchanged and in order, "
        f"_distance/_score {'dropped' if return_score == 'relevance' else 'kept'}, _relevance_score last)"
    )
    for field in expected.schema:
        got = output.schema.field(field.name).type
        assert got == field.type, f"column '{field.name}' changed type: {field.type} -> {got}"
    rel = output[RELEVANCE]
    assert rel.type == pa.float32(), f"_relevance_score must be float32, got {rel.type}"
    assert rel.null_count == 0, "_relevance_score has nulls"
    scores = rel.to_pylist()
    assert all(math.isfinite(s) for s in scores), f"_relevance_score has non-finite values: {scores}"
    assert all(a >= b for a, b in itertools.pairwise(scores)), f"_relevance_score is not sorted descending: {scores}"

    limit = expected.num_rows if top_n is None else min(top_n, expected.num_rows)
    assert output.num_rows == limit, (
        f"expected {limit} row(s) (input {expected.num_rows}, top_n={top_n}), got {output.num_rows}"
    )
    got_rows = _row_keys(output.drop_columns([RELEVANCE]))
    want_rows = _row_keys(expected)
    extra = got_rows - want_rows
    assert not extra, f"output rows not in the input (invented or altered): {list(extra)[:3]}"
    if top_n is None:
        lost = want_rows - got_rows
        assert not lost, f"input rows missing from the output: {list(lost)[:3]}"


def assert_same_ranking(
    got: pa.Table,
    want: pa.Table,
    what: str,
    *,
    head: bool = False,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Assert ``got`` ranks the same rows as ``want`` (``head``: as its first ``got.num_rows`` rows).

    Identical tables pass at once. Otherwise the scores, position by position, must agree within
    ``rtol``/``atol`` (float noise from batching or threads), and each row of ``got`` must be a row of
    ``want`` with a close score, so only rows whose scores tie within tolerance may swap places.
    """
    assert got.schema == want.schema, f"{what}: schemas differ:\n{got.schema}\n!=\n{want.schema}"
    k = got.num_rows
    if head:
        assert k <= want.num_rows, f"{what}: {k} rows, more than the {want.num_rows} of the full ranking"
    else:
        assert k == want.num_rows, f"{what}: {k} rows != {want.num_rows}"
    top = want.slice(0, k)
    if got.equals(top):
        return
    g, w = got[RELEVANCE].to_pylist(), top[RELEVANCE].to_pylist()
    close = [math.isclose(a, b, rel_tol=rtol, abs_tol=atol) for a, b in zip(g, w)]
    assert all(close), f"{what}: scores differ:\n{g}\n!=\n{w}"
    names = [n for n in got.column_names if n != RELEVANCE]
    pool: dict[str, list[float]] = {}
    for row in (want if head else top).to_pylist():
        pool.setdefault(repr(tuple(_key(row[n]) for n in names)), []).append(row[RELEVANCE])
    for i, row in enumerate(got.to_pylist()):
        scores = pool.get(repr(tuple(_key(row[n]) for n in names)), [])
        match = next((s for s in scores if math.isclose(s, row[RELEVANCE], rel_tol=rtol, abs_tol=atol)), None)
        assert match is not None, f"{what}: row {i} of the result is not in the expected ranking: {row}"
        scores.remove(match)
