"""The core's answers to the ``select_text`` hook: templates, nested fields, then the plain column.

They are registered as ordinary hook implementations marked ``trylast``, so any plugin that claims
a ``column`` syntax of its own is asked first.
"""

from __future__ import annotations

import string

import pyarrow as pa
import pyarrow.compute as pc

from .._errors import InputError, MissingColumnError
from .._hookspecs import hookimpl


@hookimpl(trylast=True)
def select_text(table: pa.Table, column: str) -> pa.ChunkedArray | pa.Array | None:
    """'{title}: {text}' joins columns (nulls read as ''), 'a.b' reads a struct field, else the column."""
    if "{" in column:
        return _template(table, column)
    if column in table.column_names:
        return table[column]
    if "." in column:
        head, *rest = column.split(".")
        if head in table.column_names and pa.types.is_struct(table.schema.field(head).type):
            try:
                return pc.struct_field(table[head], rest)
            except (KeyError, pa.ArrowInvalid):
                raise MissingColumnError(
                    f"struct column '{head}' has no field path '{'.'.join(rest)}' "
                    f"(fields: {', '.join(f.name for f in table.schema.field(head).type)})",
                    column=column,
                    argument="column",
                ) from None
    raise MissingColumnError(
        f"results have no column '{column}' (columns: {', '.join(table.column_names)}); pass "
        "column= naming the text column, a template like '{title}: {text}', or a nested 'a.b' field",
        column=column,
        argument="column",
    )


def _template(table: pa.Table, template: str) -> pa.ChunkedArray | pa.Array:
    parts: list[pa.ChunkedArray | str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(f"column template {template!r} is malformed: {exc}") from None
    for literal, field, _spec, _conv in parsed:
        if literal:
            parts.append(literal)
        if field is None:
            continue
        if field not in table.column_names:
            raise MissingColumnError(
                f"column template {template!r} names '{field}', which the results lack "
                f"(columns: {', '.join(table.column_names)})",
                column=field,
                argument="column",
            )
        values = table[field]
        if not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        parts.append(pc.fill_null(values, ""))
    if not any(not isinstance(p, str) for p in parts):
        raise InputError(f"column template {template!r} names no column; use e.g. '{{title}}: {{text}}'")
    return pc.binary_join_element_wise(*parts, "")
