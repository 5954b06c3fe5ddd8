"""Score normalizations for score-based fusion: each ranked list's scores put on a common scale.

Scores from different retrievers live on different scales (BM25 is unbounded, ``1 - _distance``
is not), so a weighted sum of raw scores mostly follows whichever scale is widest. Each method
maps one list's scores (per query, when the list holds several queries' rows) as follows:

- ``none``: the scores as given (LanceDB's ``LinearCombinationReranker``).
- ``min-max``: ``(s - min) / (max - min)`` over the list: the best row 1, the worst 0 (what LanceDB's
  hybrid query does to ``_distance`` and ``_score`` before it calls a reranker).
- ``z-score``: ``(s - mean) / std`` (population standard deviation).
- ``rank``: ``1 - (rank - 1) / (n - 1)`` for a list of ``n`` rows: the scores are ignored, the best
  row 1, the last 0 (LanceDB's hybrid ``normalize="rank"``).
- ``dbsf``: distribution-based score fusion (Mazzeschi, 2023): min-max with ``mean - 3 std`` and
  ``mean + 3 std`` as the bounds instead of the observed extremes (not clipped).
- ``tm2c2``: theoretical min-max (Bruch, Gai and Ingber, 2023): ``(s - lower) / (max - lower)``
  with the retriever's known lower bound (0 for BM25, -1 for cosine similarity) instead of the
  observed minimum.

Missing scores (NaN) stay NaN and are left out of the statistics. Where a denominator is zero (one
row, all scores equal, or a maximum at the lower bound) it is taken as 1, so every row of that
list maps to 0 (``rank``: to 1), as LanceDB does for a constant ``_score``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Normalization = Literal["none", "min-max", "z-score", "rank", "dbsf", "tm2c2"]
NORMALIZATIONS: tuple[str, ...] = ("none", "min-max", "z-score", "rank", "dbsf", "tm2c2")


def normalize(
    scores: np.ndarray | None,
    ranks: np.ndarray,
    method: str,
    *,
    groups: np.ndarray | None = None,
    lower_bound: float | None = None,
) -> np.ndarray:
    """One list's scores normalized with ``method``, separately within each group (query).

    ``ranks`` are the 1-based ranks (used by ``rank``); ``groups`` numbers the query of each entry
    (0..G-1), or None when the list belongs to one query; ``lower_bound`` is required by ``tm2c2``.
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}; choose one of {', '.join(NORMALIZATIONS)}")
    if method == "none":
        if scores is None:
            raise ValueError("scores are required")
        return np.array(scores, dtype=np.float64)  # a copy, as given
    n = len(ranks)
    codes = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    size = int(codes.max()) + 1 if n else 0
    if method == "rank":
        count = np.bincount(codes, minlength=size).astype(np.float64)
        return 1.0 - (np.asarray(ranks, dtype=np.float64) - 1.0) / _nonzero(count - 1.0)[codes]
    if scores is None:
        raise ValueError("scores are required")
    values = np.asarray(scores, dtype=np.float64)
    if n == 0:
        return values.copy()
    stats = _GroupStats(values, codes, size)
    if method == "min-max":
        low, high = stats.minimum(), stats.maximum()
    elif method == "tm2c2":
        if lower_bound is None:
            raise ValueError("tm2c2 needs the retriever's lower bound")
        low, high = np.full(size, float(lower_bound)), stats.maximum()
    else:
        mean, std = stats.mean_std()
        if method == "z-score":
            return (values - mean[codes]) / _nonzero(std)[codes]
        low, high = mean - 3.0 * std, mean + 3.0 * std  # dbsf
    return (values - low[codes]) / _nonzero(high - low)[codes]


def _nonzero(denominator: np.ndarray) -> np.ndarray:
    return np.where(denominator == 0.0, 1.0, denominator)


class _GroupStats:
    """Minimum, maximum, mean and population standard deviation of each group, NaNs left out."""

    def __init__(self, values: np.ndarray, codes: np.ndarray, size: int) -> None:
        valid = ~np.isnan(values)
        self.values, self.codes, self.size = values[valid], codes[valid], size

    def minimum(self) -> np.ndarray:
        out = np.full(self.size, np.inf)
        np.minimum.at(out, self.codes, self.values)
        return np.where(np.isinf(out), 0.0, out)

    def maximum(self) -> np.ndarray:
        out = np.full(self.size, -np.inf)
        np.maximum.at(out, self.codes, self.values)
        return np.where(np.isinf(out), 0.0, out)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        count = np.maximum(np.bincount(self.codes, minlength=self.size), 1)
        mean = np.bincount(self.codes, weights=self.values, minlength=self.size) / count
        centered = self.values - mean[self.codes]
        var = np.bincount(self.codes, weights=centered * centered, minlength=self.size) / count
        return mean, np.sqrt(var)


__all__ = ["NORMALIZATIONS", "Normalization", "normalize"]
