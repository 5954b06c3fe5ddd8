"""``OpenAIScorer``: an LLM rates documents over ``POST {base_url}/chat/completions``.

Windows of ``window_size`` documents go out concurrently through rerankit's HTTP layer (pooling,
retries on 429/5xx with ``retry-after``, typed errors, the key kept out of every message); each
answer is checked label by label, and a bad one is asked again split in half
(``split_bad_answers``). The model's output never touches the rows: it only yields one number per
document, which the core attaches to the row it belongs to.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from rerankit.http import HTTPScorer

from ._answers import read_scores, read_yes_no, usage_of
from ._config import OpenAIConfig
from ._prompt import request_body

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
    """The usage of one call (``score`` / ``score_batch``), added to from its worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.usage = Usage()

    def add(self, usage: Usage) -> None:
        with self.lock:
            self.usage = self.usage + usage


_CALL: contextvars.ContextVar[Optional[_Tally]] = contextvars.ContextVar("rerankit_openai_call", default=None)


class OpenAIScorer(HTTPScorer):
    """Scores documents with a chat model under a strict JSON schema (or yes/no logprobs).

    ``usage`` is the :class:`Usage` of every call so far, ``last_usage`` that of the most recent
    call to finish (a rerank is one call); both are logged at DEBUG.
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
        self.last_usage = Usage()

    @property
    def usage(self) -> Usage:
        """Tokens spent by this scorer since it was made."""
        with self._usage_lock:
            return self._usage

    # -- the wire format -----------------------------------------------------------------------
    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """Windows of ``window_size`` documents; one document per request in ``yes_no`` mode."""
        size = 1 if self.config.method == "yes_no" else self.config.window_size
        return [min(size, len(texts) - start) for start in range(0, len(texts), size)]

    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        return request_body(self.config, query, texts)

    def read_answer(self, data: Any, texts: Sequence[str]) -> Iterable[tuple[int, float]]:
        prompt, completion = usage_of(data)
        spent = Usage(1, prompt, completion)
        logger.debug(
            "%s: %d documents: %d prompt + %d completion tokens", self.provider, len(texts), prompt, completion
        )
        tally = _CALL.get()
        if tally is not None:
            tally.add(spent)
        with self._usage_lock:
            self._usage = self._usage + spent
        if self.config.method == "yes_no":
            return read_yes_no(data)
        return read_scores(data, len(texts), self.config.score_range)

    # -- one call: truncation and usage --------------------------------------------------------
    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call(texts):
            return super().score_batch(queries, texts, max_concurrency)

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        texts = self._cut(texts)
        with self._call(texts):
            return await super().ascore_batch(queries, texts, max_concurrency)

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
            logger.debug(
                "%s: %d documents in %d requests: %d prompt + %d completion tokens", self.provider,
                sum(len(t) for t in texts), used.requests, used.prompt_tokens, used.completion_tokens,
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
