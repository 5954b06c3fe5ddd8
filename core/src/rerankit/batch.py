"""Batch reranking of many queries at once: Arrow record batches in, record batches out.

The input holds one row per candidate: the query's text in ``query_column``, the query's id in
``group_column`` (a *group* is one query's candidates), the candidate's own columns, and
``_rowid``, ``_distance`` / ``_score`` where the caller has them. Each group is reranked whole by
one reranker and comes out best first with ``_relevance_score`` and ``_rank`` (1 = best in its
group); ``top_n`` and ``return_score`` apply per group, exactly as in ``reranker.rerank``.

A ``source_column`` holding ``"vector"`` or ``"fts"`` marks two candidate lists per group: they
are reranked as ``rerank_hybrid`` would (fusion of logged runs, or a scoring reranker over the
union by ``_rowid``). Within a group the rows are put in an order that does not depend on how
the data was split or shuffled: vector rows before fts rows, each list by its own search score
(``_distance`` ascending, ``_score`` descending), then by ``_rowid``. That order is each list's
ranking for fusion, and the tie-break for scores that are equal.

:func:`rerank_batches` streams an iterator of batches in one process; :class:`GroupReranker` is
the part any engine calls once it has whole groups (``rerankit.ray`` binds it to Ray Data).
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import DISTANCE, RANK, ROWID, SCORE
from ._errors import ConfigError, InputError, RerankitError
from ._fusion import FusionReranker
from ._inputs import as_table, require_column
from ._registry import from_config, get_reranker
from ._reranker import Reranker

#: A built reranker, a registered name, a config mapping, or a .toml/.json config file.
RerankerLike = Union[Reranker, str, Mapping[str, Any], "os.PathLike[str]"]

#: The values ``source_column`` may hold: which search a candidate came from.
SOURCES = ("vector", "fts")


def as_reranker(reranker: RerankerLike) -> Reranker:
    """A reranker from any of the forms batch reranking accepts (see :data:`RerankerLike`).

    A string ending in ``.toml`` or ``.json`` is a config file; any other string is a name.
    """
    if isinstance(reranker, Reranker):
        return reranker
    if isinstance(reranker, Mapping):
        return from_config(reranker)
    if isinstance(reranker, os.PathLike):
        return from_config(reranker)
    if isinstance(reranker, str):
        if Path(reranker).suffix.lower() in (".toml", ".json"):
            return from_config(reranker)
        return get_reranker(reranker)
    raise ConfigError(
        "reranker must be a Reranker, a registered name, a config mapping or a .toml/.json path; "
        f"got {type(reranker).__name__}"
    )


class GroupReranker:
    """Reranks whole groups with one reranker: what every batch engine runs on its workers.

    It pickles with its reranker (by name and public config, secrets re-read from the
    environment where it is unpickled), so an engine builds it once per worker.
    """

    def __init__(
        self,
        reranker: RerankerLike,
        *,
        query_column: str = "query",
        group_column: str = "query_id",
        source_column: str = "source",
        max_concurrency: int = 16,
    ) -> None:
        self.reranker = as_reranker(reranker)
        self.query_column = query_column
        self.group_column = group_column
        self.source_column = source_column
        self.max_concurrency = _positive(max_concurrency, "max_concurrency")

    def rerank_groups(self, groups: Sequence[pa.Table]) -> pa.Table:
        """Rerank each table (all the rows of one group) and return the outputs one after another.

        Groups without a source column go to the reranker together (``rerank_batch``: a hosted
        scorer sends their requests concurrently, a local model batches across them).
        """
        plain: list[tuple[int, Any, Optional[str], pa.Table]] = []
        outputs: dict[int, pa.Table] = {}
        for i, group in enumerate(groups):
            key = self.key(group)
            query = self._query(group, key)
            if group.schema.get_field_index(self.source_column) >= 0:
                outputs[i] = self._hybrid(key, query, group)
            else:
                plain.append((i, key, query, self._ordered(group, None, key)))
        if plain:
            for (i, *_), out in zip(plain, self._rerank_plain([p[1:] for p in plain])):
                outputs[i] = out
        if not outputs:
            return pa.table({})
        return pa.concat_tables([outputs[i] for i in range(len(groups))], promote_options="default")

    def key(self, group: pa.Table) -> Any:
        """The group's id (its first row's ``group_column``)."""
        return require_column(group, self.group_column, "the group", GROUP_FIX)[0].as_py()

    def close(self) -> None:
        close = getattr(self.reranker, "close", None)
        if close is not None:
            close()

    # -- one group ---------------------------------------------------------------------------
    def _query(self, group: pa.Table, key: Any) -> Optional[str]:
        if group.schema.get_field_index(self.query_column) < 0:
            if isinstance(self.reranker, FusionReranker):
                return None  # fusion needs no query text
            require_column(group, self.query_column, "the group", QUERY_FIX)
        column = group[self.query_column]
        if pc.count_distinct(column, mode="all").as_py() > 1:
            raise InputError(
                f"{self._name(key)} has different values in column '{self.query_column}'; every row "
                "of a group must carry its query's text (is group_column the query's id?)"
            )
        return column[0].as_py()

    def _hybrid(self, key: Any, query: Optional[str], group: pa.Table) -> pa.Table:
        sources = group[self.source_column]
        bad = pc.invert(pc.fill_null(pc.is_in(sources, pa.array(SOURCES)), False))
        if pc.any(bad).as_py():
            found = sorted({str(v) for v in pc.filter(sources, bad).to_pylist()})
            raise InputError(
                f"{self._name(key)}: column '{self.source_column}' holds {', '.join(found)}; it must say "
                "which search each candidate came from, 'vector' or 'fts' (or pass source_column= naming "
                "another column)"
            )
        lists = [self._ordered(group.filter(pc.equal(sources, s)), s, key) for s in SOURCES]
        try:
            return _ranked(self.reranker.rerank_hybrid(query, *lists))
        except RerankitError as exc:
            raise _in_group(exc, self._name(key)) from exc

    def _rerank_plain(self, items: list[tuple[Any, Optional[str], pa.Table]]) -> list[pa.Table]:
        keys, queries, tables = zip(*items)
        try:
            outs = self.reranker.rerank_batch(list(queries), list(tables), self.max_concurrency)
        except InputError as exc:
            if len(items) == 1:
                raise _in_group(exc, self._name(keys[0])) from exc
            for key, query, table in items:  # find the group at fault (only on the failure path)
                try:
                    self.reranker.rerank(query, table)
                except InputError as one:
                    raise _in_group(one, self._name(key)) from one
            raise
        return [_ranked(out) for out in outs]

    def _ordered(self, rows: pa.Table, source: Optional[str], key: Any) -> pa.Table:
        """The rows in the order fixed by the data: the list's own ranking, then ``_rowid``."""
        names = rows.schema.names
        ranking = None
        if source != "fts" and DISTANCE in names:
            ranking = (DISTANCE, "ascending")
        elif source != "vector" and SCORE in names:
            ranking = (SCORE, "descending")
        if isinstance(self.reranker, FusionReranker) and rows.num_rows:
            self._check_ranking(rows, ranking, source, key)
        keys = ([ranking] if ranking else []) + ([(ROWID, "ascending")] if ROWID in names else [])
        return rows.sort_by(keys) if keys and rows.num_rows > 1 else rows

    def _check_ranking(self, rows: pa.Table, ranking: Any, source: Optional[str], key: Any) -> None:
        wanted = ranking[0] if ranking else (SCORE if source == "fts" else DISTANCE)
        if ranking is None or rows[wanted].null_count:
            what = f"its {source} rows" if source else "its rows"
            raise InputError(
                f"{self._name(key)}: {what} have no '{wanted}' value to rank them by; fusion ranks each "
                "candidate list by its search score, because rows reach a worker in no fixed order. Add "
                "'_distance' (vector search, lower is better) or '_score' (full-text, higher is better)"
            )

    def _name(self, key: Any) -> str:
        return f"group {self.group_column}={key!r}"


def rerank_batches(
    batches: Iterable[Any],
    reranker: RerankerLike,
    *,
    query_column: str = "query",
    group_column: str = "query_id",
    source_column: str = "source",
    batch_size: int = 64,
    max_concurrency: int = 16,
) -> Iterator[pa.RecordBatch]:
    """Rerank a stream of candidate rows group by group; yields record batches, groups in input order.

    ``batches``: record batches or tables (anything ``reranker.rerank`` accepts as a table); a
    group's rows must be contiguous in the stream (sorted or grouped by ``group_column``) but may
    straddle batches. ``batch_size``: how many groups go to the reranker in one call (one output
    batch). ``max_concurrency``: requests in flight for a hosted scorer. See the module for the
    columns read and written.
    """
    groups = GroupReranker(
        reranker,
        query_column=query_column,
        group_column=group_column,
        source_column=source_column,
        max_concurrency=max_concurrency,
    )
    size = _positive(batch_size, "batch_size")
    pending: list[pa.Table] = []
    for group in _contiguous_groups(batches, group_column):
        pending.append(group)
        if len(pending) >= size:
            yield from _batches(groups.rerank_groups(pending))
            pending = []
    if pending:
        yield from _batches(groups.rerank_groups(pending))


def _contiguous_groups(batches: Iterable[Any], group_column: str) -> Iterator[pa.Table]:
    """Whole groups from a stream whose groups are contiguous; a group that reappears is an error."""
    done: set[Any] = set()
    open_rows: Optional[pa.Table] = None
    open_key: Any = None
    for i, batch in enumerate(batches):
        table = as_table(batch, f"batches[{i}]")
        if table.num_rows == 0:
            continue
        keys = _keys(table, group_column, f"batches[{i}]")
        starts = np.flatnonzero(np.asarray(pc.not_equal(keys[1:], keys[:-1]))) + 1
        bounds = [0, *starts.tolist(), table.num_rows]
        for start, end in itertools.pairwise(bounds):
            key = keys[start].as_py()
            rows = table.slice(start, end - start)
            if open_rows is not None and start == 0 and key == open_key:
                open_rows = pa.concat_tables([open_rows, rows], promote_options="default")
                continue
            if open_rows is not None:
                done.add(open_key)
                yield open_rows
            if key in done:
                raise InputError(
                    f"batches[{i}]: the rows of {group_column}={key!r} are not together (they appear again "
                    f"after other groups); sort or group the input by '{group_column}' first"
                )
            open_rows, open_key = rows, key
    if open_rows is not None:
        yield open_rows


def _keys(table: pa.Table, group_column: str, argument: str) -> pa.Array:
    keys = require_column(table, group_column, argument, GROUP_FIX).combine_chunks()
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    if keys.null_count:
        raise InputError(
            f"{argument} column '{group_column}' has {keys.null_count} null value(s); every row needs "
            "the id of its query"
        )
    return keys


def _ranked(out: pa.Table) -> pa.Table:
    """The reranker's output (best first) with ``_rank`` 1, 2, ... appended."""
    if out.schema.get_field_index(RANK) >= 0:
        out = out.drop_columns([RANK])
    return out.append_column(pa.field(RANK, pa.int32()), pa.array(np.arange(1, out.num_rows + 1, dtype=np.int32)))


def _batches(table: pa.Table) -> list[pa.RecordBatch]:
    return table.combine_chunks().to_batches()


def _in_group(exc: RerankitError, where: str) -> RerankitError:
    """The same error (type and attributes) with ``where`` (e.g. the group) before its message."""
    error = copy.copy(exc)
    error.args = (f"{where}: {exc}", *exc.args[1:])
    return error


GROUP_FIX = "pass group_column= naming the column that holds each query's id"
QUERY_FIX = "pass query_column= naming the column that holds each query's text"


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


__all__ = ["GroupReranker", "RerankerLike", "as_reranker", "rerank_batches"]
