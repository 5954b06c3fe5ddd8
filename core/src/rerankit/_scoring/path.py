"""The scoring path: the steps between a scoring reranker's texts and its scorer, written once.

Every :class:`~rerankit.ScoringReranker` sends its calls through a :class:`ScoringPath`: the
steps its options turn on (see :mod:`rerankit._scoring.steps`, which lists them in path order and
says why), then its scorer. A step is middleware, like an ASGI middleware or an httpx transport
wrapper: it receives the call's jobs (one per query) and ``call_next``, the rest of the path. On the way down it may
change the jobs (split texts into passages, keep only the texts a cache misses), on the way up it
maps the scores back to its own jobs' texts, and it may attach output columns to a job (one value
per text, e.g. the best passage of each row). A reranker with no step option set calls its
scorer directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .._errors import ScoringError
from . import steps
from .scorer import scorer_call
from .steps.base import Build, Job, Step, StepContext

if TYPE_CHECKING:
    from .._config import RerankerConfig
    from .scorer import Scorer


class ScoringPath:
    """A reranker's scorer behind the steps its options turn on; what ScoringReranker calls.

    ``check`` validates each scorer answer (count, finiteness) and names the reranker in its error;
    ``build`` makes other rerankers by name (the registry's; fallbacks need it).
    """

    def __init__(
        self,
        name: str,
        config: RerankerConfig,
        scorer: Scorer,
        check: Callable[[Sequence[float], int], np.ndarray],
        build: Build | None = None,
    ) -> None:
        self.scorer = scorer
        self._check = check
        #: The reranker's usage record: the scorer's own meter, which the steps add to as well.
        self.usage = scorer.meter
        options = frozenset(steps.ScoringOptions.model_fields)
        context = StepContext(name, config, scorer, self.usage, build, options)
        self.steps: list[Step] = [s for s in (factory(context) for factory in steps.STEPS) if s is not None]

    def score(self, jobs: list[Job], max_concurrency: int = 16, *, many_queries: bool = False) -> list[np.ndarray]:
        """One array of scores per job. ``many_queries``: the call came from a many-queries entry
        point (``rerank_batch``), so the scorer's ``score_batch`` answers it (else its ``score``,
        once per job)."""

        def call(i: int, jobs: list[Job]) -> list[np.ndarray]:
            if i == len(self.steps):
                return self._call_scorer(jobs, max_concurrency, many_queries)
            return self.steps[i].score(jobs, functools.partial(call, i + 1))

        return call(0, jobs)

    async def ascore(
        self, jobs: list[Job], max_concurrency: int = 16, *, many_queries: bool = False
    ) -> list[np.ndarray]:
        async def call(i: int, jobs: list[Job]) -> list[np.ndarray]:
            if i == len(self.steps):
                return await self._acall_scorer(jobs, max_concurrency, many_queries)
            return await self.steps[i].ascore(jobs, functools.partial(call, i + 1))

        return await call(0, jobs)

    # -- the scorer, at the end of the path -------------------------------------------------
    # Jobs with no texts never reach the scorer (an empty list costs no request).
    def _call_scorer(self, jobs: list[Job], max_concurrency: int, many_queries: bool) -> list[np.ndarray]:
        todo = [j for j in jobs if len(j.texts)]
        with scorer_call(any(j.every_score for j in todo)):
            if not todo:
                raw: list[Sequence[float]] = []
            elif many_queries:
                raw = self.scorer.score_batch([j.query for j in todo], [j.texts for j in todo], max_concurrency)
            else:
                raw = [self.scorer.score(j.query, j.texts) for j in todo]
        return self._checked(jobs, todo, raw)

    async def _acall_scorer(self, jobs: list[Job], max_concurrency: int, many_queries: bool) -> list[np.ndarray]:
        todo = [j for j in jobs if len(j.texts)]
        with scorer_call(any(j.every_score for j in todo)):
            if not todo:
                raw: list[Sequence[float]] = []
            elif many_queries:
                raw = await self.scorer.ascore_batch([j.query for j in todo], [j.texts for j in todo], max_concurrency)
            else:
                raw = [await self.scorer.ascore(j.query, j.texts) for j in todo]
        return self._checked(jobs, todo, raw)

    def _checked(self, jobs: list[Job], todo: list[Job], raw: Sequence[Sequence[float]]) -> list[np.ndarray]:
        if len(raw) != len(todo):
            raise ScoringError(f"{type(self.scorer).__name__} returned {len(raw)} score lists for {len(todo)} queries")
        answers = iter([self._check(s, len(j.texts)) for s, j in zip(raw, todo)])
        return [next(answers) if len(j.texts) else np.empty(0) for j in jobs]

    def close(self) -> None:
        for step in self.steps:
            step.close()


__all__ = ["ScoringPath"]
