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
        self._ranks = ranks
        self._scores = scores
        self.source = source
        self.weight = weight
        self.groups = groups

    @property
    def ranks(self) -> np.ndarray:
        if self._ranks is None:  # 1..n, made on first use: score-based methods never need them
            self._ranks = np.arange(1, len(self.positions) + 1, dtype=np.float64)
        return self._ranks

    @ranks.setter
    def ranks(self, ranks: np.ndarray) -> None:
        self._ranks = ranks

    @property
    def plain_ranks(self) -> bool:
        """Whether ``ranks`` are 1..n (one query's list, as every rerank call hands over): then
        what a method computes from the ranks alone depends only on the list's length."""
        return self._ranks is None

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
        if method == "none":  # the scores as given (a copy): ranks not needed
            return normalize(self.scores, _NO_RANKS, method)
        scores = None if method == "rank" else self.scores
        return normalize(scores, self.ranks, method, groups=self.groups, lower_bound=lower_bound)


_NO_RANKS = np.empty(0)

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
        return self._threshold(union.output(self.fuse(lists, union.size, self.config), self.top_n))


def ranked_lists(plan: Plan) -> list[RankedList]:
    """One :class:`RankedList` per result set of ``plan``, its search scores checked first (NaN or
    infinite scores: an InputError, whatever the method), and read once for the methods that use them."""
    rows = plan.rows
    weights = plan.weights
    lists = []
    for i, table in enumerate(rows.inputs):
        distance, score = search_scores(table, rows.arguments[i])
        source = plan.sources[i]
        if source == "docs":  # either score: the vector search's first
            source_scores = _relevance(distance, score)
        elif source == "vector":
            source_scores = _relevance(distance, None)
        else:
            source_scores = _relevance(None, score if source == "fts" else None)
        weight = None if weights is None else weights[i]
        lists.append(RankedList(rows.positions[i], source_scores, plan.sources[i], weight))
    return lists


def _relevance(distance: np.ndarray | None, score: np.ndarray | None) -> Callable[[], np.ndarray | None] | None:
    """A list's relevance, higher is better, computed when a method first asks: ``1 - _distance``,
    else ``_score`` (float64), else None."""
    if distance is not None:
        return lambda: 1.0 - np.asarray(distance, dtype=np.float64)
    if score is not None:
        return lambda: np.asarray(score, dtype=np.float64)
    return None
