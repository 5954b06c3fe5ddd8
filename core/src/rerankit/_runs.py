"""Whole runs (many queries each) for ``FusionReranker.fuse_runs``: their union and output order.

A run is a table of ``(query, document, score)`` rows. :func:`union_runs` dictionary-encodes
queries and documents across runs into composite keys, merges the runs by key and ranks each run
within every query; :meth:`RunUnion.output` orders fused scores per query. All vectorized numpy:
runs usually arrive grouped by query and sorted by score, which is detected and needs no sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._columns import RELEVANCE
from ._errors import InputError
from ._inputs import as_table, call_weights, require_column, score_values
from ._merge import check_unique, first_appearance


@dataclass
class RunList:
    """One run over the union: its rows' union positions, scores, 1-based ranks per query, weight,
    and the query number of each row."""

    positions: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray
    weight: float | None
    groups: np.ndarray


@dataclass
class RunUnion:
    """Every distinct (query, document) pair of the runs, numbered in order of first appearance."""

    query_column: str
    id_column: str
    queries: pa.Array
    documents: pa.Array
    query_of: np.ndarray
    document_of: np.ndarray
    lists: list[RunList]

    @property
    def size(self) -> int:
        return len(self.query_of)

    def output(self, fused: np.ndarray, top_n: int | None) -> pa.Table:
        """Query, document and fused score; grouped by query, best first, ``top_n`` per query."""
        scores = np.asarray(fused, dtype=np.float64).astype(np.float32)
        # Queries were numbered in order of first appearance, so sorting by query code keeps that order.
        order = _group_order(self.query_of, scores)
        if top_n is not None:
            order = order[_within_group(self.query_of, order)[order] < top_n]
        return pa.table(
            {
                self.query_column: self.queries.take(pa.array(self.query_of[order])),
                self.id_column: self.documents.take(pa.array(self.document_of[order])),
                RELEVANCE: pa.array(scores[order], pa.float32()),
            }
        )


def union_runs(
    runs: Sequence[Any],
    query_column: str,
    id_column: str,
    score_column: str,
    weights: Sequence[float] | None,
) -> RunUnion:
    """Check the runs and merge them by (query, document); within a query, rows rank by score
    descending (ties by row order). ``weights``: one per run, or None."""
    if isinstance(runs, (pa.Table, str)) or len(runs) == 0:
        raise InputError("runs must be a non-empty list of run tables")
    weights = call_weights(weights, len(runs), "runs")
    names = [f"runs[{i}]" for i in range(len(runs))]
    fix = "name it with query_column=/id_column=/score_column="
    cols = []
    for run, name in zip(runs, names):
        table = as_table(run, name)
        cols.append([require_column(table, c, name, fix) for c in (query_column, id_column, score_column)])
    qcodes, qvalues = _encode([c[0] for c in cols], query_column)
    dcodes, dvalues = _encode([c[1] for c in cols], id_column)
    keys = [q * len(dvalues) + d for q, d in zip(qcodes, dcodes)]
    bounds = np.cumsum([0, *[len(k) for k in keys]])
    all_keys = np.concatenate(keys)
    union_pos, firsts = first_appearance(all_keys)
    lists = []
    for i, c in enumerate(cols):
        pos = union_pos[bounds[i] : bounds[i + 1]]
        check_unique(pos, len(firsts), c[1], f"{names[i]} lists a document twice for one query", "keep one row each")
        scores = score_values(c[2], score_column, names[i])
        if np.isnan(scores).any():
            raise InputError(f"{names[i]} column '{score_column}' has null values; every row of a run needs a score")
        order = _group_order(qcodes[i], scores)
        ranks = _within_group(qcodes[i], order).astype(np.float64) + 1.0
        lists.append(RunList(pos, scores, ranks, None if weights is None else float(weights[i]), qcodes[i]))
    query_of, document_of = np.divmod(all_keys[firsts], len(dvalues))
    return RunUnion(query_column, id_column, qvalues, dvalues, query_of, document_of, lists)


def _encode(columns: list[pa.ChunkedArray], name: str) -> tuple[list[np.ndarray], pa.Array]:
    """Dictionary-encode one column across runs: integer codes per run plus the distinct values."""
    try:
        combined = pa.chunked_array([c for col in columns for c in col.chunks], type=columns[0].type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        types = ", ".join(str(c.type) for c in columns)
        raise InputError(f"column '{name}' has different types across runs ({types}); cast them to one type") from None
    if combined.null_count:
        raise InputError(f"column '{name}' has null values in the runs; every row needs a {name}")
    encoded = pc.dictionary_encode(combined).combine_chunks()
    codes = encoded.indices.to_numpy().astype(np.int64)
    bounds = np.cumsum([0, *[len(c) for c in columns]])
    return [codes[bounds[i] : bounds[i + 1]] for i in range(len(columns))], encoded.dictionary


def _group_order(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Row order by group ascending, then score descending, then row order.

    Runs usually arrive grouped by query and sorted by score; that case is detected in O(n) and
    needs no sort. Otherwise: a sort by score, then a stable radix sort by group.
    """
    n = len(scores)
    if n and _already_grouped(groups, scores):
        return np.arange(n)
    if scores.dtype == np.float32 and n < 2**32:
        by_score = np.argsort(_descending_keys(scores))  # unique keys: no stability needed
    else:
        negated = np.negative(scores)
        by_score = np.argsort(negated)  # the fast unstable sort is enough when no score repeats
        ordered = negated[by_score]
        if (ordered[1:] == ordered[:-1]).any():
            by_score = np.argsort(negated, kind="stable")
    small = groups.max(initial=0) < 2**16  # numpy radix-sorts 16-bit keys
    keys = groups[by_score].astype(np.uint16 if small else np.int64)
    return by_score[np.argsort(keys, kind="stable")]


def _already_grouped(groups: np.ndarray, scores: np.ndarray) -> bool:
    opens = np.empty(len(groups), dtype=bool)
    opens[0] = True
    np.not_equal(groups[1:], groups[:-1], out=opens[1:])
    ascending_groups = bool(np.all(groups[1:] >= groups[:-1]))
    return ascending_groups and bool(np.all((scores[1:] <= scores[:-1]) | opens[1:]))


def _descending_keys(scores: np.ndarray) -> np.ndarray:
    """uint64 keys sorting float32 scores descending, ties by position: score bits high, index low."""
    bits = (scores + np.float32(0.0)).view(np.uint32).astype(np.uint64)  # -0.0 becomes 0.0
    negative = bits >> np.uint64(31) == 1
    # order-preserving map of IEEE floats to unsigned ints, then flipped for descending order
    ordered = np.where(negative, ~bits & np.uint64(0xFFFFFFFF), bits | np.uint64(0x80000000))
    flipped = np.uint64(0xFFFFFFFF) - ordered
    return (flipped << np.uint64(32)) | np.arange(len(scores), dtype=np.uint64)


def _within_group(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each row, its 0-based position within its group when rows are taken in ``order``."""
    g = groups[order]
    opens = np.empty(len(g), dtype=bool)
    opens[:1] = True
    np.not_equal(g[1:], g[:-1], out=opens[1:])
    starts = np.flatnonzero(opens)
    within = np.empty(len(g), dtype=np.int64)
    within[order] = np.arange(len(g)) - np.repeat(starts, np.diff(np.append(starts, len(g))))
    return within
