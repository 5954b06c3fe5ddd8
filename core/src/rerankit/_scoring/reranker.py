"""Model-based reranking: the :class:`ScoringReranker` the core wraps around each
:class:`~rerankit.Scorer`.

It selects each row's text (the ``select_text`` hook, or what the scorer's ``select_inputs``
chose), sends it down the scoring path (:mod:`rerankit._scoring.path`: the steps its options turn
on, in the order :mod:`rerankit._scoring.steps` gives, then the scorer) and orders the rows by the
scores that come back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import numpy as np
import pyarrow as pa

from .._builtins.text import select_text as default_select_text
from .._config import RerankerConfig
from .._errors import InputError
from .._inputs import text_values
from .._reranker import Plan, Rebuild, Reranker
from .path import Job, ScoringPath
from .scorer import Scorer
from .steps.base import Build
from .usage import Usage

#: The ``select_text`` hook as a reranker calls it: ``(table, column)`` to the texts, or None.
SelectText = Callable[[pa.Table, str], Optional[Union[pa.Array, pa.ChunkedArray]]]


class ScoringReranker(Reranker):
    """A reranker whose scores come from a model (a :class:`~rerankit.Scorer`).

    ``select_text`` answers which text each row contributes: the registry passes its
    ``select_text`` hook, so plugins' column syntaxes apply; built by hand, the core's own
    selection (column, ``{title}: {text}`` template, ``a.b`` field) is used. ``build`` (the
    registry's) makes other rerankers by name, for the ``fallback`` option.
    """

    def __init__(
        self,
        name: str,
        config: RerankerConfig,
        scorer: Scorer,
        *,
        select_text: SelectText | None = None,
        rebuild: Rebuild | None = None,
        build: Build | None = None,
    ) -> None:
        super().__init__(name, config, rebuild=rebuild)
        self.scorer = scorer
        self.select_text = select_text or default_select_text
        self._build = build
        self.scoring_path = ScoringPath(name, config, scorer, self._check, build)

    @property
    def path(self) -> ScoringPath:
        """The same as :attr:`scoring_path` (the earlier name, kept)."""
        return self.scoring_path

    def __getstate__(self) -> dict[str, Any]:
        # Pickled by value (built by hand): the path's steps hold locks, open cache files and
        # fallback rerankers, so the path is left behind and rebuilt from the options on arrival.
        return {k: v for k, v in self.__dict__.items() if k != "scoring_path"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.scoring_path = ScoringPath(self.name, self.config, self.scorer, self._check, self._build)

    @property
    def usage(self) -> Usage:
        """What this reranker's calls have cost: requests, documents, billed units, cache hits and
        misses, rate-limit waits, fallbacks (a :class:`~rerankit._scoring.usage.Usage`; ``.counters()``
        reads it as a flat mapping, ``.reset()`` zeroes it)."""
        return self.scoring_path.usage

    def _calibrated(self) -> bool:
        return getattr(self.config, "calibration", None) is not None

    def _texts(self, plan: Plan) -> Sequence[Any]:
        """The rows' texts (or what the scorer's ``select_inputs`` chose), one per row to score."""
        if not isinstance(plan.query, str) or not plan.query.strip():
            raise InputError(
                f"query must be a non-empty string for reranker '{self.name}'; got {plan.query!r}"
            )
        rows = plan.rows
        inputs = self.scorer.select_inputs(rows.concatenated)
        if inputs is not None:
            return rows.column(inputs)
        values = self.select_text(rows.concatenated, self.column)
        return text_values(rows.column(values), self.column, "results")

    def _job(self, plan: Plan) -> Job:
        return Job(plan.query, self._texts(plan))

    def _scores(self, plan: Plan) -> np.ndarray:
        job = self._job(plan)
        (scores,) = self.scoring_path.score([job])
        plan.columns = job.columns
        return scores

    async def _ascores(self, plan: Plan) -> np.ndarray:
        job = self._job(plan)
        (scores,) = await self.scoring_path.ascore([job])
        plan.columns = job.columns
        return scores

    def _scores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        jobs = [self._job(p) for p in plans]
        scores = self.scoring_path.score(jobs, max_concurrency, many_queries=True)
        for plan, job in zip(plans, jobs):
            plan.columns = job.columns
        return scores

    async def _ascores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        jobs = [self._job(p) for p in plans]
        scores = await self.scoring_path.ascore(jobs, max_concurrency, many_queries=True)
        for plan, job in zip(plans, jobs):
            plan.columns = job.columns
        return scores

    def close(self) -> None:
        self.scoring_path.close()
        self.scorer.close()

    async def aclose(self) -> None:
        self.scoring_path.close()
        await self.scorer.aclose()

