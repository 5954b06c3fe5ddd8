"""The core's ``cascade`` reranker: a cheap reranker first, an expensive one only on what it kept.

``stages`` is an ordered list of rerankers, each a config (``{reranker = "embedding", keep = 50}``)
saying how many of its best rows it passes on. Each stage scores only the rows the previous stage
kept, so the expensive model sees ``keep`` rows instead of every candidate. Nothing is lost: the
output holds every input row, the last stage's rows first (in its order), then the rows each earlier
stage cut, stage by stage from the last to the first, each group in that stage's order. The
``_stage`` column says which stage's score (``_relevance_score``) a row carries (0 for the first
stage, the index into ``stages``). ``top_n`` and ``min_score`` cut the result as everywhere.

Two options stop early: ``budget_ms`` skips any stage that would start after the call has run that
long (the rows keep the scores of the last stage that ran), and ``skip_if_margin`` skips the
remaining stages once the current stage's best row leads the second by at least that much (a
probability margin when the stage is calibrated). Skipped stages are counted in ``usage`` beside
each stage's own record (``stage1.documents``, ``stage1.skipped_budget`` ...).

It is registered through the ``register_scorers`` hook like any plugin's reranker; the registry
builds it with ``build`` (rerankers by name) for its stages, which are validated when it is built.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import numpy as np
import pyarrow as pa
from pydantic import AfterValidator, Field, SecretStr

from .._config import SECRET_NAME, RerankerConfig
from .._errors import ConfigError, InputError
from .._hookspecs import hookimpl
from .._merge import Rows
from .._reranker import Plan, Rebuild, Reranker, ranking

#: The output column naming the stage whose score each row carries.
STAGE = "_stage"
#: What a stage may not set: the cascade cuts with ``keep`` and applies its own top_n / min_score.
CASCADE_ONLY = ("top_n", "min_score")


def _stage(value: dict[str, Any]) -> dict[str, Any]:
    name = value.get("reranker", value.get("name"))
    if not isinstance(name, str) or not name:
        raise ValueError(
            "each stage is a table naming its reranker, e.g. {reranker = 'embedding', keep = 50}"
        )
    keep = value.get("keep")
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise ValueError(f"stage '{name}': keep must be a whole number of rows of at least 1 (got {keep!r})")
    inside = [k for k in CASCADE_ONLY if k in value]
    if inside:
        raise ValueError(
            f"stage '{name}' sets {', '.join(inside)}; a stage passes on its best rows with keep = N, and "
            f"{' and '.join(inside)} belong on the cascade itself"
        )
    # keys and tokens given inline stay out of reprs and dumps
    return {k: SecretStr(v) if isinstance(v, str) and SECRET_NAME.search(k) else v for k, v in value.items()}


#: One stage: its reranker's name under ``reranker``, ``keep`` and its options beside them.
StageEntry = Annotated[dict[str, Any], AfterValidator(_stage)]


class CascadeConfig(RerankerConfig):
    """Stages of rerankers, each scoring what the previous kept."""

    stages: list[StageEntry] = Field(
        ...,
        min_length=1,
        description="The stages in order: [{reranker = 'embedding', keep = 50}, {reranker = 'crossencoder', "
        "keep = 10}]; keep is how many of its best rows a stage passes on (all if unset).",
    )
    budget_ms: Optional[float] = Field(
        None, gt=0, allow_inf_nan=False,
        description="Skip every stage that would start after the call has run this many milliseconds.",
    )
    skip_if_margin: Optional[float] = Field(
        None, ge=0, allow_inf_nan=False,
        description="Skip the remaining stages when the current stage's best row leads the second by "
        "at least this much (in that stage's score; a probability when it is calibrated).",
    )


class CascadeUsage:
    """Each stage's usage record plus the cascade's own counts, read as one flat mapping.

    ``counters()`` gives ``stage<i>.<counter>`` for every counter of stage ``i``'s own record (its
    requests, documents, cache hits ...), and the cascade's ``stage<i>.calls`` (calls the stage
    scored), ``stage<i>.rows`` (rows it scored), ``stage<i>.skipped_budget`` and
    ``stage<i>.skipped_margin`` (calls in which it was skipped, and why).
    """

    OWN = ("calls", "rows", "skipped_budget", "skipped_margin")

    def __init__(self, stages: Sequence[Reranker]) -> None:
        self._stages = list(stages)
        self._lock = threading.Lock()
        self._counts = [dict.fromkeys(self.OWN, 0) for _ in self._stages]

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return {"_stages": self._stages, "_counts": [dict(c) for c in self._counts]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def add(self, stage: int, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[stage][name] += value

    def stage(self, i: int) -> dict[str, float]:
        """Stage ``i``'s counters (its own record's and the cascade's), without the prefix."""
        own = getattr(self._stages[i], "usage", None)
        out: dict[str, float] = dict(own.counters()) if callable(getattr(own, "counters", None)) else {}
        with self._lock:
            out.update(self._counts[i])
        return out

    def counters(self) -> dict[str, float]:
        return {f"stage{i}.{k}": v for i in range(len(self._stages)) for k, v in self.stage(i).items()}

    def reset(self) -> None:
        with self._lock:
            self._counts = [dict.fromkeys(self.OWN, 0) for _ in self._stages]
        for stage in self._stages:
            reset = getattr(getattr(stage, "usage", None), "reset", None)
            if callable(reset):
                reset()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:g}" for k, v in self.counters().items() if v)
        return f"CascadeUsage({shown})"


class CascadeReranker(Reranker):
    """Runs ``stages`` in order, each on the rows the previous one kept (see the module)."""

    def __init__(
        self,
        name: str,
        config: CascadeConfig,
        *,
        rebuild: Rebuild | None = None,
        build: Callable[[str, Any], Reranker] | None = None,
    ) -> None:
        super().__init__(name, config, rebuild=rebuild)
        if build is None:
            raise ConfigError(
                f"'{name}' builds its stages by name: make it with rerankit.get_reranker or rerankit.from_config"
            )
        self.stages: list[Reranker] = []
        self.keeps: list[Optional[int]] = []
        for i, entry in enumerate(config.stages):
            options = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in entry.items()}
            stage_name = str(options.pop("reranker", None) or options.pop("name"))
            options.pop("name", None)
            self.keeps.append(options.pop("keep", None))
            options.setdefault("column", config.column)
            try:
                self.stages.append(build(stage_name, options))
            except ConfigError as exc:
                raise ConfigError(f"'{name}' stages[{i}]: {exc}") from None
        self.usage = CascadeUsage(self.stages)

    # -- the rows ----------------------------------------------------------------------------
    @staticmethod
    def _union(plan: Plan) -> pa.Table:
        """One table row per row of the call (a hybrid call's rows merged by ``_rowid``)."""
        rows = plan.rows
        table = rows.concatenated
        return table if rows.index is None else table.take(pa.array(rows.index))

    # -- the stages --------------------------------------------------------------------------
    def _start(self, plan: Plan) -> _Run:
        if not isinstance(plan.query, str) or not plan.query.strip():
            raise InputError(f"query must be a non-empty string for reranker '{self.name}'; got {plan.query!r}")
        return _Run(self, plan)

    def _scores(self, plan: Plan) -> np.ndarray:
        run = self._start(plan)
        while (sub := run.next_stage()) is not None:
            run.scored(sub, run.stage._scores(sub))
        return run.finish()

    async def _ascores(self, plan: Plan) -> np.ndarray:
        run = self._start(plan)
        while (sub := run.next_stage()) is not None:
            run.scored(sub, await run.stage._ascores(sub))
        return run.finish()

    def close(self) -> None:
        for stage in self.stages:
            closer = getattr(stage, "close", None)
            if closer is not None:
                closer()

    async def aclose(self) -> None:
        for stage in self.stages:
            closer = getattr(stage, "aclose", None)
            if closer is not None:
                await closer()


class _Run:
    """One call's way through the stages: which rows each stage scores, and the order that results."""

    def __init__(self, cascade: CascadeReranker, plan: Plan) -> None:
        self.cascade, self.plan = cascade, plan
        self.config: CascadeConfig = cascade.config  # type: ignore[assignment]
        self.table = cascade._union(plan)
        self.size = self.table.num_rows
        self.scores = np.zeros(self.size)
        self.stage_of = np.zeros(self.size, dtype=np.int32)
        self.current = np.arange(self.size)  # the rows the next stage scores, best first
        self.cut: list[np.ndarray] = []  # the rows each stage that ran did not pass on, in its order
        self.index = -1
        self.stop = False
        self.start = time.perf_counter()

    @property
    def stage(self) -> Reranker:
        return self.cascade.stages[self.index]

    def next_stage(self) -> Optional[Plan]:
        """The next stage's rows as a plan, or None when no stage is left to run."""
        self.index += 1
        stages = self.cascade.stages
        if self.index >= len(stages) or self.size == 0:
            return None
        if self.index > 0:
            budget = self.config.budget_ms
            late = budget is not None and (time.perf_counter() - self.start) * 1000 > budget
            if self.stop or late:
                for i in range(self.index, len(stages)):
                    self.cascade.usage.add(i, **{"skipped_margin" if self.stop else "skipped_budget": 1})
                self.index = len(stages)
                return None
        self.cascade.usage.add(self.index, calls=1, rows=len(self.current))
        return Plan(Rows.of(self.table.take(pa.array(self.current)), "results"), self.plan.query, ["docs"])

    def scored(self, sub: Plan, scores: np.ndarray) -> None:
        """Take a stage's scores of ``self.current``: rank them, keep the best, note the rest."""
        local = ranking(scores, sub.columns)
        ranked = self.current[local]
        self.scores[self.current] = scores
        self.stage_of[self.current] = self.index
        keep = self.cascade.keeps[self.index]
        last = self.index == len(self.cascade.stages) - 1
        n = len(ranked) if keep is None or last else min(keep, len(ranked))
        self.cut.append(ranked[n:])
        self.current = ranked[:n]
        margin = self.config.skip_if_margin
        if margin is not None and not last and len(local) >= 2:
            best = np.asarray(scores, dtype=np.float64)[local[:2]]
            self.stop = bool(best[0] - best[1] >= margin)

    def finish(self) -> np.ndarray:
        self.plan.order = np.concatenate([self.current, *reversed(self.cut)]).astype(np.int64)
        self.plan.columns = {STAGE: pa.array(self.stage_of, pa.int32())}
        return self.scores


@hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("cascade", CascadeReranker, CascadeConfig)


__all__ = ["STAGE", "CascadeConfig", "CascadeReranker", "CascadeUsage"]
