"""Read and write result tables as JSON Lines, CSV, Parquet or Arrow IPC files (the CLI's formats).

The format follows the file extension (``.jsonl``/``.ndjson``, ``.csv``, ``.parquet``/``.pq``,
``.arrow``/``.feather``/``.ipc``) unless named explicitly. Every failure is an
:class:`~rerankit.InputError` naming the file and what to do.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ._errors import InputError

FORMATS = ("jsonl", "csv", "parquet", "arrow")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def format_of(path: str | Path, given: str | None = None, flag: str = "--format") -> str:
    """The format named by ``given``, else by the extension of ``path`` (``flag`` names the override)."""
    if given:
        if given not in FORMATS:
            raise InputError(f"unknown format '{given}'; use one of: {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    try:
        return EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(EXTENSIONS)
        raise InputError(
            f"cannot tell the format of '{path}' from its extension; use one of {known} or pass {flag}"
        ) from None


def read_table(path: str | Path, fmt: str | None = None) -> pa.Table:
    """Read a whole file into a ``pyarrow.Table``."""
    path = Path(path)
    kind = format_of(path, fmt, "--input-format")
    if not path.is_file():
        raise InputError(
            f"input file '{path}' does not exist" if not path.exists() else f"'{path}' is not a file"
        )
    try:
        if kind == "jsonl":
            return _read_jsonl(path)
        if kind == "csv":
            from pyarrow import csv

            return csv.read_csv(path)
        if kind == "parquet":
            from pyarrow import parquet

            return parquet.read_table(path)
        return _read_ipc(path)
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"could not read '{path}' as {kind}: {_one_line(exc)}") from None


def _read_jsonl(path: Path) -> pa.Table:
    rows = []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"'{path}' line {line} is not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    for number, line in enumerate(text.split("\n"), 1):  # JSON strings may hold U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"'{path}' line {number} is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise InputError(f"'{path}' line {number} is not a JSON object; each line must hold one row")
        rows.append(row)
    if not rows:
        raise InputError(f"'{path}' holds no rows")
    try:
        return pa.Table.from_pylist(rows)
    except OverflowError:  # an integer beyond int64: LanceDB's _rowid is uint64
        return _with_big_integers(path, rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        _with_big_integers(path, rows)  # names the column whose values do not form one type
        raise InputError(f"the rows of '{path}' do not form one table: {_one_line(exc)}") from None


_INT64_MAX = 2**63 - 1


def _with_big_integers(path: Path, rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as a table whose columns holding integers above int64's range are uint64."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
        if any(v > _INT64_MAX for v in ints):
            if len(ints) != sum(v is not None for v in values) or min(ints) < 0 or max(ints) >= 2**64:
                raise InputError(
                    f"'{path}' column '{name}' holds integers beyond 64 bits, or mixed with negative or "
                    "non-integer values; ids must be whole numbers from 0 to 2**64 - 1 (or strings)"
                )
            columns[name] = pa.array(values, pa.uint64())
        else:
            try:
                columns[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                raise InputError(
                    f"'{path}' column '{name}' mixes types across rows ({_one_line(exc)}); give it one "
                    "type in every row (e.g. all numbers)"
                ) from None
    return pa.table(columns)


def _read_ipc(path: Path) -> pa.Table:
    from pyarrow import ipc

    try:
        with ipc.open_file(path) as reader:  # the Arrow IPC file format (= Feather v2)
            return reader.read_all()
    except pa.ArrowInvalid:
        with pa.OSFile(str(path)) as source, ipc.open_stream(source) as reader:  # the IPC stream format
            return reader.read_all()


def write_table(table: pa.Table, path: str | Path | None, fmt: str) -> None:
    """Write ``table`` to ``path`` (``None`` or ``"-"``: standard output, for jsonl and csv)."""
    to_stdout = path is None or str(path) == "-"
    if to_stdout and fmt not in ("jsonl", "csv"):
        raise InputError(f"{fmt} is a binary format; pass --output FILE to write it")
    try:
        if fmt == "jsonl":
            lines = "".join(json.dumps(_plain(row), ensure_ascii=False) + "\n" for row in _rows(table))
            if to_stdout:
                sys.stdout.write(lines)
            else:
                Path(path).write_text(lines, encoding="utf-8")
        elif fmt == "csv":
            from pyarrow import csv

            nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
            if nested:
                raise InputError(
                    f"CSV cannot hold nested column(s) {', '.join(nested)}; write .jsonl, .parquet or .arrow"
                )
            if to_stdout:
                sink = pa.BufferOutputStream()
                csv.write_csv(table, sink)
                sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
            else:
                csv.write_csv(table, str(path))
        elif fmt == "parquet":
            from pyarrow import parquet

            parquet.write_table(table, str(path))
        else:
            from pyarrow import feather

            feather.write_feather(table, str(path), compression="uncompressed")
    except InputError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"could not write '{path}' as {fmt}: {_one_line(exc)}") from None


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts; float32 values keep their shortest decimal form (0.0328, not 0.03279999...)."""
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = column.to_pylist()
        if pa.types.is_float32(column.type):
            values = [None if v is None else float(str(np.float32(v))) for v in values]
        columns[name] = values
    return (
        [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        if columns
        else []
    )


def _plain(value: Any) -> Any:
    """JSON-safe values: NaN/inf become null, bytes become text, dates and the rest strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
