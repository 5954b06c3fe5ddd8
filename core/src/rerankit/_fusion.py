"""Fusion: rerankers that combine ranked lists without a model.

A fusion method is a plain function ``fuse(lists, size, config) -> scores`` over
:class:`RankedList` s, registered through the ``register_fusions`` hook (the core's own ``rrf``,
``linear`` and ``mrr`` live in ``rerankit._builtins.fusions``). :class:`FusionReranker` feeds it
vector/full-text results merged by ``_rowid``, several vector searches, or whole runs for many
queries at once (:meth:`FusionReranker.fuse_runs`, machinery in ``rerankit._runs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ._columns import DISTANCE, SCORE
from ._config import RerankerConfig
from ._inputs import call_weights, search_scores
from ._merge import union_by_rowid
from ._normalize import normalize
from ._reranker import Plan, Rebuild, Reranker
from ._runs import union_runs


class RankedList:
    """One ranked list handed to a fusion method.

    ``positions``: the union row of each entry, best first. ``ranks``: 1-based rank of each
    entry (float64). ``scores``: relevance of each entry, higher is better (``1 - _distance`` for
    vector results, ``_score`` for full-text results, the run's score column for runs; NaN where
    missing), or None; computed on first access, so rank-only methods never pay for it.
    ``source``: "vector", "fts", "docs" or "run". ``weight``: the caller's weight, or None.
    ``groups``: for runs (many queries), the query number (0..Q-1) of each entry, else None; ranks
    and normalizations are per query. :meth:`normalized` puts the scores on a common scale.
    """

    def __init__(
        self,
        positions: np.ndarray,
        scores: np.ndarray | Callable[[], np.ndarray | None] | None,
        source: str,
        weight: float | None = None,
        ranks: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> None:
        self.positions = positions
        self.ranks = np.arange(1, len(positions) + 1, dtype=np.float64) if ranks is None else ranks
        self._scores = scores
        self.source = source
        self.weight = weight
        self.groups = groups

    @property
    def scores(self) -> np.ndarray | None:
        if callable(self._scores):
            self._scores = self._scores()
        return self._scores

    def __len__(self) -> int:
        return len(self.positions)

    def normalized(self, method: str, lower_bound: float | None = None) -> np.ndarray:
        """The scores normalized per query with ``method`` ("none", "min-max", "z-score", "rank",
        "dbsf" or "tm2c2", which needs ``lower_bound``); NaN where a score is missing."""
        scores = None if method == "rank" else self.scores
        return normalize(scores, self.ranks, method, groups=self.groups, lower_bound=lower_bound)


FuseFn = Callable[[Sequence[RankedList], int, Any], np.ndarray]


class FusionReranker(Reranker):
    """A reranker that combines ranked lists with a registered fusion method."""

    def __init__(self, name: str, config: RerankerConfig, fuse: FuseFn, *, rebuild: Rebuild | None = None) -> None:
        super().__init__(name, config, rebuild=rebuild)
        self.fuse = fuse

    def _scores(self, plan: Plan) -> np.ndarray:
        return self._check(self.fuse(ranked_lists(plan), plan.rows.size, self.config), plan.rows.size)

    def _multivector(
        self, results: Sequence[Any], query: str | None, deduplicate: bool, weights: Sequence[float] | None
    ) -> Plan:
        """Fuse N searches by ``_rowid`` (rows are always merged; ``deduplicate`` is accepted for
        compatibility). ``weights``, one per search, make the fusion weighted."""
        inputs, arguments = self._multivector_tables(results)
        weights = call_weights(weights, len(inputs), "result sets")
        rows = union_by_rowid(inputs, arguments)
        return Plan(rows, query, ["vector"] * len(inputs), weights)

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
        union = union_runs(runs, query_column, id_column, score_column, weights)
        lists = [
            RankedList(run.positions, run.scores, "run", run.weight, run.ranks, run.groups) for run in union.lists
        ]
        return union.output(self.fuse(lists, union.size, self.config), self.top_n)


def ranked_lists(plan: Plan) -> list[RankedList]:
    """One :class:`RankedList` per result set of ``plan``, its search scores checked first (NaN or
    infinite scores: an InputError, whatever the method), and read once for the methods that use them."""
    rows = plan.rows
    found = [search_scores(table, argument) for table, argument in zip(rows.inputs, rows.arguments)]
    weights = [None] * len(found) if plan.weights is None else plan.weights
    return [_ranked(*each) for each in zip(found, rows.positions, plan.sources, weights)]


def _ranked(found: dict[str, np.ndarray], positions: np.ndarray, source: str, weight: float | None) -> RankedList:
    def scores() -> np.ndarray | None:
        if source in ("vector", "docs") and DISTANCE in found:
            return 1.0 - np.asarray(found[DISTANCE], dtype=np.float64)
        if source in ("fts", "docs") and SCORE in found:
            return np.asarray(found[SCORE], dtype=np.float64)
        return None

    return RankedList(positions, scores, source, weight)
