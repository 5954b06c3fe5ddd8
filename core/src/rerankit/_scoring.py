"""Model-based reranking: the :class:`Scorer` plugins implement, and the :class:`ScoringReranker`
the core wraps around each one.

A scorer turns ``(query, texts)`` into one float per text and knows nothing about tables,
``top_n`` or ordering; :class:`ScoringReranker` does that for every scorer alike, asking the
``select_text`` hook which text each row contributes. A scorer that scores rows by something
other than text (token embeddings already stored in the rows) names it with
:meth:`Scorer.select_inputs`. Only :meth:`Scorer.score` is required: the async and batch forms
have working defaults that a plugin overrides when it can do better (a hosted API sending
requests concurrently, a local model batching across queries).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Optional, Union

import numpy as np
import pyarrow as pa

from ._builtins.text import select_text as default_select_text
from ._columns import ROWID, ROWID_FIX
from ._config import RerankerConfig
from ._errors import InputError
from ._inputs import require_column, text_values
from ._merge import Rows, concat, first_appearance
from ._reranker import Plan, Rebuild, Reranker

#: The ``select_text`` hook as a reranker calls it: ``(table, column)`` to the texts, or None.
SelectText = Callable[[pa.Table, str], Optional[Union[pa.Array, pa.ChunkedArray]]]


class Scorer:
    """Base class for scorers; ``Config`` is the pydantic model of the scorer's options."""

    Config: ClassVar[type[RerankerConfig]] = RerankerConfig

    def __init__(self, config: RerankerConfig) -> None:
        self.config = config

    def score(self, query: str, texts: Sequence[str]) -> Sequence[float]:
        """Return one relevance score per text, in the order of ``texts`` (higher is better)."""
        raise NotImplementedError(f"{type(self).__name__} must implement score(query, texts)")

    def select_inputs(self, table: pa.Table) -> Optional[Union[pa.Array, pa.ChunkedArray]]:
        """What to score each row by, when it is not the row's text; None (the default) means text.

        ``table`` holds the rows being reranked (all result sets, concatenated). Return one value
        per row, e.g. a column of stored token embeddings: the scoring methods then receive those
        values, restricted and ordered like the rows, in place of ``texts``, and the scorer checks
        them (nulls, shapes) itself.
        """
        return None

    async def ascore(self, query: str, texts: Sequence[str]) -> Sequence[float]:
        """Async twin of :meth:`score`; by default runs it in a worker thread."""
        import asyncio  # here, not at module level: asyncio costs import time every user pays

        return await asyncio.to_thread(self.score, query, texts)

    def score_batch(
        self,
        queries: Sequence[str],
        texts: Sequence[Sequence[str]],
        max_concurrency: int = 16,
    ) -> list[Sequence[float]]:
        """Score many ``(query, texts)`` pairs; by default one after another."""
        return [self.score(q, t) for q, t in zip(queries, texts)]

    async def ascore_batch(
        self,
        queries: Sequence[str],
        texts: Sequence[Sequence[str]],
        max_concurrency: int = 16,
    ) -> list[Sequence[float]]:
        """Async twin of :meth:`score_batch`: at most ``max_concurrency`` pairs in flight."""
        import asyncio

        gate = asyncio.Semaphore(max_concurrency)

        async def one(query: str, docs: Sequence[str]) -> Sequence[float]:
            async with gate:
                return await self.ascore(query, docs)

        return list(await asyncio.gather(*(one(q, t) for q, t in zip(queries, texts))))

    def close(self) -> None:
        """Release clients, sessions or models held by the scorer (optional)."""

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()


class ScoringReranker(Reranker):
    """A reranker whose scores come from a model (a :class:`~rerankit.Scorer`).

    ``select_text`` answers which text each row contributes: the registry passes its
    ``select_text`` hook, so plugins' column syntaxes apply; built by hand, the core's own
    selection (column, ``{title}: {text}`` template, ``a.b`` field) is used.
    """

    def __init__(
        self,
        name: str,
        config: RerankerConfig,
        scorer: Scorer,
        *,
        select_text: SelectText | None = None,
        rebuild: Rebuild | None = None,
    ) -> None:
        super().__init__(name, config, rebuild=rebuild)
        self.scorer = scorer
        self.select_text = select_text or default_select_text

    @property
    def usage(self) -> Any:
        """What the scorer's calls have cost, for scorers that report it (an LLM scorer's tokens),
        else None. The scorer's ``usage`` attribute, read through."""
        return getattr(self.scorer, "usage", None)

    def _multivector(
        self, results: Sequence[Any], query: str | None, deduplicate: bool, weights: Sequence[float] | None
    ) -> Plan:
        if weights is not None:
            raise InputError(f"weights only apply to fusion rerankers, not to '{self.name}'")
        inputs, arguments = self._multivector_tables(results)
        table = concat(inputs, arguments)
        if deduplicate:
            ids = require_column(table, ROWID, "vector_results", ROWID_FIX).to_numpy()
            _, firsts = first_appearance(ids)
            table = table.take(firsts)
        return Plan(Rows.of(table, "vector_results"), query, ["vector"])

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

    def _scores(self, plan: Plan) -> np.ndarray:
        texts = self._texts(plan)
        return self._check(self.scorer.score(plan.query, texts), len(texts)) if len(texts) else np.empty(0)

    async def _ascores(self, plan: Plan) -> np.ndarray:
        texts = self._texts(plan)
        if not len(texts):
            return np.empty(0)
        return self._check(await self.scorer.ascore(plan.query, texts), len(texts))

    def _scores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        texts = [self._texts(p) for p in plans]
        raw = self.scorer.score_batch([p.query for p in plans], texts, max_concurrency)
        return [self._check(s, len(t)) for s, t in zip(raw, texts)]

    async def _ascores_batch(self, plans: list[Plan], max_concurrency: int) -> list[np.ndarray]:
        texts = [self._texts(p) for p in plans]
        raw = await self.scorer.ascore_batch([p.query for p in plans], texts, max_concurrency)
        return [self._check(s, len(t)) for s, t in zip(raw, texts)]

    def close(self) -> None:
        self.scorer.close()

    async def aclose(self) -> None:
        await self.scorer.aclose()

