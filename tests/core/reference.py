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
