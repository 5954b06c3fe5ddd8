"""Independent reference implementations of the fusion formulas: plain Python, dicts, no numpy.

Written from the published definitions (Cormack et al. for RRF; weighted reciprocal rank; a linear
mix of 1 - distance and the text score), not from rerankit's code, so the tests compare two
implementations that could disagree.
"""

from __future__ import annotations


def rrf(lists: list[list[int]], K: int = 60, weights: list[float] | None = None) -> dict[int, float]:
    weights = weights or [1.0] * len(lists)
    out: dict[int, float] = {}
    for ids, w in zip(lists, weights):
        for rank, rid in enumerate(ids, start=1):
            out[rid] = out.get(rid, 0.0) + w / (K + rank)
    return out


def mrr_hybrid(vec: list[int], fts: list[int], wv: float = 0.5, wf: float = 0.5) -> dict[int, float]:
    rv = {rid: 1.0 / r for r, rid in enumerate(vec, start=1)}
    rf = {rid: 1.0 / r for r, rid in enumerate(fts, start=1)}
    return {rid: wv * rv.get(rid, 0.0) + wf * rf.get(rid, 0.0) for rid in [*vec, *fts]}


def mrr_mean(lists: list[list[int]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for ids in lists:
        for rank, rid in enumerate(ids, start=1):
            out[rid] = out.get(rid, 0.0) + 1.0 / rank
    return {rid: s / len(lists) for rid, s in out.items()}


def linear(
    vec: dict[int, float], fts: dict[int, float], weight: float = 0.7, fill: float = 1.0
) -> dict[int, float]:
    """vec maps rowid -> distance, fts maps rowid -> score."""
    if not vec:
        return dict(fts)
    if not fts:
        return {rid: 1.0 - d for rid, d in vec.items()}
    out = {}
    for rid in [*vec, *fts]:
        v = 1.0 - vec[rid] if rid in vec else 1.0 - fill
        f = fts[rid] if rid in fts else 1.0 - fill
        out[rid] = weight * v + (1.0 - weight) * f
    return out


def first_appearance(*lists: list[int]) -> list[int]:
    seen: dict[int, None] = {}
    for ids in lists:
        for rid in ids:
            seen.setdefault(rid, None)
    return list(seen)


def ordered(scores: dict[int, float], appearance: list[int]) -> list[int]:
    """Row ids by float32 score descending, ties in order of first appearance."""
    import struct

    def f32(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]

    pos = {rid: i for i, rid in enumerate(appearance)}
    return sorted(appearance, key=lambda rid: (-f32(scores[rid]), pos[rid]))


# -- score normalizations (definitions as cited in core/README.md), one list at a time ----------
def normalized(scores: list[float], method: str, lower: float | None = None) -> list[float]:
    """One query's list, best first, normalized; a zero denominator counts as 1."""
    import statistics

    def scale(lo: float, hi: float) -> list[float]:
        span = (hi - lo) or 1.0
        return [(s - lo) / span for s in scores]

    if not scores or method == "none":
        return list(scores)
    if method == "min-max":
        return scale(min(scores), max(scores))
    if method == "tm2c2":
        return scale(lower, max(scores))
    if method == "rank":
        n = len(scores)
        return [1.0 - r / ((n - 1) or 1) for r in range(n)]
    mean, std = statistics.fmean(scores), statistics.pstdev(scores)
    if method == "z-score":
        return [(s - mean) / (std or 1.0) for s in scores]
    if method == "dbsf":
        return scale(mean - 3 * std, mean + 3 * std)
    raise ValueError(method)


def linear_normalized(
    sides: list[dict[int, float]],
    weights: list[float],
    method: str,
    fill: float = 1.0,
    lowers: list[float] | None = None,
) -> dict[int, float]:
    """Weighted sum of normalized relevance; each side maps rowid -> relevance, best first."""
    out: dict[int, float] = {}
    normed = []
    for i, side in enumerate(sides):
        values = normalized(list(side.values()), method, None if lowers is None else lowers[i])
        normed.append(dict(zip(side, values)))
    for rid in first_appearance(*[list(s) for s in sides]):
        out[rid] = sum(w * n.get(rid, 1.0 - fill) for w, n in zip(weights, normed))
    return out
