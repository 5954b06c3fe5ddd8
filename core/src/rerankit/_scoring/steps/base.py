"""What a step of the scoring path is: the jobs it receives, the step itself, and its factory's input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from ..._config import RerankerConfig
    from ..._reranker import Reranker
    from ..scorer import Scorer
    from ..usage import Usage

#: Builds a reranker by registered name and options (the registry's, passed down to the steps:
#: rerankers never import the registry).
Build = Callable[[str, Mapping[str, Any]], "Reranker"]


@dataclass
class Job:
    """One query and the texts to score for it, on their way down the path.

    ``columns`` are output columns a step adds for this job's rows: name to an Arrow array with
    one value per text, in the order of ``texts`` as the reranker sent them.

    ``every_score``: what a step needs of the scorer. True when every text needs the scorer's own
    score (the cache keeps each one), so a scorer that could answer with only the best k (a
    provider's ``top_n``) must not; the path tells the scorer (:meth:`~rerankit.Scorer.every_score_needed`).
    """

    query: str
    texts: Sequence[Any]
    columns: dict[str, pa.Array] = field(default_factory=dict)
    every_score: bool = False


#: The rest of the path as a step sees it: jobs in, one float64 array per job out (same order).
Next = Callable[[list[Job]], list[np.ndarray]]
AsyncNext = Callable[[list[Job]], Awaitable[list[np.ndarray]]]


Op = TypeVar("Op")
R = TypeVar("R")

#: A step's decisions as one generator, written once for sync and async (as the openai plugin's
#: listwise ``slide``): it yields what it needs done (call the rest of the path, read a store),
#: is sent the result or has the error thrown in, and returns the step's answer. The sync and
#: async shells only carry the operations out: :func:`drive` and :func:`adrive`.
Decisions = Generator[Op, Any, R]


def drive(decisions: Decisions[Op, R], do: Callable[[Op], Any]) -> R:
    """Run ``decisions``, doing each operation it yields with ``do`` (sync)."""
    send, error = None, None
    while True:
        try:
            op = decisions.send(send) if error is None else decisions.throw(error)
        except StopIteration as stop:
            return stop.value
        send, error = None, None
        try:
            send = do(op)
        except Exception as exc:
            error = exc


async def adrive(decisions: Decisions[Op, R], do: Callable[[Op], Awaitable[Any]]) -> R:
    """Run ``decisions``, awaiting ``do`` for each operation it yields (async)."""
    send, error = None, None
    while True:
        try:
            op = decisions.send(send) if error is None else decisions.throw(error)
        except StopIteration as stop:
            return stop.value
        send, error = None, None
        try:
            send = await do(op)
        except Exception as exc:
            error = exc


class Step:
    """One optional step of the scoring path; the default passes the jobs through unchanged.

    ``score`` and ``ascore`` must return one array per job, each with one score per text of that
    job, in order: the same contract as the scorer's ``score_batch``.
    """

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        return call_next(jobs)

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        return await call_next(jobs)

    def close(self) -> None:
        """Release what the step holds (a cache file, a fallback reranker); optional."""


@dataclass(frozen=True)
class StepContext:
    """What a step factory gets: the reranker's registered name, its config and its scorer,
    the reranker's :class:`~rerankit._scoring.usage.Usage` record, and ``build`` (None when the reranker
    was made by hand rather than by the registry) to make other rerankers, e.g. fallbacks."""

    name: str
    config: RerankerConfig
    scorer: Scorer
    usage: Usage
    build: Optional[Build] = None
    #: The names of the scoring path's own options (never part of a score's identity).
    path_options: frozenset[str] = frozenset()


#: Builds a step from the reranker's options, or returns None when the step's option is unset.
StepFactory = Callable[[StepContext], Optional[Step]]
