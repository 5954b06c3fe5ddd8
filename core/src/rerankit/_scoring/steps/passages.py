"""The ``passages`` step: long texts scored in parts that fit the scorer, the parts' scores
aggregated back to one score per row.

Outermost on the scoring path: each text is cut into passages (:mod:`.splitting`) measured in the
scorer's own unit (:meth:`rerankit.Scorer.length_measure`: tokens for local models, words by
default), with room left for the query and the scorer's template, so a passage never overflows
the scorer's window. The passages of one call go down the path as one job per distinct query,
each distinct passage once (the cache, rate limit and scorer see passages, not rows); their scores
come back up and each row gets the aggregate of its own passages' scores: ``max`` (MaxP),
``first`` (FirstP: only the first passage is scored), ``mean``, ``sum`` or ``top_k_mean``.
With ``return_passage=True`` each row also gets its best passage and its character offsets.
A row with more passages than ``max_passages`` has that many of them scored, chosen over its whole
text by ``select`` (:mod:`.selection`); the passages chosen and skipped are counted in the
reranker's usage record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..._errors import ConfigError, InputError
from ..length import LengthMeasure
from .base import AsyncNext, Job, Next, Step, StepContext
from .selection import SELECTS, Select, select
from .splitting import split

if TYPE_CHECKING:
    from ..usage import Usage

logger = logging.getLogger("rerankit")

Aggregate = Literal["max", "first", "mean", "sum", "top_k_mean"]
AGGREGATES: tuple[str, ...] = ("max", "first", "mean", "sum", "top_k_mean")
#: ``max_length`` of a scorer that states no window (words, by default).
DEFAULT_MAX_LENGTH = 256
#: Output columns of ``return_passage=True``.
PASSAGE, PASSAGE_START, PASSAGE_END = "_passage", "_passage_start", "_passage_end"
#: How a row over ``max_passages`` chooses its passages unless told (see the core README's figures).
DEFAULT_SELECT = "lexical"


class PassageOptions(BaseModel):
    """The ``passages`` option: how long texts are cut and how their passages' scores combine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: Optional[int] = Field(
        None,
        ge=2,
        description="Window of one (query, passage) pair in the scorer's unit (tokens for local "
        "models, words by default); the passage gets what the query and template leave. None: "
        "the scorer's own window, else 256.",
    )
    stride: Optional[int] = Field(
        None,
        ge=0,
        description="Units consecutive passages share (overlap), at most half a passage. None: an "
        "eighth of the room a passage gets.",
    )
    aggregate: Aggregate = Field(
        "max",
        description="How a row's score comes from its passages' scores: 'max' (MaxP), 'first' "
        "(FirstP, only the first passage is scored), 'mean', 'sum', 'top_k_mean'.",
    )
    top_k: int = Field(3, ge=1, description="Passages averaged by aggregate='top_k_mean'.")
    max_passages: Optional[int] = Field(
        16,
        ge=1,
        description="Passages scored per row at most, chosen by select; the rest are counted in a "
        "WARNING and the usage record, not scored. None: no limit.",
    )
    select: Select = Field(
        DEFAULT_SELECT,
        description="Which passages a row over max_passages has scored: 'spread' (evenly over the "
        "whole text), 'lexical' (the best by BM25 against the query, over all the row's passages) "
        "or 'head' (the first ones).",
    )

    @field_validator("aggregate", mode="before")
    @classmethod
    def _known_aggregate(cls, value: Any) -> Any:
        name = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        name = {"topk_mean": "top_k_mean", "maxp": "max", "firstp": "first"}.get(name, name)
        if name not in AGGREGATES:
            raise ValueError(
                f"unknown passages aggregate {value!r}; use one of {', '.join(AGGREGATES)} "
                "('max', MaxP, is the default)"
            )
        return name

    @field_validator("select", mode="before")
    @classmethod
    def _known_select(cls, value: Any) -> Any:
        name = str(value).strip().lower() if isinstance(value, str) else value
        if name not in SELECTS:
            raise ValueError(
                f"unknown passages select {value!r}; use one of {', '.join(SELECTS)} "
                f"({DEFAULT_SELECT!r} is the default)"
            )
        return name

    @model_validator(mode="after")
    def _stride_below_max_length(self) -> PassageOptions:
        if self.stride is not None and self.max_length is not None and self.stride >= self.max_length:
            raise ValueError(
                f"passages stride={self.stride} must be smaller than max_length={self.max_length} "
                f"(stride is the overlap between consecutive passages); use e.g. "
                f"stride={self.max_length // 8}"
            )
        return self


def passages_option(value: Any) -> Any:
    """``passages=True`` means the scorer's defaults; ``False`` means off (as None)."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


def passages_step(context: StepContext) -> Optional[Step]:
    """The step for ``context.config.passages``, or None when it is unset."""
    options = getattr(context.config, "passages", None)
    want = bool(getattr(context.config, "return_passage", False))
    if options is None:
        if want:
            raise ConfigError(
                f"return_passage=True needs passages: reranker '{context.name}' scores whole texts; "
                "set passages=True (or passages={...}) to score long texts in passages"
            )
        return None
    return PassageStep(context.name, options, context.scorer, want, context.usage)


@dataclass
class _Row:
    """One row's passages: their character ranges and their positions in the query's job."""

    ranges: list[tuple[int, int]]
    slots: list[int]


@dataclass
class _Plan:
    """A call's passages: the jobs sent down the path, and which passages belong to each row."""

    down: list[Job] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # for each incoming job, its index in down
    rows: list[list[_Row]] = field(default_factory=list)


class PassageStep(Step):
    """Splits texts into passages on the way down, aggregates their scores on the way up."""

    def __init__(
        self, name: str, options: PassageOptions, scorer: Any, return_passage: bool, usage: Optional[Usage] = None
    ) -> None:
        self.name = name
        self.usage = usage
        self.options = options
        self.scorer = scorer
        self.return_passage = return_passage
        self._measure: Optional[LengthMeasure] = None
        self._lock = threading.Lock()

    # -- the measure and the window --------------------------------------------------------------
    def measure(self) -> LengthMeasure:
        """The scorer's :class:`~rerankit.LengthMeasure`, asked once (it may load the model)."""
        with self._lock:
            if self._measure is None:
                measure = self.scorer.length_measure()
                window, asked = measure.window, self.options.max_length
                if window is not None and asked is not None and asked > window:
                    raise ConfigError(
                        f"passages max_length={asked} exceeds the window of reranker '{self.name}' "
                        f"({window} {measure.unit}); use at most max_length={window}, or leave it "
                        "unset for the scorer's own window"
                    )
                self._measure = measure
            return self._measure

    def max_length(self, measure: LengthMeasure) -> int:
        return self.options.max_length or measure.window or DEFAULT_MAX_LENGTH

    def _room(self, measure: LengthMeasure, query: str) -> int:
        max_length = self.max_length(measure)
        taken = measure.reserved(query)
        room = max_length - taken
        if room < 1:  # this query's doing (another may fit): an input error, a 4xx when served
            raise InputError(
                f"passages max_length={max_length} leaves no room for a passage in reranker "
                f"'{self.name}': the query and the scorer's template take {taken} {measure.unit} "
                f"(query {query[:60]!r}); raise max_length above {taken}"
                + (f" (at most {measure.window})" if measure.window else "")
                + " or shorten the query"
            )
        return room

    # -- the path --------------------------------------------------------------------------------
    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        plan = self._plan(jobs)
        return self._gather(jobs, plan, call_next(plan.down))

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        import asyncio

        plan = await asyncio.to_thread(self._plan, jobs)  # tokenizing long texts is CPU work
        return self._gather(jobs, plan, await call_next(plan.down))

    # -- down: texts to passages -----------------------------------------------------------------
    def _plan(self, jobs: list[Job]) -> _Plan:
        measure = self.measure()
        options = self.options
        limit = 1 if options.aggregate == "first" else options.max_passages
        unique = list(dict.fromkeys(t for job in jobs for t in self._texts(job)))
        spans = dict(zip(unique, measure.spans(unique)))
        plan = _Plan()
        queries: dict[str, int] = {}
        slots: list[dict[str, int]] = []
        dropped = [0, 0]  # rows over the limit, passages not scored
        selected = 0
        for job in jobs:
            index = queries.get(job.query)
            if index is None:
                index = queries[job.query] = len(plan.down)
                # a row's score aggregates its passages', so each needs a real score (no top-k cut)
                plan.down.append(Job(job.query, [], every_score=True))
                slots.append({})
            plan.group.append(index)
            room = self._room(measure, job.query)
            overlap = options.stride if options.stride is not None else room // 8
            down, seen, rows = plan.down[index], slots[index], []
            for text in job.texts:
                ranges, more = self._split(measure, text, spans[text], room, overlap, job.query, limit)
                if more:
                    dropped[0] += 1
                    dropped[1] += more
                selected += len(ranges)
                row = _Row(ranges, [])
                for a, b in ranges:
                    passage = text[a:b] if (a, b) != (0, len(text)) else text
                    slot = seen.get(passage)
                    if slot is None:
                        slot = seen[passage] = len(down.texts)
                        down.texts.append(passage)
                    row.slots.append(slot)
                rows.append(row)
            plan.rows.append(rows)
        if dropped[0] and limit == options.max_passages:
            rows_total = sum(len(r) for r in plan.rows)
            logger.warning(
                "%s: %d of %d texts have more than max_passages=%d passages; %d passages chosen by "
                "select=%r were scored for them and %d were not (raise passages max_passages, or set it "
                "to None, to score them all)",
                self.name, dropped[0], rows_total, limit, dropped[0] * limit, options.select, dropped[1],
            )
        if self.usage is not None:
            self.usage.add(
                passages_selected=selected, passages_skipped=dropped[1],
                passages_scored=sum(len(j.texts) for j in plan.down), passage_rows=sum(len(r) for r in plan.rows),
            )
        return plan

    def _texts(self, job: Job) -> Sequence[str]:
        texts = job.texts
        if isinstance(texts, (pa.Array, pa.ChunkedArray)) or not all(isinstance(t, str) for t in texts):
            raise ConfigError(
                f"passages needs texts to split, but reranker '{self.name}' scores these rows by "
                "other values (its scorer's select_inputs, e.g. stored token embeddings); unset "
                "passages, or score the text instead"
            )
        return texts

    def _split(
        self, measure: LengthMeasure, text: str, spans: np.ndarray, room: int, overlap: int, query: str,
        limit: Optional[int],
    ) -> tuple[list[tuple[int, int]], int]:
        """``split``, at most ``limit`` passages chosen by ``select``, and how many more there were;
        the chosen ones checked with the measure's own count: a passage whose units do not add up
        (a tokenizer reading a cut-out passage differently) is split again with less room."""
        for _ in range(9):
            ranges, _ = split(text, spans, room, overlap)
            chosen = self._choose(query, text, ranges, limit)
            if len(ranges) == 1 and ranges[0] == (0, len(text)):
                break
            over = max(c - room for c in measure.counts([text[a:b] for a, b in chosen]))
            if over <= 0:
                break
            room = max(1, room - over)
            overlap = min(overlap, room // 2)
        return chosen, len(ranges) - len(chosen)

    def _choose(
        self, query: str, text: str, ranges: list[tuple[int, int]], limit: Optional[int]
    ) -> list[tuple[int, int]]:
        if limit is None or len(ranges) <= limit:
            return ranges
        how = "head" if self.options.aggregate == "first" else self.options.select
        return [ranges[i] for i in select(how, query, [text[a:b] for a, b in ranges], limit)]

    # -- up: passage scores to row scores --------------------------------------------------------
    def _gather(self, jobs: list[Job], plan: _Plan, scores: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for job, index, rows in zip(jobs, plan.group, plan.rows):
            got = np.asarray(scores[index], dtype=np.float64)
            values = np.empty(len(rows))
            best = np.empty(len(rows), dtype=np.int64)
            for r, row in enumerate(rows):
                values[r], best[r] = self._aggregate(got[row.slots])
            out.append(values)
            self._columns(job, plan.down[index], rows, best)
        return out

    def _aggregate(self, passage_scores: np.ndarray) -> tuple[float, int]:
        """The row's score and its best passage (the one a reader should see)."""
        how = self.options.aggregate
        if len(passage_scores) == 0:
            return float("nan"), 0
        best = int(np.argmax(passage_scores))  # the first among equals
        if how == "max":
            return float(passage_scores[best]), best
        if how == "first":
            return float(passage_scores[0]), 0
        if how == "mean":
            return float(passage_scores.mean()), best
        if how == "sum":
            return float(passage_scores.sum()), best
        k = min(self.options.top_k, len(passage_scores))
        return float(np.sort(passage_scores)[-k:].mean()), best

    def _columns(self, job: Job, down: Job, rows: list[_Row], best: np.ndarray) -> None:
        # columns the rest of the path added per passage come back as the best passage's value
        if down.columns:
            take = pa.array([row.slots[b] for row, b in zip(rows, best)], pa.int64())
            for name, values in down.columns.items():
                job.columns[name] = values.take(take)
        if not self.return_passage:
            return
        chosen = [row.ranges[b] for row, b in zip(rows, best)]
        job.columns[PASSAGE] = pa.array([t[a:b] for t, (a, b) in zip(job.texts, chosen)], pa.string())
        job.columns[PASSAGE_START] = pa.array([a for a, _ in chosen], pa.int64())
        job.columns[PASSAGE_END] = pa.array([b for _, b in chosen], pa.int64())
