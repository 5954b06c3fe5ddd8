"""Ranking metrics over graded judgments: nDCG@k, reciprocal rank@k and recall@k.

Each function takes one query's ranking (document ids, best first, as the system returned them)
and its judgments (document id to grade; grade 0 or a missing id is not relevant). Conventions
are trec_eval's, so figures line up with ir-measures: the gain of a document is its grade, the
discount at rank r is log2(r + 1), the ideal ranking sorts every judged relevant document by grade.
Unlike trec_eval, the ranking is taken as given; tied scores are not re-sorted by document id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _grades(ranking: Sequence[str], qrels: Mapping[str, int], k: int | None) -> np.ndarray:
    top = ranking if k is None else ranking[:k]
    return np.fromiter((max(qrels.get(doc, 0), 0) for doc in top), dtype=np.float64, count=len(top))


def _discounted(gains: np.ndarray) -> float:
    return float(np.sum(gains / np.log2(np.arange(2, len(gains) + 2))))


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Normalized discounted cumulative gain of the first ``k`` documents (0.0 if none is relevant)."""
    ideal = np.sort(np.fromiter((g for g in qrels.values() if g > 0), dtype=np.float64))[::-1][:k]
    best = _discounted(ideal)
    return _discounted(_grades(ranking, qrels, k)) / best if best > 0 else 0.0


def rr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """1 / rank of the first relevant document within the first ``k`` (0.0 if there is none)."""
    hits = np.flatnonzero(_grades(ranking, qrels, k) > 0)
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents found within the first ``k`` (0.0 if none is judged relevant)."""
    relevant = sum(1 for g in qrels.values() if g > 0)
    return float(np.sum(_grades(ranking, qrels, k) > 0)) / relevant if relevant else 0.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (0.0 for no values)."""
    return float(np.mean(values)) if len(values) else 0.0


__all__ = ["mean", "ndcg_at_k", "recall_at_k", "rr_at_k"]
