"""``OpenAIScorer``: an LLM rates documents over ``POST {base_url}/chat/completions``.

Windows of ``window_size`` documents go out concurrently through rerankit's HTTP layer (pooling,
retries on 429/5xx with ``retry-after``, typed errors, the key kept out of every message); each
answer is checked label by label, and a bad one is asked again split in half
(``split_bad_answers``). The model's output never touches the rows: it only yields one number per
document, which the core attaches to the row it belongs to.

``method="listwise"`` takes another path through the same transport: each query's windows are
asked one after another (:mod:`._listwise`), the queries of a call concurrently, at most
``max_concurrency`` at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from rerankit import InputError
from rerankit.http import HTTPScorer, afan_out, fan_out

from ._answers import read_scores, read_yes_no, usage_of
from ._config import OpenAIConfig
from ._listwise import slide
from ._prompt import request_body
from ._ranking import Repairs, windows

logger = logging.getLogger("rerankit")


@dataclass(frozen=True)
class Usage:
    """Tokens spent: ``requests`` answered, ``prompt_tokens`` and ``completion_tokens`` as the
    server reported them in each answer's ``usage`` (bad answers that were asked again included)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


class _Tally:
    """The usage (and listwise repairs) of one call (``score`` / ``score_batch``), added to from
    its worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.usage = Usage()
        self.repairs = Repairs()

    def add(self, usage: Usage) -> None:
        with self.lock:
            self.usage = self.usage + usage

    def repaired(self, repairs: Repairs) -> None:
        with self.lock:
            self.repairs = self.repairs + repairs


_CALL: contextvars.ContextVar[Optional[_Tally]] = contextvars.ContextVar("rerankit_openai_call", default=None)


class OpenAIScorer(HTTPScorer):
    """Scores documents with a chat model under a strict JSON schema (or yes/no logprobs).

    ``usage`` is the :class:`Usage` of every call so far, ``last_usage`` that of the most recent
    call to finish (a rerank is one call); both are logged at DEBUG. With ``method="listwise"``,
    ``repairs`` and ``last_repairs`` count what was repaired in the answers (:class:`Repairs`),
    logged at WARNING once per call that needed any repair.
    """

    Config = OpenAIConfig
    provider = "openai"
    path = "/chat/completions"
    api_key_env = ("OPENAI_API_KEY",)
    top_n_field = None
    split_bad_answers = True

    config: OpenAIConfig

    def __init__(self, config: OpenAIConfig) -> None:
        super().__init__(config)
        self._usage_lock = threading.Lock()
        self._usage = Usage()
        self._repairs = Repairs()
        self.last_usage = Usage()
        self.last_repairs = Repairs()

    @property
    def usage(self) -> Usage:
        """Tokens spent by this scorer since it was made."""
        with self._usage_lock:
            return self._usage

    @property
    def repairs(self) -> Repairs:
        """Listwise answers repaired by this scorer since it was made."""
        with self._usage_lock:
            return self._repairs

    # -- what the scoring path asks -------------------------------------------------------------
    def cache_identity(self) -> Optional[Mapping[str, Any]]:
        """None with ``method="listwise"``: a text's score there depends on the rest of the list,
        so it cannot be cached per text (the ``cache`` option is refused)."""
        return None if self.config.method == "listwise" else super().cache_identity()

    def requests_for(self, query: str, texts: Sequence[Any]) -> int:
        """Listwise: one request per window of the slide (what ``rate_limit`` charges)."""
        if self.config.method != "listwise":
            return super().requests_for(query, texts)
        return len(windows(len(texts), self.config.window_size, self.config.listwise_step))

    # -- the wire format -----------------------------------------------------------------------
    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """Windows of ``window_size`` documents; one document per request in ``yes_no`` mode."""
        size = 1 if self.config.method == "yes_no" else self.config.window_size
        return [min(size, len(texts) - start) for start in range(0, len(texts), size)]

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return request_body(self.config, query, texts)

    def read_answer(self, data: Any, texts: Sequence[str]) -> Iterable[tuple[int, float]]:
        self._spent(data, len(texts))
        if self.config.method == "yes_no":
            return read_yes_no(data)
        return read_scores(data, len(texts), self.config.score_range)

    def _spent(self, data: Any, documents: int) -> None:
        """Count an answer's tokens towards this scorer and the call it belongs to."""
        prompt, completion = usage_of(data)
        spent = Usage(1, prompt, completion)
        logger.debug("%s: %d documents: %d prompt + %d completion tokens", self.provider, documents, prompt, completion)
        tally = _CALL.get()
        if tally is not None:
            tally.add(spent)
        with self._usage_lock:
            self._usage = self._usage + spent

    # -- one call: truncation and usage --------------------------------------------------------
    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call(texts):
            if self.config.method == "listwise":
                return self._listwise(queries, texts, max_concurrency)
            return super().score_batch(queries, texts, max_concurrency)

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call(texts):
            if self.config.method == "listwise":
                return await self._alistwise(queries, texts, max_concurrency)
            return await super().ascore_batch(queries, texts, max_concurrency)

    # -- listwise: windows of a query in sequence, queries concurrently ----------------------
    def _listwise(self, queries: Sequence[str], texts: Sequence[Sequence[str]], limit: int) -> list[list[float]]:
        jobs = self._jobs(queries, texts)
        return fan_out(lambda job: self._rank(*job), jobs, limit, name=f"rerankit-{self.provider}")

    async def _alistwise(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], limit: int
    ) -> list[list[float]]:
        return await afan_out(lambda job: self._arank(*job), self._jobs(queries, texts), limit)

    @staticmethod
    def _jobs(queries: Sequence[str], texts: Sequence[Sequence[str]]) -> list[tuple[int, str, Sequence[str]]]:
        if len(queries) != len(texts):
            raise InputError(f"{len(queries)} queries but {len(texts)} text lists; pass one list per query")
        return [(i, q, t) for i, (q, t) in enumerate(zip(queries, texts))]

    def _rank(self, item: int, query: str, texts: Sequence[str]) -> list[float]:
        loop = slide(self.config, query, texts, item, self._bad())
        try:
            body, count = next(loop)
            while True:
                answer = self._get_transport().post(body)
                self._spent(answer, count)
                self.meter.add(requests=1, documents=count, billed=self.billed_units(answer))
                body, count = loop.send(answer)
        except StopIteration as done:
            return self._ranked(done.value)

    async def _arank(self, item: int, query: str, texts: Sequence[str]) -> list[float]:
        loop = slide(self.config, query, texts, item, self._bad())
        try:
            body, count = next(loop)
            while True:
                answer = await self._get_transport().apost(body)
                self._spent(answer, count)
                self.meter.add(requests=1, documents=count, billed=self.billed_units(answer))
                body, count = loop.send(answer)
        except StopIteration as done:
            return self._ranked(done.value)

    def _ranked(self, result: Any) -> list[float]:
        scores, repairs = result
        if repairs:
            tally = _CALL.get()
            if tally is not None:
                tally.repaired(repairs)
            with self._usage_lock:
                self._repairs = self._repairs + repairs
        return scores

    @contextlib.contextmanager
    def _call(self, texts: Sequence[Sequence[str]]) -> Iterator[None]:
        """One call's tally: its requests (on any thread or task it starts) add to it."""
        tally = _Tally()
        token = _CALL.set(tally)
        try:
            yield
        finally:
            _CALL.reset(token)
            used = tally.usage
            self.last_usage = used
            self.last_repairs = tally.repairs
            logger.debug(
                "%s: %d documents in %d requests: %d prompt + %d completion tokens", self.provider,
                sum(len(t) for t in texts), used.requests, used.prompt_tokens, used.completion_tokens,
            )
            if tally.repairs:
                logger.warning(
                    "%s: listwise answers repaired in this call (%d of %d answers): %s", self.provider,
                    tally.repairs.answers, used.requests, tally.repairs.describe(),
                )

    def _cut(self, texts: Sequence[Sequence[str]]) -> list[list[str]]:
        limit = self.config.max_doc_chars
        out = [list(t) for t in texts]
        if limit is None:
            return out
        cut = total = 0
        for group in out:
            for i, text in enumerate(group):
                total += 1
                if len(text) > limit:
                    group[i] = text[:limit]
                    cut += 1
        if cut:
            logger.info(
                "%s: cut %d of %d documents to max_doc_chars=%d characters", self.provider, cut, total, limit
            )
        return out


__all__ = ["OpenAIScorer", "Usage"]
