"""``evaluate``: retrievers and rerankers over a collection's judged queries, scored by ir-measures.

Every judged query (or the first ``queries``) is searched once per retriever; each pipeline then
reranks those same candidates and is timed. The result is one row per pipeline: each metric
(mean over the queries), p50/p95 rerank latency per query and the number of queries.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from rerankit import FusionReranker

from ._collection import Collection, EvalError
from ._index import Index, open_judged
from ._metrics import DEFAULT_METRICS, measure, parse_metrics
from ._pipelines import Pipeline, RerankerLike, close, columns_needed, plan
from ._progress import progress_bar
from ._search import RETRIEVERS, Candidates, search


@dataclass
class EvalRun:
    """Everything one evaluation produced: the results table and what it was computed from."""

    collection: Collection
    index: Index
    pipelines: list[Pipeline]
    queries: list[tuple[str, str]]
    rankings: dict[tuple[str, str], dict[str, list[str]]] = field(repr=False)
    latencies: dict[tuple[str, str], list[float]] = field(repr=False)
    scores: dict[tuple[str, str], dict[str, float]]
    metrics: list[str]
    search_seconds: float

    @property
    def table(self) -> pa.Table:
        """One row per pipeline: retriever, reranker, config (JSON), metrics, latencies, queries."""
        keys = [(p.retriever, p.label) for p in self.pipelines]
        columns: dict[str, pa.Array] = {
            "retriever": pa.array([p.retriever for p in self.pipelines], pa.string()),
            "reranker": pa.array([p.label for p in self.pipelines], pa.string()),
            "config": pa.array([None if p.config is None else json.dumps(p.config) for p in self.pipelines],
                               pa.string()),
        }
        for name in self.metrics:
            columns[name] = pa.array([self.scores[k][name] for k in keys], pa.float64())
        for q in (50, 95):
            columns[f"latency_p{q}_ms"] = pa.array(
                [float(np.percentile(self.latencies[k], q)) * 1000 if self.latencies[k] else 0.0 for k in keys],
                pa.float64(),
            )
        columns["queries"] = pa.array([len(self.rankings[k]) for k in keys], pa.int64())
        return pa.table(columns)


def evaluate(
    collection: str | os.PathLike[str] | Collection,
    *,
    retrievers: Sequence[str] = RETRIEVERS,
    rerankers: Sequence[RerankerLike] = ("none",),
    candidates: int = 100,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    queries: int | None = None,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = False,
) -> pa.Table:
    """Evaluate each (retriever, reranker) pipeline on the judged queries of ``collection``.

    ``collection``: a BEIR-layout folder, a bundled name (``"cranfield"``) or a loaded
    :class:`Collection`. ``rerankers``: names, ``"none"``, config file paths (``pathlib.Path``),
    mappings or built rerankers; fusion rerankers pair with the ``hybrid`` retriever only.
    ``metrics``: ir-measures names. Returns one row per pipeline (see :attr:`EvalRun.table`).
    """
    return run_eval(
        collection,
        retrievers=retrievers,
        rerankers=rerankers,
        candidates=candidates,
        metrics=metrics,
        queries=queries,
        embedding_model=embedding_model,
        cache_dir=cache_dir,
        rebuild=rebuild,
        progress=progress,
    ).table


def run_eval(
    collection: str | os.PathLike[str] | Collection,
    *,
    retrievers: Sequence[str] = RETRIEVERS,
    rerankers: Sequence[RerankerLike] = ("none",),
    candidates: int = 100,
    metrics: str | Sequence[str] = DEFAULT_METRICS,
    queries: int | None = None,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
    on_index: Callable[[Index], None] = lambda _index: None,
) -> EvalRun:
    """:func:`evaluate`, returning the rankings, latencies and index beside the table."""
    measures = [str(m) for m in parse_metrics(metrics)]
    if candidates < 1:
        raise EvalError(f"candidates must be at least 1 (got {candidates})")
    pipelines = plan(retrievers, rerankers)
    coll, judged, index = open_judged(
        collection, queries=queries, purpose="evaluate", embedding_model=embedding_model, cache_dir=cache_dir,
        rebuild=rebuild, progress=progress, log=log,
    )
    on_index(index)
    keys = [(p.retriever, p.label) for p in pipelines]
    rankings: dict[tuple[str, str], dict[str, list[str]]] = {k: {} for k in keys}
    latencies: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    needed = {p.retriever for p in pipelines}
    columns = columns_needed(pipelines, index.table.schema.names)
    bar = progress_bar(len(judged), f"searching {len(judged)} queries", progress, unit="query")
    start = time.perf_counter()
    try:
        for n, (qid, text) in enumerate(judged):
            found: Candidates = search(index, qid, text, candidates, needed, columns)
            for p, key in zip(pipelines, keys):
                rankings[key][qid], seconds = p.run(text, found, candidates)
                # the first call of a model scorer loads the model (or opens a connection): that is
                # start-up, not rerank latency, so it is left out when other queries follow; it is
                # not rerun to warm up, which would pay a hosted provider twice for one query
                cold = n == 0 and len(judged) > 1 and not isinstance(p.reranker, FusionReranker)
                if p.reranker is not None and not cold:
                    latencies[key].append(seconds)
            bar.update(1)
    finally:
        bar.close()
        close(pipelines)
    search_seconds = time.perf_counter() - start
    scores = {k: measure(rankings[k], coll.qrels, measures) for k in keys}
    return EvalRun(coll, index, pipelines, judged, rankings, latencies, scores, measures, search_seconds)
