"""The core's fusion methods ``rrf``, ``linear`` and ``mrr``, registered like any plugin's.

With their default options they reproduce ``lancedb.rerankers`` (same formulas, 1-based ranks, the
same float64 arithmetic before the float32 cast); every method also takes per-list ``weights``, and
``linear`` a score ``normalize``-ation (see ``rerankit._normalize``). They are registered through the
public ``register_fusions`` hook.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np
from pydantic import Field, field_validator, model_validator

from .._config import RerankerConfig
from .._errors import InputError
from .._fusion import RankedList
from .._hookspecs import hookimpl
from .._normalize import Normalization

Weights = Optional[list[float]]
WEIGHTS_HELP = (
    "One weight per ranked list (hybrid: [vector, fts]; multivector and runs: one per search or "
    "run); a weights= argument of the call wins over it."
)


def _check_weights(weights: Weights) -> Weights:
    if weights is not None:
        if not weights:
            raise ValueError("weights must list one weight per ranked list (or be left out)")
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(f"weights must be finite and non-negative (got {weights})")
    return weights


def _check_lower_bounds(bounds: Weights) -> Weights:
    if bounds is not None:
        if not bounds:
            raise ValueError("lower_bounds must list one bound per ranked list (or be left out)")
        if not all(math.isfinite(b) for b in bounds):
            raise ValueError(f"lower_bounds must be finite numbers, e.g. [-1.0, 0.0] (got {bounds})")
    return bounds


class RRFConfig(RerankerConfig):
    """Reciprocal rank fusion: score = sum over lists of weight / (K + rank)."""

    K: int = Field(60, gt=0, description="Rank offset; 60 as in Cormack et al. and LanceDB.")
    weights: Weights = Field(None, description=WEIGHTS_HELP + " Default: 1 each.")

    _weights_ok = field_validator("weights")(_check_weights)


class LinearConfig(RerankerConfig):
    """Linear combination: weight * (1 - _distance) + (1 - weight) * _score, scores normalized first."""

    weight: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the vector side.")
    fill: float = Field(
        1.0, description="Penalty for a row missing from one side: its score there is 1 - fill."
    )
    normalize: Normalization = Field(
        "none",
        description="How each list's scores are normalized before they are combined: none (as given, "
        "LanceDB's), min-max, z-score, rank, dbsf or tm2c2.",
    )
    weights: Weights = Field(
        None, description=WEIGHTS_HELP + " Replaces weight; default [weight, 1 - weight] for two lists."
    )
    lower_bounds: Weights = Field(
        None,
        description="tm2c2 only: each list's theoretical lowest score (default: 0 for full-text "
        "search, -1 for vector search, i.e. 1 - _distance with a cosine distance).",
    )

    _weights_ok = field_validator("weights")(_check_weights)
    _bounds_ok = field_validator("lower_bounds")(_check_lower_bounds)

    @model_validator(mode="after")
    def _one_way_to_weigh(self) -> LinearConfig:
        if self.weights is not None and "weight" in self.model_fields_set:
            raise ValueError("set either weight (two lists) or weights (one per list), not both")
        if self.lower_bounds is not None and self.normalize != "tm2c2":
            raise ValueError(f"lower_bounds applies only to normalize='tm2c2' (normalize is '{self.normalize}')")
        return self


class MRRConfig(RerankerConfig):
    """Weighted reciprocal rank: weight_vector / rank_vector + weight_fts / rank_fts."""

    weight_vector: float = Field(0.5, ge=0.0, le=1.0)
    weight_fts: float = Field(0.5, ge=0.0, le=1.0)
    weights: Weights = Field(None, description=WEIGHTS_HELP + " Replaces weight_vector and weight_fts.")

    _weights_ok = field_validator("weights")(_check_weights)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> MRRConfig:
        if abs(self.weight_vector + self.weight_fts - 1.0) > 1e-6:
            raise ValueError(
                f"weight_vector + weight_fts must equal 1.0 (got {self.weight_vector} + {self.weight_fts})"
            )
        if self.weights is not None and {"weight_vector", "weight_fts"} & self.model_fields_set:
            raise ValueError("set either weight_vector/weight_fts or weights (one per list), not both")
        return self


def _weights(lists: Sequence[RankedList], configured: Weights, default: Sequence[float]) -> list[float]:
    """Each list's weight: the call's, else the config's ``weights``, else the method's default."""
    if configured is not None and len(configured) != len(lists):
        raise InputError(
            f"the config's weights has {len(configured)} value(s) for {len(lists)} ranked lists; "
            "give one per list (hybrid: [vector, fts])"
        )
    base = default if configured is None else configured
    return [b if lst.weight is None else lst.weight for lst, b in zip(lists, base)]


def rrf(lists: Sequence[RankedList], size: int, config: RRFConfig) -> np.ndarray:
    out = np.zeros(size)
    for lst, w in zip(lists, _weights(lists, config.weights, [1.0] * len(lists))):
        n = len(lst.positions)
        if n <= _CACHED and lst.plain_ranks:
            out[lst.positions] += _rrf_terms(w, config.K, n)
        else:
            out[lst.positions] += w / (config.K + lst.ranks)
    return out


def mrr(lists: Sequence[RankedList], size: int, config: MRRConfig) -> np.ndarray:
    out = np.zeros(size)
    explicit = config.weights is not None or any(lst.weight is not None for lst in lists)
    two_sided = len(lists) == 2 and [lst.source for lst in lists] != ["vector", "vector"]
    if explicit or two_sided:
        default = [config.weight_vector, config.weight_fts] if two_sided else [1.0] * len(lists)
        for lst, w in zip(lists, _weights(lists, config.weights, default)):
            out[lst.positions] += w * _reciprocal_ranks(lst)
        return out
    for lst in lists:  # several searches of one kind: the mean reciprocal rank
        out[lst.positions] += _reciprocal_ranks(lst)
    return out / len(lists)


#: Lists up to this length reuse the terms computed for the last lists of their length (a search
#: returns the same number of rows call after call); the values are the same either way.
_CACHED = 4096


@functools.lru_cache(maxsize=32)
def _rrf_terms(weight: float, k: int, n: int) -> np.ndarray:
    """weight / (k + rank) for ranks 1..n, read-only."""
    terms = weight / (k + np.arange(1, n + 1, dtype=np.float64))
    terms.flags.writeable = False
    return terms


@functools.lru_cache(maxsize=32)
def _reciprocals(n: int) -> np.ndarray:
    """1 / rank for ranks 1..n, read-only."""
    terms = 1.0 / np.arange(1, n + 1, dtype=np.float64)
    terms.flags.writeable = False
    return terms


def _reciprocal_ranks(lst: RankedList) -> np.ndarray:
    n = len(lst.positions)
    return _reciprocals(n) if n <= _CACHED and lst.plain_ranks else 1.0 / lst.ranks


def linear(lists: Sequence[RankedList], size: int, config: LinearConfig) -> np.ndarray:
    if config.lower_bounds is not None and len(config.lower_bounds) != len(lists):
        raise InputError(
            f"lower_bounds has {len(config.lower_bounds)} value(s) for {len(lists)} ranked lists; "
            "give one per list (hybrid: [vector, fts])"
        )
    present = [i for i, lst in enumerate(lists) if len(lst)]
    if len(present) == 1 and config.weights is None and lists[present[0]].weight is None:
        # One side only (as in LanceDB): that side's own relevance, unweighted.
        out = _filled(size, 1.0 - config.fill)
        out[lists[present[0]].positions] = _relevance(lists, present[0], config)
        out[np.isnan(out)] = 1.0 - config.fill  # a missing (null) score, as on either side of a hybrid
        return out
    default = [config.weight, 1.0 - config.weight] if len(lists) == 2 else [1.0 / len(lists)] * len(lists)
    out = np.zeros(size)
    for i, (lst, w) in enumerate(zip(lists, _weights(lists, config.weights, default))):
        side = _filled(size, 1.0 - config.fill)
        if len(lst):
            side[lst.positions] = _relevance(lists, i, config)
            side[np.isnan(side)] = 1.0 - config.fill
        out += w * side
    return out


#: tm2c2's default lower bound of each source's scores: BM25 is never negative; 1 - cosine
#: distance is a cosine similarity, at least -1.
LOWER_BOUNDS = {"fts": 0.0, "vector": -1.0}


def _relevance(lists: Sequence[RankedList], i: int, config: LinearConfig) -> np.ndarray:
    lst = lists[i]
    if lst.scores is None and config.normalize != "rank":
        raise InputError(
            f"the linear method needs scores: {lst.source} results must carry "
            f"{'_distance' if lst.source == 'vector' else '_score'}"
        )
    bound = None
    if config.normalize == "tm2c2":
        bound = config.lower_bounds[i] if config.lower_bounds is not None else LOWER_BOUNDS.get(lst.source)
        if bound is None:
            raise InputError(
                f"normalize='tm2c2' needs each list's lower bound and list {i} ({lst.source} results) "
                "has no default; set lower_bounds = [...] in the config, one per list"
            )
        _check_bound(lst, i, bound, given=config.lower_bounds is not None)
    if config.normalize == "none":  # the scores as given; the caller copies them into its own array
        return np.asarray(lst.scores, dtype=np.float64)
    return lst.normalized(config.normalize, bound)


def _filled(size: int, value: float) -> np.ndarray:
    """``np.full(size, value)`` (float64) without its Python-level wrapper."""
    out = np.empty(size)
    out.fill(value)
    return out


def _check_bound(lst: RankedList, i: int, bound: float, given: bool) -> None:
    """A lower bound above a list's best score would invert that list's order: refuse it."""
    scores = lst.scores
    if scores is None or not len(scores):
        return
    valid = ~np.isnan(scores)
    if not valid.any():
        return
    groups = np.zeros(len(scores), np.int64) if lst.groups is None else np.asarray(lst.groups, np.int64)
    best = np.full(int(groups.max()) + 1, -np.inf)
    np.maximum.at(best, groups[valid], scores[valid])
    seen = best[np.isfinite(best)]
    if len(seen) and seen.min() < bound:
        what = f"lower_bounds[{i}] = {bound}" if given else f"the default lower bound {bound}"
        raise InputError(
            f"normalize='tm2c2': {what} is above the best score ({seen.min():.6g}) of list {i} "
            f"({lst.source} results), which would invert its order; a lower bound must be at most "
            "every score: set lower_bounds = [...] in the config, one per list (e.g. -3 for squared "
            "L2 distances between unit vectors)"
        )


@hookimpl
def register_fusions(register: Callable[..., None]) -> None:
    register("rrf", rrf, RRFConfig)
    register("linear", linear, LinearConfig)
    register("mrr", mrr, MRRConfig)
