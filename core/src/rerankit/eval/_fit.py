"""Fitting a calibration, and measuring one: numpy only.

:func:`fit_calibration` turns raw scores and relevant/not-relevant labels into the ``calibration``
option of a scoring reranker: ``platt`` is a one-feature logistic regression fitted by maximum
likelihood (Newton's method, no regularization, no target smoothing), ``isotonic`` the
non-decreasing least-squares fit (pool adjacent violators, tied scores pooled first, clipped to
the fitted range). :func:`expected_calibration_error` (equal-width bins, weighted by their size)
and :func:`brier_score` say how close probabilities are to the observed rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._collection import EvalError

METHODS = ("platt", "isotonic")


def _arrays(scores: Sequence[float], labels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if len(x) != len(y):
        raise EvalError(f"scores has {len(x)} values and labels {len(y)}; give one label per score")
    if not len(x):
        raise EvalError("no scores to fit a calibration on; judge some candidates first")
    if not np.isfinite(x).all():
        raise EvalError("scores must be finite numbers")
    if not np.isin(y, (0.0, 1.0)).all():
        raise EvalError("labels must be 0 (not relevant) or 1 (relevant)")
    return x, y


def fit_calibration(scores: Sequence[float], labels: Sequence[float], method: str = "platt") -> dict[str, Any]:
    """The ``calibration`` option fitted on ``scores`` with ``labels`` (1 relevant, 0 not):
    ``{"method": "platt", "slope", "intercept"}`` or ``{"method": "isotonic", "x", "y"}``."""
    x, y = _arrays(scores, labels)
    if method == "platt":
        return _fit_platt(x, y)
    if method == "isotonic":
        return _fit_isotonic(x, y)
    raise EvalError(f"unknown calibration method '{method}'; choose from {', '.join(METHODS)}")


def _fit_platt(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if y.min() == y.max():
        raise EvalError(
            "a platt calibration needs both relevant and non-relevant candidates; every label is "
            f"{int(y[0])} (more candidates or queries, or another --relevant cut)"
        )
    # standardize, so Newton's steps are well scaled whatever the scores' range
    mean, std = x.mean(), x.std()
    std = std if std > 0 else 1.0
    z = (x - mean) / std
    w = np.zeros(2)  # [slope, intercept] on z
    design = np.column_stack([z, np.ones_like(z)])
    for _ in range(100):
        p = np.exp(-np.logaddexp(0.0, -(design @ w)))
        grad = design.T @ (p - y)
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-12 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-12:
            break
    slope, intercept = w[0] / std, w[1] - w[0] * mean / std
    if not np.isfinite([slope, intercept]).all() or slope <= 0:
        raise EvalError(
            "the platt fit did not give an increasing map (the scores do not rise with relevance, or "
            "they separate the labels perfectly); try method 'isotonic' or more judged queries"
        )
    return {"method": "platt", "slope": float(slope), "intercept": float(intercept)}


def _fit_isotonic(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    # pool tied scores first: one point per distinct score, its mean label, weighted by its count
    xs, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=y) / counts
    # pool adjacent violators: blocks of (mean, weight, length), merged while a block's mean falls
    values: list[float] = []
    weights: list[float] = []
    lengths: list[int] = []
    for v, wt in zip(means, counts.astype(np.float64)):
        values.append(float(v))
        weights.append(float(wt))
        lengths.append(1)
        while len(values) > 1 and values[-2] >= values[-1]:
            v2, w2, n2 = values.pop(), weights.pop(), lengths.pop()
            total = weights[-1] + w2
            values[-1] = (values[-1] * weights[-1] + v2 * w2) / total
            weights[-1] = total
            lengths[-1] += n2
    fitted = np.repeat(values, lengths)
    # keep only the points the step function needs: the ends of each flat run
    keep = np.ones(len(xs), dtype=bool)
    if len(xs) > 2:
        flat = (fitted[1:-1] == fitted[:-2]) & (fitted[1:-1] == fitted[2:])
        keep[1:-1] = ~flat
    return {"method": "isotonic", "x": xs[keep].tolist(), "y": np.clip(fitted[keep], 0.0, 1.0).tolist()}


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[float], bins: int = 10) -> float:
    """ECE: over ``bins`` equal-width bins of [0, 1], the size-weighted mean of
    ``|mean probability - rate of relevant|``; probabilities outside [0, 1] are clipped."""
    p, y = _arrays(probabilities, labels)
    p = np.clip(p, 0.0, 1.0)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs(p[inside].mean() - y[inside].mean())
    return float(total / len(p))


def brier_score(probabilities: Sequence[float], labels: Sequence[float]) -> float:
    """The mean squared difference between probability (clipped to [0, 1]) and label."""
    p, y = _arrays(probabilities, labels)
    return float(np.mean((np.clip(p, 0.0, 1.0) - y) ** 2))


def reliability(
    probabilities: Sequence[float], labels: Sequence[float], bins: int = 10
) -> list[tuple[float, float, int]]:
    """Per non-empty bin: ``(mean probability, rate of relevant, count)`` (the reliability diagram)."""
    p, y = _arrays(probabilities, labels)
    p = np.clip(p, 0.0, 1.0)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    return [
        (float(p[which == b].mean()), float(y[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]


__all__ = ["METHODS", "brier_score", "expected_calibration_error", "fit_calibration", "reliability"]
