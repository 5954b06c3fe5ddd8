"""The Reranker: LanceDB's reranking API over any scorer or fusion method.

``rerank_vector``, ``rerank_fts``, ``rerank_hybrid`` and ``rerank_multivector`` take and return
``pyarrow.Table`` exactly as ``lancedb.rerankers`` do; ``rerank`` takes plain lists, dicts or
dataframes; every method has an async twin. Subclasses only say how scores are computed
(:class:`ScoringReranker` asks a model, :class:`~rerankit.FusionReranker` combines ranks);
input checks, merging, ordering, ``top_n`` and ``return_score`` live here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ._columns import RAW_SCORE, RELEVANCE, ROWID, ROWID_FIX, SCORE_COLUMNS
from ._config import RerankerConfig, public_dump
from ._errors import InputError, ScoringError
from ._inputs import all_finite, as_table, require_column
from ._merge import Rows, concat, first_appearance, union_by_rowid
from ._output import finish

logger = logging.getLogger("rerankit")


@dataclass
class Plan:
    """What one rerank call works on: the rows to score and the result sets they came from."""

    rows: Rows
    query: str | None
    sources: list[str]  # the kind of each result set: "vector", "fts" or "docs" (RankedList.source)
    weights: Sequence[float] | None = None
    #: Output columns the scoring path added (name to one value per row, in row order).
    columns: dict[str, pa.Array] = field(default_factory=dict)
    #: The rows best first, where a reranker ranks by more than its scores (a cascade's stages).
    order: np.ndarray | None = None

    @property
    def inputs(self) -> list[pa.Table]:
        """The result sets, one per entry of ``sources``."""
        return self.rows.inputs


#: How the registry rebuilds a reranker from its name and public config (used for pickling).
Rebuild = Callable[[str, dict[str, Any]], "Reranker"]


class Reranker:
    """Base class: holds the registered ``name`` and validated ``config``; subclasses score.

    ``rebuild`` is passed by the registry: a reranker it built pickles as its name and public
    config, so secrets are re-read from the environment where it is unpickled. One built by hand
    (``rebuild`` None) pickles by value.
    """

    #: The scoring path this reranker sends its texts down (a ScoringReranker's
    #: :class:`~rerankit._scoring.path.ScoringPath`), or None for one that scores no texts (fusion).
    #: What a step that hands jobs to another reranker (``fallback``) uses.
    scoring_path: Any = None

    def __init__(self, name: str, config: RerankerConfig, *, rebuild: Rebuild | None = None) -> None:
        self.name = name
        self.config = config
        self._rebuild = rebuild

    # -- options -----------------------------------------------------------------------------
    @property
    def column(self) -> str:
        return self.config.column

    @property
    def top_n(self) -> int | None:
        return self.config.top_n

    @property
    def return_score(self) -> str:
        return self.config.return_score

    # -- LanceDB-compatible entry points -----------------------------------------------------
    def rerank_vector(self, query: str, vector_results: Any) -> pa.Table:
        """Rerank the results of a vector search (``_distance`` is dropped unless return_score='all')."""
        return self._run(self._single(query, vector_results, "vector_results", "vector"))

    def rerank_fts(self, query: str, fts_results: Any) -> pa.Table:
        """Rerank the results of a full-text search (``_score`` is dropped unless return_score='all')."""
        return self._run(self._single(query, fts_results, "fts_results", "fts"))

    def rerank_hybrid(self, query: str, vector_results: Any, fts_results: Any) -> pa.Table:
        """Merge vector and full-text results by ``_rowid`` (each row once, both scores kept), then rerank."""
        return self._run(self._hybrid(query, vector_results, fts_results))

    def rerank_multivector(
        self,
        vector_results: Sequence[Any],
        query: str | None = None,
        deduplicate: bool = False,
        weights: Sequence[float] | None = None,
    ) -> pa.Table:
        """Rerank the results of several vector searches together (see the subclass for merging)."""
        return self._run(self._multivector(vector_results, query, deduplicate, weights))

    def rerank(self, query: str, docs: Any) -> pa.Table:
        """Rerank a plain list of strings or dicts, a table or a dataframe; strings go in ``column``."""
        return self._run(self._single(query, docs, "docs", "docs"))

    def rerank_batch(
        self, queries: Sequence[str], results: Sequence[Any], max_concurrency: int = 16
    ) -> list[pa.Table]:
        """Rerank many ``(query, results)`` pairs at once; one output table per pair, in order."""
        plans = self._plans_per_query(queries, results)
        return [self._finish(p, s) for p, s in zip(plans, self._scores_batch(plans, max_concurrency))]

    # -- async twins -------------------------------------------------------------------------
    async def arerank_vector(self, query: str, vector_results: Any) -> pa.Table:
        return await self._arun(self._single(query, vector_results, "vector_results", "vector"))

    async def arerank_fts(self, query: str, fts_results: Any) -> pa.Table:
        return await self._arun(self._single(query, fts_results, "fts_results", "fts"))

    async def arerank_hybrid(self, query: str, vector_results: Any, fts_results: Any) -> pa.Table:
        return await self._arun(self._hybrid(query, vector_results, fts_results))

    async def arerank_multivector(
        self,
        vector_results: Sequence[Any],
        query: str | None = None,
        deduplicate: bool = False,
        weights: Sequence[float] | None = None,
    ) -> pa.Table:
        return await self._arun(self._multivector(vector_results, query, deduplicate, weights))

    async def arerank(self, query: str, docs: Any) -> pa.Table:
        return await self._arun(self._single(query, docs, "docs", "docs"))

    async def arerank_batch(
        self, queries: Sequence[str], results: Sequence[Any], max_concurrency: int = 16
    ) -> list[pa.Table]:
        plans = self._plans_per_query(queries, results)
        scores = await self._ascores_batch(plans, max_concurrency)
        return [self._finish(p, s) for p, s in zip(plans, scores)]

    # -- what subclasses provide -------------------------------------------------------------
    def _scores(self, plan: Plan) -> np.ndarray:
        raise NotImplementedError

    async def _ascores(self, plan: Plan) -> np.ndarray:
        return self._scores(plan)

    def _scores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        return [self._scores(p) for p in plans]

    async def _ascores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        return [await self._ascores(p) for p in plans]

    def _multivector(
        self, results: Sequence[Any], query: str | None, deduplicate: bool, weights: Sequence[float] | None
    ) -> Plan:
        """The searches' rows one after another, each scored on its own (``deduplicate``: a row
        found by several searches once, where it first appears); fusion rerankers merge instead."""
        if weights is not None:
            raise InputError(f"weights only apply to fusion rerankers, not to '{self.name}'")
        inputs, arguments = self._multivector_tables(results)
        table = concat(inputs, arguments)
        if deduplicate:
            ids = require_column(table, ROWID, "vector_results", ROWID_FIX).to_numpy()
            _, firsts = first_appearance(ids)
            table = table.take(firsts)
        return Plan(Rows.of(table, "vector_results"), query, ["vector"])

    # -- shared plumbing ---------------------------------------------------------------------
    def _check(self, scores: Sequence[float], expected: int) -> np.ndarray:
        """Scores as float64, or ScoringError if their number is wrong or one is NaN/infinite."""
        try:
            arr = scores if _is_flat_float64(scores) else np.asarray(scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            kinds = sorted({type(s).__name__ for s in scores}) if isinstance(scores, Sequence) else []
            raise ScoringError(
                f"'{self.name}' returned scores that are not numbers ({', '.join(kinds) or type(scores).__name__}); "
                "a scorer returns one float per text"
            ) from None
        if len(arr) != expected:
            raise ScoringError(f"'{self.name}' returned {len(arr)} scores for {expected} rows")
        if not all_finite(arr):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ScoringError(f"'{self.name}' returned a non-finite score ({arr[bad]}) for row {bad}")
        return arr

    def _single(self, query: str | None, data: Any, argument: str, source: str) -> Plan:
        table = as_table(data, argument, self.column)
        return Plan(Rows.of(table, argument), query, [source])

    def _hybrid(self, query: str | None, vector_results: Any, fts_results: Any) -> Plan:
        vec = as_table(vector_results, "vector_results", self.column)
        fts = as_table(fts_results, "fts_results", self.column)
        rows = union_by_rowid([vec, fts], ["vector_results", "fts_results"])
        return Plan(rows, query, ["vector", "fts"])

    def _multivector_tables(self, results: Sequence[Any]) -> tuple[list[pa.Table], list[str]]:
        if isinstance(results, (pa.Table, str)) or not isinstance(results, Sequence):
            results = [results]
        if len(results) == 0:
            raise InputError("vector_results must not be empty; pass a list with at least one result table")
        arguments = [f"vector_results[{i}]" for i in range(len(results))]
        return [as_table(r, a, self.column) for r, a in zip(results, arguments)], arguments

    def _plans_per_query(self, queries: Sequence[str], results: Sequence[Any]) -> list[Plan]:
        if isinstance(queries, str):
            raise InputError("queries must be a list of strings, one per result set; got a single string")
        if len(queries) != len(results):
            raise InputError(
                f"queries has {len(queries)} item(s) but results has {len(results)}; pass one result set per query"
            )
        return [self._single(q, r, f"results[{i}]", "docs") for i, (q, r) in enumerate(zip(queries, results))]

    def _run(self, plan: Plan) -> pa.Table:
        return self._finish(plan, self._scores(plan))

    async def _arun(self, plan: Plan) -> pa.Table:
        return self._finish(plan, await self._ascores(plan))

    def _finish(self, plan: Plan, scores: np.ndarray) -> pa.Table:
        drop = SCORE_COLUMNS if self.return_score == "relevance" else ()
        order = plan.order
        if order is None and RAW_SCORE in plan.columns:  # calibrated: ties on the raw score
            order = ranking(scores, plan.columns)
        out = finish(plan.rows, scores, top_n=self.top_n, drop=drop, columns=plan.columns, order=order)
        return self._threshold(out)

    # -- min_score ---------------------------------------------------------------------------
    def _calibrated(self) -> bool:
        """Whether this reranker's scores are probabilities of relevance (``calibration`` set)."""
        return False

    def _threshold(self, out: pa.Table) -> pa.Table:
        """``out`` (ranked) without its rows scored below ``min_score``; the order is kept."""
        min_score = getattr(self.config, "min_score", None)
        if min_score is None:
            return out
        if not self._calibrated() and not self.__dict__.get("_warned_uncalibrated"):
            self._warned_uncalibrated = True
            logger.warning(
                "min_score=%g on reranker '%s', whose scores are not calibrated probabilities: the "
                "threshold means something else for every model; fit a calibration (rerankit calibrate) "
                "and set calibration = {...} so that min_score is a probability of relevance",
                min_score, self.name,
            )
        keep = out[RELEVANCE].to_numpy() >= min_score
        return out if keep.all() else out.filter(pa.array(keep))

    # -- identity ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        fields = type(self.config).model_fields
        shown = {k: v for k, v in public_dump(self.config).items() if v != fields[k].default}
        args = "".join(f", {k}={v!r}" for k, v in shown.items())
        return f"{type(self).__name__}({self.name!r}{args})"

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self._rebuild is None:
            return super().__reduce_ex__(protocol)
        return (self._rebuild, (self.name, public_dump(self.config)))


def _is_flat_float64(scores: Any) -> bool:
    return type(scores) is np.ndarray and scores.dtype == np.float64 and scores.ndim == 1


def ranking(scores: np.ndarray, columns: dict[str, pa.Array] | None = None) -> np.ndarray:
    """The rows best first, as every reranker ranks them: by the float32 score, ties in input order.

    With a calibration (``_raw_score`` among the ``columns``), rows tied on the calibrated score (an
    isotonic map's flat steps, two probabilities equal in float32) keep the order of their raw
    scores: a calibration never changes the ranking."""
    raw = (columns or {}).get(RAW_SCORE)
    if raw is None:
        return np.argsort(np.negative(np.asarray(scores, dtype=np.float32)), kind="stable")
    calibrated = np.asarray(scores, dtype=np.float32)
    raw32 = np.asarray(raw.to_numpy(zero_copy_only=False), dtype=np.float32)
    return np.lexsort((np.negative(raw32), np.negative(calibrated)))


__all__ = ["Plan", "Rebuild", "Reranker", "ranking"]
