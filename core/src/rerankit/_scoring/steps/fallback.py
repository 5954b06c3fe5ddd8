"""The ``fallback`` step: other rerankers, tried in order, when the primary's provider fails.

It sits outside the cache and the rate limit (see :mod:`rerankit._scoring.steps`): when the rest of the
primary's path raises a provider failure, *every* job of the call is scored again on the first
fallback's own path (its cache, rate limit and fallbacks, if it has any), then the next fallback's,
so one list's scores always come from one reranker. Triggers, after the primary's own retries:
a timeout (:class:`~rerankit.ProviderTimeoutError`), a failed connection
(:class:`~rerankit.ProviderConnectionError`), 429s to the end (:class:`~rerankit.RateLimitError`),
a malformed answer (:class:`~rerankit.ProviderResponseError`) and any 5xx/408/409 status. Never
bad input or config (400, 404, 422, :class:`~rerankit.InputError`, :class:`~rerankit.ConfigError`),
and an authentication error (401/403) only with ``fallback_on_auth_error = true``. When every
reranker fails, the primary's error is raised (the others' are logged).

Who answered: the output gets a ``_reranker`` column (the registered name of the reranker whose
scores ordered the list, on every row), and the usage record counts ``fallbacks`` and
``answered_by``. The fallback rerankers are built by the registry (``StepContext.build``) when the
primary is, so a mistake in their config is a :class:`~rerankit.ConfigError` at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any, Optional

import numpy as np
import pyarrow as pa
from pydantic import AfterValidator, SecretStr

from ..._config import SECRET_NAME
from ..._errors import (
    AuthenticationError,
    ConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    RateLimitError,
    UnknownRerankerError,
)
from .base import AsyncNext, Decisions, Job, Next, Step, StepContext, adrive, drive

if TYPE_CHECKING:
    from ..._reranker import Reranker

logger = logging.getLogger("rerankit")

#: The output column naming the reranker that answered.
ANSWERED_BY = "_reranker"


def _entry(value: dict[str, Any]) -> dict[str, Any]:
    name, alias = value.get("reranker"), value.get("name")
    if name is not None and alias is not None and str(name) != str(alias):  # as from_config refuses
        raise ValueError(f"the fallback names its reranker twice, reranker = '{name}' and name = '{alias}'; keep one")
    name = name if name is not None else alias
    if not isinstance(name, str) or not name:
        raise ValueError(
            "each fallback is a table naming its reranker, e.g. {reranker = 'crossencoder', model_name = '...'}"
        )
    return _hidden(value)


def _hidden(value: Any) -> Any:
    """Keys and tokens given inline, at any depth (a fallback's own fallback), as ``SecretStr``:
    out of reprs and dumps."""
    if isinstance(value, dict):
        return {
            k: SecretStr(v) if isinstance(v, str) and SECRET_NAME.search(str(k)) else _hidden(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hidden(v) for v in value]
    return value


#: One fallback: its reranker's name under ``reranker`` and its options beside it.
FallbackEntry = Annotated[dict[str, Any], AfterValidator(_entry)]


def triggers_fallback(exc: BaseException, on_auth: bool = False) -> bool:
    """Whether ``exc`` (raised after the primary's retries) hands the call to a fallback."""
    if isinstance(exc, AuthenticationError):
        return on_auth
    if isinstance(exc, (ProviderTimeoutError, ProviderConnectionError, RateLimitError, ProviderResponseError)):
        return True
    if isinstance(exc, ProviderError):
        status = exc.status_code
        return status is None or status in (408, 409) or 500 <= status <= 599
    return False


class FallbackStep(Step):
    """Runs the rest of the primary's path; on a provider failure, each fallback's path in turn.

    The decisions are made once, in :meth:`_decide`, which yields ``(reranker, jobs)``: score
    ``jobs`` on the rest of this path (``reranker`` None) or on that fallback's scoring path;
    :meth:`score` and :meth:`ascore` only carry it out.
    """

    def __init__(self, context: StepContext, entries: list[dict[str, Any]], on_auth: bool) -> None:
        if context.build is None:
            raise ConfigError(
                f"fallback needs rerankers built by name: make '{context.name}' with rerankit.get_reranker "
                "or rerankit.from_config, not by hand"
            )
        self.name = context.name
        self.on_auth = on_auth
        self._usage = context.usage
        self.fallbacks: list[Reranker] = []
        for i, entry in enumerate(entries):
            options = dict(entry)
            name = str(options.pop("reranker", None) or options.pop("name"))
            options.pop("name", None)
            try:
                reranker = context.build(name, _plain(options))
            except UnknownRerankerError as exc:  # which entry: the message says fallback[i]
                where = f"fallback[{i}] of '{context.name}': {exc}"
                raise UnknownRerankerError(where, name=exc.name, available=exc.available) from None
            except ConfigError as exc:
                raise ConfigError(f"fallback[{i}] ('{name}') of '{context.name}': {exc}") from None
            if reranker.scoring_path is None:
                raise ConfigError(
                    f"fallback[{i}] ('{name}') of '{context.name}' is a fusion reranker; a fallback must score texts"
                )
            reranker.usage.reports_to(context.usage)  # what a fallback's provider bills is the primary's cost too
            self.fallbacks.append(reranker)

    def _decide(self, jobs: list[Job]) -> Decisions[tuple[Optional[Reranker], list[Job]], list[np.ndarray]]:
        try:
            scores = yield None, jobs
        except Exception as exc:
            if not triggers_fallback(exc, self.on_auth):
                raise
            for reranker in self.fallbacks:
                logger.warning("%s failed (%s); scoring with fallback '%s'", self.name, exc, reranker.name)
                self._usage.add(fallbacks=1)
                fresh = _fresh(jobs)
                try:
                    scores = yield reranker, fresh
                except Exception as again:
                    logger.warning("fallback '%s' failed too: %s", reranker.name, again)
                    continue
                self._mark(jobs, _answerer(fresh, reranker.name))
                return scores
            raise
        self._mark(jobs, self.name)
        return scores

    def _mark(self, jobs: list[Job], name: str) -> None:
        for job in jobs:
            job.columns[ANSWERED_BY] = pa.array([name] * len(job.texts), pa.string())
        self._usage.add(answered_by=name)

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        def do(op: tuple[Optional[Reranker], list[Job]]) -> list[np.ndarray]:
            reranker, todo = op
            if reranker is None:
                return call_next(todo)
            return reranker.scoring_path.score(todo, many_queries=len(todo) > 1)

        return drive(self._decide(jobs), do)

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        async def do(op: tuple[Optional[Reranker], list[Job]]) -> list[np.ndarray]:
            reranker, todo = op
            if reranker is None:
                return await call_next(todo)
            return await reranker.scoring_path.ascore(todo, many_queries=len(todo) > 1)

        return await adrive(self._decide(jobs), do)

    def close(self) -> None:
        for reranker in self.fallbacks:
            reranker.close()


def _fresh(jobs: list[Job]) -> list[Job]:
    """The jobs as the fallback's path receives them (its steps' columns are not the output's)."""
    return [Job(j.query, j.texts, every_score=j.every_score) for j in jobs]


def _answerer(fresh: list[Job], name: str) -> str:
    """Who scored ``fresh`` on a fallback's path: the fallback, or the one its own fallback step
    named (a fallback of a fallback)."""
    answered = fresh[0].columns.get(ANSWERED_BY) if fresh else None
    return answered[0].as_py() if answered is not None and len(answered) else name


def _plain(value: Any) -> Any:
    """The options as given (the secrets :func:`_hidden` wrapped, unwrapped at every depth)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def make_fallback(context: StepContext) -> Optional[Step]:
    """The fallback step, when the ``fallback`` option lists rerankers."""
    entries = getattr(context.config, "fallback", None)
    if not entries:
        return None
    return FallbackStep(context, entries, bool(getattr(context.config, "fallback_on_auth_error", False)))


__all__ = ["ANSWERED_BY", "FallbackEntry", "FallbackStep", "make_fallback", "triggers_fallback"]
