"""``tune``: choose a fusion method and its settings by cross-validated nDCG@10 on judged queries.

Every setting of a fixed grid (method, weights, K, score normalization) fuses the vector and
full-text runs of each judged query (``fuse_runs``: the same formulas, ranks and ties as
``rerank_hybrid``) and is scored per query by ir-measures. A score over a set of queries is the mean
over collections of the mean over that collection's queries, so each collection counts alike.

k-fold cross-validation estimates how well the choice generalizes: the queries of each collection
are shuffled (``seed``) and split into ``folds`` parts; for each fold the setting that scores best on
the other folds is scored on that fold. The mean of those held-out scores is reported, never the
training score. The recipe is the setting that scores best on all queries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rerankit import get_reranker
from rerankit._normalize import NORMALIZATIONS

from ._collection import Collection, EvalError
from ._index import open_judged
from ._metrics import measure_per_query
from ._pipelines import label_of
from ._progress import progress_bar
from ._search import search

METHODS = ("rrf", "linear", "mrr")
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(1, 10))  # weight of the vector side
RRF_K = (60, 5, 10, 20, 40, 100)
#: The evaluation index's score floors: 1 - squared L2 distance between unit vectors is at least -3;
#: BM25 is never negative.
INDEX_LOWER_BOUNDS = (-3.0, 0.0)
METRIC = "nDCG@10"


@dataclass(frozen=True)
class Runs:
    """One collection's first-stage runs for tuning: ``query_id``, ``doc_id``, ``score`` (higher is
    better: ``1 - _distance`` for the vector run, ``_score`` for the full-text run) and judgments."""

    name: str
    vector: pa.Table
    fts: pa.Table
    qrels: Mapping[str, Mapping[str, int]]
    query_ids: Sequence[str]


@dataclass(frozen=True)
class Setting:
    """A fusion method and its options, as a config: ``{"reranker": method, **options}``."""

    method: str
    options: Mapping[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        return {"reranker": self.method, **self.options}

    @property
    def label(self) -> str:
        return label_of(get_reranker(self.method, **self.options))


@dataclass
class Fold:
    """One fold: the setting chosen on the other folds, its score there, and on this fold."""

    winner: Setting
    train: float
    held_out: float
    baseline: float


@dataclass
class TuneResult:
    """The chosen setting, the top settings with their per-fold scores, and the cross-validation."""

    best: Setting
    best_score: float
    top: list[tuple[Setting, float, list[float]]]
    folds: list[Fold]
    collections: list[tuple[str, int]]
    candidates: int | None
    settings: int

    @property
    def held_out(self) -> float:
        """Mean held-out nDCG@10 over the folds: the estimate of how well tuning generalizes."""
        return float(np.mean([f.held_out for f in self.folds]))

    @property
    def baseline_held_out(self) -> float:
        """``rrf`` with its defaults, scored on the same folds."""
        return float(np.mean([f.baseline for f in self.folds]))

    def recipe(self) -> str:
        """The winning setting as a TOML config that ``from_config``, ``--config`` and ``to_lancedb`` read."""
        names = ", ".join(f"{n} ({q} queries)" for n, q in self.collections)
        lines = [
            f"# Fusion recipe chosen by `rerankit tune` ({len(self.folds)}-fold cross-validated {METRIC}).",
            f"# Collections: {names}"
            + (f"; {self.candidates} candidates per retriever." if self.candidates else "."),
            f"# {METRIC} over all queries: {self.best_score:.4f}; held out across folds: {self.held_out:.4f} "
            f"(rrf with defaults: {self.baseline_held_out:.4f}).",
        ]
        if self.best.method == "linear" and self.best.options.get("normalize") in ("none", "tm2c2"):
            lines.append(
                "# Expects scores as the searches return them (rerank_hybrid on a vector and a full-text search);"
            )
            lines.append("# inside a LanceDB hybrid query they arrive min-max normalized, which changes this recipe.")
        lines += [f"{key} = {_toml(value)}" for key, value in self.best.config.items()]
        return "\n".join(lines) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the recipe in the format the extension names: ``.json`` as JSON, else TOML
        (``.toml``); both are what ``from_config`` reads."""
        target = Path(path)
        if target.suffix.lower() == ".json":
            target.write_text(json.dumps(self.best.config, indent=2) + "\n", encoding="utf-8")
        else:
            target.write_text(self.recipe(), encoding="utf-8")


def grid(method: str = "all", lower_bounds: Sequence[float] = INDEX_LOWER_BOUNDS) -> list[Setting]:
    """The settings tried, each method's defaults first (ties go to the earlier setting)."""
    if method not in (*METHODS, "all"):
        raise EvalError(f"unknown method '{method}'; choose rrf, linear, mrr or all")
    out: list[Setting] = []
    if method in ("rrf", "all"):
        for k in RRF_K:
            out.append(Setting("rrf", {"K": k}))
            out += [Setting("rrf", {"K": k, "weights": [w, round(1 - w, 1)]}) for w in WEIGHTS if w != 0.5]
    if method in ("linear", "all"):
        for norm in NORMALIZATIONS:
            extra: dict[str, Any] = {"lower_bounds": list(lower_bounds)} if norm == "tm2c2" else {}
            out += [Setting("linear", {"normalize": norm, "weight": w, **extra}) for w in (0.7, *WEIGHTS)]
    if method in ("mrr", "all"):
        out += [Setting("mrr", {"weight_vector": w, "weight_fts": round(1 - w, 1)}) for w in (0.5, *WEIGHTS)]
    return _unique(out)


def _unique(settings: list[Setting]) -> list[Setting]:
    seen, out = set(), []
    for s in settings:
        key = (s.method, repr(sorted(s.options.items())))
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def tune_runs(
    collections: Sequence[Runs],
    *,
    method: str = "all",
    folds: int = 5,
    seed: int = 0,
    lower_bounds: Sequence[float] = INDEX_LOWER_BOUNDS,
    top: int = 10,
    candidates: int | None = None,
    progress: bool = False,
) -> TuneResult:
    """Tune on ready-made runs (see :class:`Runs`); ``lower_bounds`` are tm2c2's [vector, fts] floors."""
    if not collections:
        raise EvalError("tune needs at least one collection")
    if folds < 2:
        raise EvalError(f"folds must be at least 2 (got {folds})")
    settings = grid(method, lower_bounds)
    queries: list[str] = []  # "<collection number>:<query id>"
    owner: list[int] = []
    qrels: dict[str, Mapping[str, int]] = {}
    vector_runs, fts_runs = [], []
    for c, runs in enumerate(collections):
        for qid in runs.query_ids:
            key = f"{c}:{qid}"
            queries.append(key)
            owner.append(c)
            qrels[key] = runs.qrels[qid]
        vector_runs.append(_keyed(runs.vector, c))
        fts_runs.append(_keyed(runs.fts, c))
    if len(queries) < folds:
        raise EvalError(f"{len(queries)} judged queries cannot be split into {folds} folds; lower --folds")
    vector, fts = pa.concat_tables(vector_runs), pa.concat_tables(fts_runs)

    def per_query(setting: Setting) -> list[float]:
        fused = get_reranker(setting.method, top_n=10, **setting.options).fuse_runs([vector, fts], id_column="doc_id")
        values = measure_per_query(_rankings(fused, queries), qrels, [METRIC])[METRIC]
        return [values[q] for q in queries]

    scores = np.empty((len(settings), len(queries)))
    bar = progress_bar(len(settings), f"scoring {len(settings)} settings", progress, unit="setting")
    try:
        for i, setting in enumerate(settings):
            scores[i] = per_query(setting)
            bar.update(1)
    finally:
        bar.close()
    baseline = np.asarray(per_query(Setting("rrf", {})))
    owner_arr = np.asarray(owner)
    fold_of = _folds(owner_arr, folds, seed)

    def mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean over the collections present in ``mask`` of the mean over their queries (last axis)."""
        parts = [values[..., mask & (owner_arr == c)].mean(axis=-1) for c in np.unique(owner_arr[mask])]
        return np.mean(parts, axis=0)

    overall = mean(scores, np.ones(len(queries), dtype=bool))
    best = int(np.argmax(overall))
    fold_results = []
    for f in range(folds):
        held, train = fold_of == f, fold_of != f
        on_train = mean(scores, train)
        winner = int(np.argmax(on_train))
        fold_results.append(
            Fold(settings[winner], float(on_train[winner]), float(mean(scores[winner], held)),
                 float(mean(baseline, held)))
        )
    order = np.argsort(-overall, kind="stable")[:top]
    ranked = [(settings[i], float(overall[i]), [float(mean(scores[i], fold_of == f)) for f in range(folds)])
              for i in order]
    return TuneResult(
        best=settings[best],
        best_score=float(overall[best]),
        top=ranked,
        folds=fold_results,
        collections=[(runs.name, len(runs.query_ids)) for runs in collections],
        candidates=candidates,
        settings=len(settings),
    )


def _keyed(run: pa.Table, number: int) -> pa.Table:
    """A run with its query ids prefixed by the collection number, as strings."""
    missing = [c for c in ("query_id", "doc_id", "score") if c not in run.column_names]
    if missing:
        raise EvalError(f"a tuning run has no column '{missing[0]}'; runs hold query_id, doc_id and score")
    qids = pa.array([f"{number}:{q}" for q in run["query_id"].to_pylist()], pa.string())
    return pa.table({"query_id": qids, "doc_id": run["doc_id"].cast(pa.string()),
                     "score": run["score"].cast(pa.float64())})


def _rankings(fused: pa.Table, queries: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {q: [] for q in queries}
    for q, d in zip(fused["query_id"].to_pylist(), fused["doc_id"].to_pylist()):
        out[q].append(d)
    return out


def _folds(owner: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of each query: each collection's queries shuffled and split evenly."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(owner), dtype=np.int64)
    for c in np.unique(owner):
        members = np.flatnonzero(owner == c)
        rng.shuffle(members)
        for f, part in enumerate(np.array_split(members, folds)):
            out[part] = f
    return out


def collect_runs(
    collection: str | os.PathLike[str] | Collection,
    *,
    candidates: int = 100,
    queries: int | None = None,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> Runs:
    """The vector and full-text runs of a collection's judged queries, from the evaluation index."""
    coll, judged, index = open_judged(
        collection, queries=queries, purpose="tune on", embedding_model=embedding_model, cache_dir=cache_dir,
        rebuild=rebuild, progress=progress, log=log,
    )
    rows: dict[str, list[Any]] = {k: [] for k in ("vq", "vd", "vs", "fq", "fd", "fs")}
    bar = progress_bar(len(judged), f"searching {len(judged)} {coll.name} queries", progress, unit="query")
    try:
        for qid, text in judged:
            found = search(index, qid, text, candidates, {"vector", "bm25"})
            distance = found.vector["_distance"].to_numpy().astype(np.float64)
            rows["vq"] += [qid] * len(distance)
            rows["vd"] += found.vector["doc_id"].to_pylist()
            rows["vs"] += (1.0 - distance).tolist()
            rows["fq"] += [qid] * found.fts.num_rows
            rows["fd"] += found.fts["doc_id"].to_pylist()
            rows["fs"] += found.fts["_score"].to_numpy().astype(np.float64).tolist()
            bar.update(1)
    finally:
        bar.close()
    table = lambda p: pa.table(  # noqa: E731
        {"query_id": pa.array(rows[p + "q"], pa.string()), "doc_id": pa.array(rows[p + "d"], pa.string()),
         "score": pa.array(rows[p + "s"], pa.float64())}
    )
    return Runs(coll.name, table("v"), table("f"), coll.qrels, [q for q, _ in judged])


def tune(
    collections: Sequence[str | os.PathLike[str] | Collection],
    *,
    method: str = "all",
    folds: int = 5,
    seed: int = 0,
    candidates: int = 100,
    queries: int | None = None,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    top: int = 10,
    progress: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> TuneResult:
    """Choose fusion settings on the judged queries of ``collections`` (see the module docstring)."""
    grid(method)  # an unknown method fails before any index is built
    runs = [
        collect_runs(c, candidates=candidates, queries=queries, embedding_model=embedding_model,
                     cache_dir=cache_dir, rebuild=rebuild, progress=progress, log=log)
        for c in collections
    ]
    return tune_runs(runs, method=method, folds=folds, seed=seed, top=top, candidates=candidates, progress=progress)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
