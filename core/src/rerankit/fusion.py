"""Fusion: combine ranked lists without a model. Built-ins ``rrf``, ``linear`` and ``mrr``.

A fusion method is a plain function ``fuse(lists, size, config) -> scores`` over
:class:`RankedList` s; :class:`FusionReranker` feeds it vector/full-text results (merged by
``_rowid``), several vector searches, or whole runs for many queries at once (:meth:`fuse_runs`).
The built-ins reproduce ``lancedb.rerankers`` (same formulas, 1-based ranks, same float64
arithmetic before the float32 cast) and are registered through the public ``register_fusions`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from . import tables
from .config import RerankerConfig
from .errors import InputError
from .hookspecs import hookimpl
from .reranker import Plan, Reranker


class RankedList:
    """One ranked list handed to a fusion method.

    ``positions``: the union row of each entry, best first. ``ranks``: 1-based rank of each
    entry (float64). ``scores``: relevance of each entry, higher is better (``1 - _distance`` for
    vector results, ``_score`` for full-text results, the run's score column for runs; NaN where
    missing), or None; computed on first access, so rank-only methods never pay for it.
    ``source``: "vector", "fts", "docs" or "run". ``weight``: the caller's weight, or None.
    """

    def __init__(
        self,
        positions: np.ndarray,
        scores: np.ndarray | Callable[[], np.ndarray | None] | None,
        source: str,
        weight: float | None = None,
        ranks: np.ndarray | None = None,
    ) -> None:
        self.positions = positions
        self.ranks = np.arange(1, len(positions) + 1, dtype=np.float64) if ranks is None else ranks
        self._scores = scores
        self.source = source
        self.weight = weight

    @property
    def scores(self) -> np.ndarray | None:
        if callable(self._scores):
            self._scores = self._scores()
        return self._scores

    def __len__(self) -> int:
        return len(self.positions)


FuseFn = Callable[[Sequence[RankedList], int, Any], np.ndarray]


# -- configs -----------------------------------------------------------------------------------
class RRFConfig(RerankerConfig):
    """Reciprocal rank fusion: score = sum over lists of weight / (K + rank)."""

    K: int = Field(60, gt=0, description="Rank offset; 60 as in Cormack et al. and LanceDB.")


class LinearConfig(RerankerConfig):
    """Linear combination: weight * (1 - _distance) + (1 - weight) * _score."""

    weight: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the vector side.")
    fill: float = Field(
        1.0, description="Penalty for a row missing from one side: its score there is 1 - fill."
    )


class MRRConfig(RerankerConfig):
    """Weighted reciprocal rank: weight_vector / rank_vector + weight_fts / rank_fts."""

    weight_vector: float = Field(0.5, ge=0.0, le=1.0)
    weight_fts: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> MRRConfig:
        if abs(self.weight_vector + self.weight_fts - 1.0) > 1e-6:
            raise ValueError(
                f"weight_vector + weight_fts must equal 1.0 (got {self.weight_vector} + {self.weight_fts})"
            )
        return self


# -- the built-in methods ----------------------------------------------------------------------
def _weights(lists: Sequence[RankedList], default: Sequence[float]) -> list[float]:
    return [d if lst.weight is None else lst.weight for lst, d in zip(lists, default)]


def rrf(lists: Sequence[RankedList], size: int, config: RRFConfig) -> np.ndarray:
    out = np.zeros(size)
    for lst, w in zip(lists, _weights(lists, [1.0] * len(lists))):
        out[lst.positions] += w / (config.K + lst.ranks)
    return out


def mrr(lists: Sequence[RankedList], size: int, config: MRRConfig) -> np.ndarray:
    out = np.zeros(size)
    explicit = any(lst.weight is not None for lst in lists)
    two_sided = len(lists) == 2 and [lst.source for lst in lists] != ["vector", "vector"]
    if explicit or two_sided:
        default = [config.weight_vector, config.weight_fts] if two_sided else [1.0] * len(lists)
        for lst, w in zip(lists, _weights(lists, default)):
            out[lst.positions] += w * (1.0 / lst.ranks)
        return out
    for lst in lists:  # several searches of one kind: the mean reciprocal rank
        out[lst.positions] += 1.0 / lst.ranks
    return out / len(lists)


def linear(lists: Sequence[RankedList], size: int, config: LinearConfig) -> np.ndarray:
    present = [lst for lst in lists if len(lst)]
    if len(present) == 1 and present[0].weight is None:
        # One side only (as in LanceDB): that side's own relevance, unweighted.
        out = np.full(size, 1.0 - config.fill)
        out[present[0].positions] = _relevance(present[0])
        return out
    default = [config.weight, 1.0 - config.weight] if len(lists) == 2 else [1.0 / len(lists)] * len(lists)
    out = np.zeros(size)
    for lst, w in zip(lists, _weights(lists, default)):
        side = np.full(size, 1.0 - config.fill)
        if len(lst):
            side[lst.positions] = _relevance(lst)
            side[np.isnan(side)] = 1.0 - config.fill
        out += w * side
    return out


def _relevance(lst: RankedList) -> np.ndarray:
    if lst.scores is None:
        raise InputError(
            f"the linear method needs scores: {lst.source} results must carry "
            f"{'_distance' if lst.source == 'vector' else '_score'}"
        )
    return lst.scores


@hookimpl
def register_fusions(register: Callable[..., None]) -> None:
    register("rrf", rrf, RRFConfig)
    register("linear", linear, LinearConfig)
    register("mrr", mrr, MRRConfig)


# -- the reranker ------------------------------------------------------------------------------
class FusionReranker(Reranker):
    """A reranker that combines ranked lists with a registered fusion method."""

    def __init__(self, name: str, config: RerankerConfig, fuse: FuseFn) -> None:
        super().__init__(name, config)
        self.fuse = fuse

    def _scores(self, plan: Plan) -> np.ndarray:
        lists = [
            _ranked(table, pos, source, None if plan.weights is None else plan.weights[i])
            for i, (table, pos, source) in enumerate(zip(plan.inputs, plan.rows.positions, plan.sources))
        ]
        return self._check(self.fuse(lists, plan.rows.size, self.config), plan.rows.size)

    def _multivector(
        self, results: Sequence[Any], query: str | None, deduplicate: bool, weights: Sequence[float] | None
    ) -> Plan:
        """Fuse N searches by ``_rowid`` (rows are always merged; ``deduplicate`` is accepted for
        compatibility). ``weights``, one per search, make the fusion weighted."""
        inputs, arguments = self._multivector_tables(results)
        if weights is not None and len(weights) != len(inputs):
            raise InputError(f"weights has {len(weights)} value(s) for {len(inputs)} result sets; give one per search")
        rows = tables.union_by_rowid(inputs, arguments)
        return Plan(rows, query, ["vector"] * len(inputs), inputs, weights)

    def fuse_runs(
        self,
        runs: Sequence[Any],
        *,
        query_column: str = "query_id",
        id_column: str = "_rowid",
        score_column: str = "score",
        weights: Sequence[float] | None = None,
    ) -> pa.Table:
        """Fuse whole runs (many queries each) in one vectorized call.

        Each run is a table with ``query_column``, ``id_column`` and ``score_column``; within a
        query, rows rank by score descending (ties by row order). Returns ``query_column``,
        ``id_column`` and ``_relevance_score``, grouped by query in order of first appearance and
        sorted by score within each query; ``top_n`` applies per query.
        """
        if isinstance(runs, (pa.Table, str)) or len(runs) == 0:
            raise InputError("runs must be a non-empty list of run tables")
        if weights is not None and len(weights) != len(runs):
            raise InputError(f"weights has {len(weights)} value(s) for {len(runs)} runs; give one per run")
        names = [f"runs[{i}]" for i in range(len(runs))]
        fix = "name it with query_column=/id_column=/score_column="
        cols = []
        for run, name in zip(runs, names):
            table = tables.as_table(run, name)
            cols.append([tables.require_column(table, c, name, fix) for c in (query_column, id_column, score_column)])
        qcodes, qvalues = _encode([c[0] for c in cols], query_column)
        dcodes, dvalues = _encode([c[1] for c in cols], id_column)
        keys = [q * len(dvalues) + d for q, d in zip(qcodes, dcodes)]
        bounds = np.cumsum([0, *[len(k) for k in keys]])
        all_keys = np.concatenate(keys)
        union_pos, firsts = tables.first_appearance(all_keys)
        lists = []
        for i, c in enumerate(cols):
            pos = union_pos[bounds[i] : bounds[i + 1]]
            tables.check_unique(
                pos, len(firsts), c[1], f"{names[i]} lists a document twice for one query", "keep one row each"
            )
            scores = c[2].to_numpy(zero_copy_only=False).astype(np.float64)
            order = _group_order(qcodes[i], scores)
            lists.append(
                RankedList(
                    positions=pos,
                    scores=scores,
                    source="run",
                    weight=None if weights is None else float(weights[i]),
                    ranks=_within_group(qcodes[i], order).astype(np.float64) + 1.0,
                )
            )
        fused = np.asarray(self.fuse(lists, len(firsts), self.config), dtype=np.float64).astype(np.float32)
        # Queries were numbered in order of first appearance, so sorting by query code keeps that order.
        q_of_row, d_of_row = np.divmod(all_keys[firsts], len(dvalues))
        out_order = _group_order(q_of_row, fused)
        if self.top_n is not None:
            out_order = out_order[_within_group(q_of_row, out_order)[out_order] < self.top_n]
        return pa.table(
            {
                query_column: qvalues.take(pa.array(q_of_row[out_order])),
                id_column: dvalues.take(pa.array(d_of_row[out_order])),
                tables.RELEVANCE: pa.array(fused[out_order], pa.float32()),
            }
        )


def _ranked(table: pa.Table, positions: np.ndarray, source: str, weight: float | None) -> RankedList:
    def scores() -> np.ndarray | None:
        names = table.column_names
        if source in ("vector", "docs") and tables.DISTANCE in names:
            return 1.0 - _floats(table[tables.DISTANCE])
        if source in ("fts", "docs") and tables.SCORE in names:
            return _floats(table[tables.SCORE])
        return None

    return RankedList(positions, scores, source, weight)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    if column.null_count:
        column = pc.fill_null(column.cast(pa.float64()), float("nan"))
    return column.to_numpy().astype(np.float64, copy=False)


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
