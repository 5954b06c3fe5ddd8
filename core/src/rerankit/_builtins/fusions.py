"""The core's fusion methods ``rrf``, ``linear`` and ``mrr``, registered like any plugin's.

They reproduce ``lancedb.rerankers`` (same formulas, 1-based ranks, the same float64 arithmetic
before the float32 cast) and are registered through the public ``register_fusions`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import Field, model_validator

from .._config import RerankerConfig
from .._errors import InputError
from .._fusion import RankedList
from .._hookspecs import hookimpl


class RRFConfig(RerankerConfig):
    """Reciprocal rank fusion: score = sum over lists of weight / (K + rank)."""

    K: int = Field(60, gt=0, description="Rank offset; 60 as in Cormack et al. and LanceDB.")


class LinearConfig(RerankerConfig):
    """Linear combination: weight * (1 - _distance) + (1 - weight) * _score."""

    weight: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the vector side.")
    fill: float = Field(
        1.0, description="Penalty for a row missing from one side: its score there is 1 - fill."
    )


class MRRConfig(RerankerConfig):
    """Weighted reciprocal rank: weight_vector / rank_vector + weight_fts / rank_fts."""

    weight_vector: float = Field(0.5, ge=0.0, le=1.0)
    weight_fts: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> MRRConfig:
        if abs(self.weight_vector + self.weight_fts - 1.0) > 1e-6:
            raise ValueError(
                f"weight_vector + weight_fts must equal 1.0 (got {self.weight_vector} + {self.weight_fts})"
            )
        return self


def _weights(lists: Sequence[RankedList], default: Sequence[float]) -> list[float]:
    return [d if lst.weight is None else lst.weight for lst, d in zip(lists, default)]


def rrf(lists: Sequence[RankedList], size: int, config: RRFConfig) -> np.ndarray:
    out = np.zeros(size)
    for lst, w in zip(lists, _weights(lists, [1.0] * len(lists))):
        out[lst.positions] += w / (config.K + lst.ranks)
    return out


def mrr(lists: Sequence[RankedList], size: int, config: MRRConfig) -> np.ndarray:
    out = np.zeros(size)
    explicit = any(lst.weight is not None for lst in lists)
    two_sided = len(lists) == 2 and [lst.source for lst in lists] != ["vector", "vector"]
    if explicit or two_sided:
        default = [config.weight_vector, config.weight_fts] if two_sided else [1.0] * len(lists)
        for lst, w in zip(lists, _weights(lists, default)):
            out[lst.positions] += w * (1.0 / lst.ranks)
        return out
    for lst in lists:  # several searches of one kind: the mean reciprocal rank
        out[lst.positions] += 1.0 / lst.ranks
    return out / len(lists)


def linear(lists: Sequence[RankedList], size: int, config: LinearConfig) -> np.ndarray:
    present = [lst for lst in lists if len(lst)]
    if len(present) == 1 and present[0].weight is None:
        # One side only (as in LanceDB): that side's own relevance, unweighted.
        out = np.full(size, 1.0 - config.fill)
        out[present[0].positions] = _relevance(present[0])
        return out
    default = [config.weight, 1.0 - config.weight] if len(lists) == 2 else [1.0 / len(lists)] * len(lists)
    out = np.zeros(size)
    for lst, w in zip(lists, _weights(lists, default)):
        side = np.full(size, 1.0 - config.fill)
        if len(lst):
            side[lst.positions] = _relevance(lst)
            side[np.isnan(side)] = 1.0 - config.fill
        out += w * side
    return out


def _relevance(lst: RankedList) -> np.ndarray:
    if lst.scores is None:
        raise InputError(
            f"the linear method needs scores: {lst.source} results must carry "
            f"{'_distance' if lst.source == 'vector' else '_score'}"
        )
    return lst.scores


@hookimpl
def register_fusions(register: Callable[..., None]) -> None:
    register("rrf", rrf, RRFConfig)
    register("linear", linear, LinearConfig)
    register("mrr", mrr, MRRConfig)
