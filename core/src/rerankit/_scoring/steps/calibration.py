"""The ``calibration`` step: each row's final score mapped to a probability of relevance.

A scorer's raw scores (logits, cosine similarities, a provider's relevance) mean something
different for every model, so a threshold on them does too. With ``calibration = {method =
"platt", slope, intercept}`` or ``{method = "isotonic", x = [...], y = [...]}`` (what ``rerankit
calibrate`` fits on judged queries) the reranker's ``_relevance_score`` is the fitted probability
that the row is relevant, and the raw score stays in the ``_raw_score`` column.

Both maps are monotone, so the ranking does not change: Platt's is strictly increasing
(``slope > 0``); an isotonic map has flat steps, and rows it ties keep the order of their raw
scores (the reranker ranks by the calibrated score, then the raw one). The step is the path's
outermost (see :mod:`rerankit._scoring.steps`): it sees each row's score after its passages were
aggregated, and the cache below it keeps raw scores, so refitting a calibration needs no rescoring.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..._columns import RAW_SCORE
from .base import AsyncNext, Job, Next, Step, StepContext


class CalibrationOptions(BaseModel):
    """A fitted calibration: ``platt`` (``p = 1 / (1 + exp(-(slope * score + intercept)))``) or
    ``isotonic`` (a non-decreasing step function through the points ``(x[i], y[i])``, linear
    between them and constant beyond the ends)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["platt", "isotonic"]
    slope: Optional[float] = Field(None, gt=0, allow_inf_nan=False, description="platt: the score's weight (> 0).")
    intercept: Optional[float] = Field(None, allow_inf_nan=False, description="platt: the offset.")
    x: Optional[list[float]] = Field(None, description="isotonic: raw scores, strictly increasing.")
    y: Optional[list[float]] = Field(None, description="isotonic: their probabilities, non-decreasing, in [0, 1].")

    @model_validator(mode="after")
    def _parameters_fit_the_method(self) -> CalibrationOptions:
        if self.method == "platt":
            if self.slope is None or self.intercept is None:
                raise ValueError(
                    "calibration method 'platt' needs slope and intercept, e.g. {method = 'platt', slope = 4.2, "
                    "intercept = -1.3} (rerankit calibrate fits them)"
                )
            if self.x is not None or self.y is not None:
                raise ValueError("calibration method 'platt' takes slope and intercept, not x and y")
            return self
        if self.x is None or self.y is None:
            raise ValueError(
                "calibration method 'isotonic' needs x and y (the fitted points), e.g. {method = 'isotonic', "
                "x = [0.1, 0.5], y = [0.02, 0.7]} (rerankit calibrate fits them)"
            )
        if self.slope is not None or self.intercept is not None:
            raise ValueError("calibration method 'isotonic' takes x and y, not slope and intercept")
        x, y = np.asarray(self.x, np.float64), np.asarray(self.y, np.float64)
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(f"calibration x and y must be non-empty and of one length (got {len(x)} and {len(y)})")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("calibration x and y must be finite numbers")
        if np.any(np.diff(x) <= 0):
            raise ValueError("calibration x must be strictly increasing")
        if np.any(np.diff(y) < 0) or y[0] < 0 or y[-1] > 1:
            raise ValueError("calibration y must be non-decreasing probabilities in [0, 1]")
        return self

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """The probabilities of ``scores`` (float64, same shape)."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            assert self.slope is not None and self.intercept is not None
            z = self.slope * scores + self.intercept
            # 1 / (1 + exp(-z)) without overflow for very negative z
            return np.exp(-np.logaddexp(0.0, -z))
        return np.interp(scores, np.asarray(self.x, np.float64), np.asarray(self.y, np.float64))


class CalibrationStep(Step):
    """Maps each job's scores with the calibration and keeps the raw ones as ``_raw_score``."""

    def __init__(self, options: CalibrationOptions) -> None:
        self.options = options

    def _map(self, jobs: list[Job], scores: list[np.ndarray]) -> list[np.ndarray]:
        for job, raw in zip(jobs, scores):
            job.columns[RAW_SCORE] = pa.array(np.asarray(raw, np.float32), pa.float32())
        return [self.options.apply(s) for s in scores]

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        return self._map(jobs, call_next(jobs))

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        return self._map(jobs, await call_next(jobs))


def make_calibration(context: StepContext) -> Optional[Step]:
    """The calibration step, when the ``calibration`` option is set."""
    options = getattr(context.config, "calibration", None)
    return None if options is None else CalibrationStep(options)


__all__ = ["CalibrationOptions", "CalibrationStep", "make_calibration"]
