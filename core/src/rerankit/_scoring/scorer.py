"""The :class:`Scorer` plugins implement: ``(query, texts)`` to one float per text.

A scorer knows nothing about tables, ``top_n`` or ordering: :class:`~rerankit.ScoringReranker`
does that for every scorer alike. A scorer that scores rows by something other than text (token
embeddings already stored in the rows) names it with :meth:`Scorer.select_inputs`. Only
:meth:`Scorer.score` is required: the async and batch forms have working defaults that a plugin
overrides when it can do better (a hosted API sending requests concurrently, a local model
batching across queries). :meth:`Scorer.length_measure` says how the scorer counts the length of
a text, for the ``passages`` option (whitespace words unless a scorer says otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Optional, Union

import pyarrow as pa

from .._config import RerankerConfig
from .length import LengthMeasure
from .usage import Usage

#: Options that never change a score: how to call (timeouts, retries, concurrency), what to keep
#: (column, top_n, min_score, return_score), where the key is. Left out of :meth:`Scorer.cache_identity`.
NOT_SCORING = frozenset({
    "column", "top_n", "min_score", "return_score", "api_key", "api_key_env", "timeout", "connect_timeout",
    "max_retries", "deadline", "backoff_base", "backoff_max", "max_concurrency",
})


#: Whether the scorer call running in this context must score every text itself (see
#: :meth:`Scorer.every_score_needed`); set by the scoring path from its jobs, nowhere else.
_EVERY_SCORE: ContextVar[bool] = ContextVar("rerankit_every_score", default=False)


@contextmanager
def scorer_call(every_score: bool) -> Iterator[None]:
    """What the scoring path wraps each scorer call in: states what its steps need of the scorer."""
    token = _EVERY_SCORE.set(every_score)
    try:
        yield
    finally:
        _EVERY_SCORE.reset(token)


class Scorer:
    """Base class for scorers; ``Config`` is the pydantic model of the scorer's options."""

    Config: ClassVar[type[RerankerConfig]] = RerankerConfig

    def __init__(self, config: RerankerConfig) -> None:
        self.config = config

    @property
    def meter(self) -> Usage:
        """This scorer's :class:`~rerankit._scoring.usage.Usage` record (the reranker's ``usage``); the HTTP
        layer adds requests, documents and billed units to it, a scorer of its own may too."""
        meter = self.__dict__.get("_meter")
        if meter is None:
            meter = self.__dict__.setdefault("_meter", Usage())
        return meter

    def cache_identity(self) -> Optional[Mapping[str, Any]]:
        """The options that change a score, for the score cache's key (with the reranker's name).

        By default every config field except :data:`NOT_SCORING` and secrets: safe, since an
        unknown option is assumed to matter. The scoring path's own options (cache, rate_limit,
        ...) are left out by the cache itself. A scorer that knows better (a batch size that
        changes nothing) overrides it; one whose score for a text depends on the rest of the list
        (listwise ranking) returns None, and the ``cache`` option is then a ConfigError.
        """
        from pydantic import SecretStr

        return {
            name: getattr(self.config, name)
            for name in type(self.config).model_fields
            if name not in NOT_SCORING and not isinstance(getattr(self.config, name), SecretStr)
        }

    @meter.setter
    def meter(self, usage: Usage) -> None:
        # a scorer sending its requests through an inner scorer gives it its own record
        self.__dict__["_meter"] = usage

    @staticmethod
    def every_score_needed() -> bool:
        """Whether the call being scored needs this scorer's own score for every text.

        True when a step of the scoring path keeps each score (the ``cache``): a scorer that
        could answer with only the best k (a provider's ``top_n``) must then score them all.
        The path states it from the jobs it sends (``Job.every_score``); a scorer reads it here
        and never the path's options. False outside a scoring-path call.
        """
        return _EVERY_SCORE.get()

    def requests_for(self, query: str, texts: Sequence[Any]) -> int:
        """How many requests scoring ``texts`` takes (what the ``rate_limit`` option charges); 1 by default."""
        return 1

    def requests_for_batch(self, queries: Sequence[str], texts: Sequence[Sequence[Any]]) -> int:
        """How many requests scoring these queries' texts in one call takes (what ``rate_limit``
        charges a call); by default :meth:`requests_for` summed over the queries. Override it when
        :meth:`score_batch` shares requests across queries (an embeddings server encoding every
        query and text of the call in common batches)."""
        return sum(self.requests_for(q, t) for q, t in zip(queries, texts))

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

    def length_measure(self) -> LengthMeasure:
        """How this scorer measures text, for the ``passages`` option (long texts scored in parts).

        The default counts whitespace-separated words and knows no window (``passages`` then
        uses its ``max_length``, or 256 words). Override it to count in the scorer's own unit and
        state its window: local models return :class:`rerankit.local.TokenLength` with their
        tokenizer, so every passage fits the model exactly. Called once per reranker, on the
        first call with ``passages`` set (so it may load the model).
        """
        return LengthMeasure()

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
