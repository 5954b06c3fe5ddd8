"""``calibrate``: fit a scoring reranker's ``calibration`` on judged queries, cross-validated.

The first-stage candidates of every judged query (``retriever``, ``candidates`` rows; the same
search and cached index as ``rerankit eval``) are scored by the reranker without calibration. A
candidate is *relevant* when its judgment grade is at least ``relevant`` (default 1: any positive
grade, the cut ir-measures and ``rerankit eval`` use; unjudged candidates are not relevant).

k-fold cross-validation over queries says how well the calibration generalizes: each collection's
queries are shuffled (``seed``) and split into ``folds`` parts, a calibration is fitted on the other
folds and applied to each fold's candidates, and the expected calibration error (ECE, 10 bins) and
Brier score of those held-out probabilities are reported beside the raw scores' (read as
probabilities, clipped to [0, 1]), with precision and recall at a threshold. The calibration
written out is fitted on every query.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rerankit import FusionReranker, Reranker, get_reranker
from rerankit._config import public_dump

from ._collection import Collection, EvalError
from ._fit import METHODS, brier_score, expected_calibration_error, fit_calibration, reliability
from ._index import open_judged
from ._pipelines import Pipeline, columns_needed, resolve
from ._progress import progress_bar
from ._search import RETRIEVERS, search
from ._tune import _folds

#: Options a calibration is fitted without: the raw, whole ranking is what it maps.
UNSET_FOR_FITTING = {"calibration": None, "min_score": None, "top_n": None}


@dataclass
class Scored:
    """Every scored candidate: its query (``collection:query id``), raw score and label."""

    queries: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)


@dataclass
class Quality:
    """How well probabilities match the labels: ECE, Brier, and precision/recall at ``threshold``."""

    ece: float
    brier: float
    precision: float
    recall: float
    kept: int

    @classmethod
    def of(cls, p: np.ndarray, y: np.ndarray, threshold: float) -> Quality:
        keep = p >= threshold
        relevant_kept = float(y[keep].sum())
        return cls(
            expected_calibration_error(p, y),
            brier_score(p, y),
            relevant_kept / keep.sum() if keep.any() else float("nan"),
            relevant_kept / y.sum() if y.sum() else float("nan"),
            int(keep.sum()),
        )


@dataclass
class CalibrationResult:
    """The fitted calibration, its config and the cross-validated before/after figures."""

    config: dict[str, Any]
    method: str
    folds: int
    relevant: int
    retriever: str
    candidates: int
    threshold: float
    collections: list[tuple[str, int]]
    scored: int
    positives: int
    before: Quality
    after: Quality
    raw: np.ndarray = field(repr=False)
    held_out: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)

    @property
    def calibration(self) -> dict[str, Any]:
        return self.config["calibration"]

    def recipe(self) -> str:
        """The reranker with its calibration, as a TOML config ``from_config`` reads."""
        names = ", ".join(f"{n} ({q} queries)" for n, q in self.collections)
        lines = [
            f"# Calibration fitted by `rerankit calibrate` ({self.method}, grade >= {self.relevant} is relevant).",
            f"# Collections: {names}; {self.retriever} top {self.candidates} candidates, {self.scored} scored.",
            f"# Held out across {self.folds} folds: ECE {self.before.ece:.4f} -> {self.after.ece:.4f}, "
            f"Brier {self.before.brier:.4f} -> {self.after.brier:.4f}.",
        ]
        lines += [f"{key} = {_toml(value)}" for key, value in self.config.items() if value is not None]
        return "\n".join(lines) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        """``.json`` as JSON, else TOML; both are what ``from_config`` reads."""
        target = Path(path)
        if target.suffix.lower() == ".json":
            data = {k: v for k, v in self.config.items() if v is not None}
            target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        else:
            target.write_text(self.recipe(), encoding="utf-8")

    def plot(self, path: str | os.PathLike[str], title: str = "") -> None:
        """The reliability diagram (10 bins) of the raw scores and the held-out probabilities."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise EvalError(f"--plot needs matplotlib ({exc}); pip install 'rerankit[eval]'") from None
        fig, ax = plt.subplots(figsize=(5.0, 4.6))
        try:
            ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
            for values, label, quality, marker in (
                (self.raw, "raw score", self.before, "o"),
                (self.held_out, f"{self.method} (held out)", self.after, "s"),
            ):
                bins = reliability(values, self.labels)
                ax.plot([b[0] for b in bins], [b[1] for b in bins], marker=marker, markersize=4,
                        label=f"{label}: ECE {quality.ece:.3f}, Brier {quality.brier:.3f}")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("score (mean in bin)")
            ax.set_ylabel("share of relevant candidates")
            if title:
                ax.set_title(title, fontsize=9)
            ax.legend(loc="upper left", fontsize=7)
            fig.tight_layout()
            fig.savefig(path, dpi=80)
        finally:
            plt.close(fig)


def calibrate(
    collections: Sequence[str | os.PathLike[str] | Collection],
    reranker: str | os.PathLike[str] | Mapping[str, Any] | Reranker,
    *,
    method: str = "platt",
    relevant: int = 1,
    retriever: str = "bm25",
    candidates: int = 100,
    folds: int = 5,
    seed: int = 0,
    queries: int | None = None,
    threshold: float = 0.5,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> CalibrationResult:
    """Fit ``reranker``'s calibration on the judged queries of ``collections`` (see the module)."""
    if method not in METHODS:
        raise EvalError(f"unknown calibration method '{method}'; choose from {', '.join(METHODS)}")
    if retriever not in RETRIEVERS:
        raise EvalError(f"unknown retriever '{retriever}'; choose from {', '.join(RETRIEVERS)}")
    if folds < 2:
        raise EvalError(f"cross-validation needs at least 2 folds (got {folds})")
    base = _uncalibrated(reranker)
    scored = Scored()
    counts = []
    try:
        for number, collection in enumerate(collections):
            name, n = _score_collection(
                number, collection, base, scored, relevant=relevant, retriever=retriever, candidates=candidates,
                queries=queries, embedding_model=embedding_model, cache_dir=cache_dir, rebuild=rebuild,
                progress=progress, log=log,
            )
            counts.append((name, n))
    finally:
        closer = getattr(base, "close", None)
        if closer is not None:
            closer()
    raw, labels = np.asarray(scored.scores), np.asarray(scored.labels)
    if labels.min() == labels.max():
        raise EvalError(
            f"every scored candidate is {'relevant' if labels[0] else 'not relevant'} at --relevant {relevant}; "
            "a calibration needs both (more candidates, more queries or another --relevant cut)"
        )
    ids = np.asarray(scored.queries)
    unique, query_of = np.unique(ids, return_inverse=True)
    if len(unique) < folds:
        raise EvalError(f"{len(unique)} judged queries cannot be split into {folds} folds; lower --folds")
    owner = np.asarray([u.split(":", 1)[0] for u in unique])
    fold_of = _folds(owner, folds, seed)[query_of]
    held_out = np.empty_like(raw)
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        if labels[train].min() == labels[train].max():
            raise EvalError(f"fold {f + 1}'s training queries have only one label; lower --folds")
        fitted = fit_calibration(raw[train], labels[train], method)
        held_out[test] = _apply(fitted, raw[test])
    config = _public_config(base)
    config["calibration"] = fit_calibration(raw, labels, method)
    return CalibrationResult(
        config=config, method=method, folds=folds, relevant=relevant, retriever=retriever, candidates=candidates,
        threshold=threshold, collections=counts, scored=len(raw), positives=int(labels.sum()),
        before=Quality.of(raw, labels, threshold), after=Quality.of(held_out, labels, threshold),
        raw=raw, held_out=held_out, labels=labels,
    )


def _uncalibrated(spec: Any) -> Reranker:
    """The reranker to fit, rebuilt by name without calibration, min_score or top_n."""
    _, reranker = resolve(spec)
    scoring = reranker is not None and not isinstance(reranker, FusionReranker)
    if reranker is None or not scoring or "calibration" not in type(reranker.config).model_fields:
        label = "none" if reranker is None else reranker.name
        raise EvalError(
            f"'{label}' has no calibration option: calibration maps a scoring reranker's scores (crossencoder, "
            "embedding, cohere ...); fusion rerankers and cascades are calibrated through their stages"
        )
    options = {**_public_config(reranker), **UNSET_FOR_FITTING}
    return get_reranker(options.pop("reranker"), **options)


def _public_config(reranker: Reranker) -> dict[str, Any]:
    """The reranker's name and every public option that differs from its default."""
    fields = type(reranker.config).model_fields
    options = {k: v for k, v in public_dump(reranker.config).items() if v != fields[k].default}
    return {"reranker": reranker.name, **options}


def _apply(fitted: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    from rerankit._scoring.steps.calibration import CalibrationOptions

    return CalibrationOptions(**fitted).apply(scores)


def _score_collection(
    number: int,
    collection: Any,
    reranker: Reranker,
    scored: Scored,
    *,
    relevant: int,
    retriever: str,
    candidates: int,
    queries: int | None,
    embedding_model: Any,
    cache_dir: Any,
    rebuild: bool,
    progress: bool,
    log: Callable[[str], None],
) -> tuple[str, int]:
    coll, judged, index = open_judged(
        collection, queries=queries, purpose="calibrate on", embedding_model=embedding_model, cache_dir=cache_dir,
        rebuild=rebuild, progress=progress, log=log,
    )
    columns = columns_needed([Pipeline(retriever, reranker.name, reranker)], index.table.schema.names)
    bar = progress_bar(len(judged), f"scoring {coll.name}'s {len(judged)} queries", progress, unit="query")
    try:
        for qid, text in judged:
            found = search(index, qid, text, candidates, {retriever}, columns)
            rows = {"bm25": found.fts, "vector": found.vector, "hybrid": found.hybrid}[retriever]
            assert rows is not None
            if rows.num_rows:
                out = reranker.rerank(text, rows)
                grades = coll.qrels.get(qid, {})
                scored.queries += [f"{number}:{qid}"] * out.num_rows
                scored.scores += out["_relevance_score"].to_numpy().astype(np.float64).tolist()
                scored.labels += [float(grades.get(d, 0) >= relevant) for d in out["doc_id"].to_pylist()]
            bar.update(1)
    finally:
        bar.close()
    return coll.name, len(judged)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items() if v is not None) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


__all__ = ["CalibrationResult", "Quality", "calibrate"]
