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
from typing import Any, Optional

from rerankit import InputError
from rerankit.http import HTTPScorer, afan_out, fan_out

from ._answers import read_scores, read_yes_no
from ._config import OpenAIConfig
from ._listwise import slide
from ._prompt import request_body
from ._ranking import Repairs, windows

logger = logging.getLogger("rerankit")


class _Tally:
    """The listwise repairs of one call (``score`` / ``score_batch``) and the answers they were
    found in, added to from its worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers = 0
        self.repairs = Repairs()

    def answered(self) -> None:
        with self.lock:
            self.answers += 1

    def repaired(self, repairs: Repairs) -> None:
        with self.lock:
            self.repairs = self.repairs + repairs


_CALL: contextvars.ContextVar[Optional[_Tally]] = contextvars.ContextVar("rerankit_openai_call", default=None)


class OpenAIScorer(HTTPScorer):
    """Scores documents with a chat model under a strict JSON schema (or yes/no logprobs).

    What the calls cost (requests, documents, the ``prompt_tokens``, ``completion_tokens`` and
    ``total_tokens`` of every answer, asked-again ones included) is the reranker's ``usage``, the
    record every reranker keeps. With ``method="listwise"``, ``repairs`` and ``last_repairs``
    count what was repaired in the answers (:class:`Repairs`), logged at WARNING once per call
    that needed any repair.
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
        self._repairs_lock = threading.Lock()
        self._repairs = Repairs()
        self.last_repairs = Repairs()

    @property
    def repairs(self) -> Repairs:
        """Listwise answers repaired by this scorer since it was made."""
        with self._repairs_lock:
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
        if self.config.method == "yes_no":
            return read_yes_no(data)
        return read_scores(data, len(texts), self.config.score_range)

    # -- one call: truncation and listwise repairs --------------------------------------------------------
    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call():
            if self.config.method == "listwise":
                return self._listwise(queries, texts, max_concurrency)
            return super().score_batch(queries, texts, max_concurrency)

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call():
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
                answer = self.request(body, documents=count)
                self._answered()
                body, count = loop.send(answer)
        except StopIteration as done:
            return self._ranked(done.value)

    async def _arank(self, item: int, query: str, texts: Sequence[str]) -> list[float]:
        loop = slide(self.config, query, texts, item, self._bad())
        try:
            body, count = next(loop)
            while True:
                answer = await self.arequest(body, documents=count)
                self._answered()
                body, count = loop.send(answer)
        except StopIteration as done:
            return self._ranked(done.value)

    @staticmethod
    def _answered() -> None:
        tally = _CALL.get()
        if tally is not None:
            tally.answered()

    def _ranked(self, result: Any) -> list[float]:
        scores, repairs = result
        if repairs:
            tally = _CALL.get()
            if tally is not None:
                tally.repaired(repairs)
            with self._repairs_lock:
                self._repairs = self._repairs + repairs
        return scores

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        """One call's tally: its listwise requests (on any thread or task it starts) add to it."""
        tally = _Tally()
        token = _CALL.set(tally)
        try:
            yield
        finally:
            _CALL.reset(token)
            self.last_repairs = tally.repairs
            if tally.repairs:
                logger.warning(
                    "%s: listwise answers repaired in this call (%d of %d answers): %s", self.provider,
                    tally.repairs.answers, tally.answers, tally.repairs.describe(),
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


__all__ = ["OpenAIScorer"]
