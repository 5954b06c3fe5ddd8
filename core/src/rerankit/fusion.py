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
        return np.asarray(self.fuse(lists, plan.rows.size, self.config), dtype=np.float64)

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
        all_keys = np.concatenate(keys)
        uniq, first, inverse = np.unique(all_keys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank_of = np.empty_like(order)
        rank_of[order] = np.arange(len(order))
        union_pos = rank_of[inverse.reshape(-1)]
        bounds = np.cumsum([0, *[len(k) for k in keys]])
        lists = []
        for i, c in enumerate(cols):
            scores = c[2].to_numpy(zero_copy_only=False).astype(np.float64)
            lists.append(
                RankedList(
                    positions=union_pos[bounds[i] : bounds[i + 1]],
                    scores=scores,
                    source="run",
                    weight=None if weights is None else float(weights[i]),
                    ranks=_ranks_within(qcodes[i], scores),
                )
            )
        fused = np.asarray(self.fuse(lists, len(uniq), self.config), dtype=np.float64).astype(np.float32)
        key_of_row = all_keys[first[order]]
        q_of_row, d_of_row = np.divmod(key_of_row, len(dvalues))
        q_first = np.full(len(qvalues), len(key_of_row))
        np.minimum.at(q_first, q_of_row, np.arange(len(q_of_row)))
        out_order = np.lexsort((-fused, q_first[q_of_row]))
        if self.top_n is not None:
            q_sorted = q_of_row[out_order]
            starts = np.flatnonzero(np.r_[True, q_sorted[1:] != q_sorted[:-1]])
            within = np.arange(len(q_sorted)) - np.repeat(starts, np.diff(np.r_[starts, len(q_sorted)]))
            out_order = out_order[within < self.top_n]
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


def _ranks_within(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of each row within its group, by score descending, ties by row order."""
    order = np.lexsort((np.arange(len(scores)), -scores, groups))
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1] if len(g) else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, len(g)])
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(len(g)) - np.repeat(starts, sizes) + 1
    return ranks
