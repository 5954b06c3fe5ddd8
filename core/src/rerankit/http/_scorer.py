"""``HTTPScorer``: the base class of every hosted reranker.

A plugin says only what differs between providers — its config model, the path, where the key
lives, ``build_request(query, texts) -> body`` and ``parse_response(answer) -> [(index, score)]``.
This class does the rest once: key lookup, pooled clients, retries, splitting long document lists
at ``batch_size`` and sending the parts concurrently, checking every answer, and many queries at once.

``top_n`` is sent to the provider (under ``top_n_field``) only when it is smaller than the part
being sent; the answer must then hold at least ``min(top_n, part size)`` rows. Rows the provider
did not return still get a score — below every returned one, in input order — so every row stays
aligned and the reranker's own ``top_n`` cut (which keeps only returned rows) decides the output.
Set ``top_n_field = None`` for an API without such a field: then every row is always scored.

Requests hold at most ``batch_size`` documents; a plugin whose provider has other per-request
limits (a token or byte budget) overrides :meth:`HTTPScorer.split`, usually with :func:`pack`.

Every request goes through :meth:`HTTPScorer.request` (or :meth:`~HTTPScorer.arequest`), which
adds it to the reranker's ``usage`` once answered; a plugin sends any request of its own through
it too, and many at once with :func:`~rerankit.http.fan_out` / :func:`~rerankit.http.afan_out`.

Two hooks serve APIs whose answers can be wrong in ways worth asking again (LLM rerankers):
:meth:`HTTPScorer.read_answer` sees the documents a request carried, and with
``split_bad_answers = True`` a part whose answer fails the checks is asked once more as two halves
before a :class:`~rerankit.ProviderResponseError` naming the documents is raised.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import numpy as np
from pydantic import SecretStr

from .._errors import AuthenticationError, ConfigError, InputError, ProviderResponseError
from .._redact import mask_urls, unsendable
from .._scoring.scorer import Scorer
from .._scoring.usage import billed_units
from ._config import HTTPConfig, unsendable_key
from ._fanout import afan_out, fan_out
from ._responses import check_ranking
from ._retry import Backoff

if TYPE_CHECKING:
    from ._client import Transport

logger = logging.getLogger("rerankit")


@dataclass(frozen=True)
class _Part:
    """One request: documents ``offset .. offset+len(texts)`` of query number ``item``."""

    item: int
    query: str
    offset: int
    texts: Sequence[str]
    top_k: Optional[int]


class HTTPScorer(Scorer):
    """Base class for scorers backed by a rerank HTTP API (Cohere, Jina, Voyage and alike).

    Subclasses set ``Config`` (an :class:`HTTPConfig` subclass with the provider's defaults),
    ``provider``, ``path``, ``api_key_env``, optionally ``top_n_field``, and implement
    :meth:`build_request` and :meth:`parse_response`.
    """

    Config: ClassVar[type[HTTPConfig]] = HTTPConfig
    #: Name used in error messages and log lines.
    provider: ClassVar[str] = "http"
    #: Path appended to ``base_url``.
    path: ClassVar[str] = "/rerank"
    #: Environment variables searched, in order, when ``api_key`` is not given.
    api_key_env: ClassVar[tuple[str, ...]] = ()
    #: Request field that limits the answer to the top k rows, or None if the API has none.
    top_n_field: ClassVar[Optional[str]] = "top_n"
    #: Ask once more, split in two halves, when an answer fails the checks (see the module doc).
    split_bad_answers: ClassVar[bool] = False

    config: HTTPConfig

    def __init__(self, config: HTTPConfig) -> None:
        super().__init__(config)
        self._api_key = self._resolve_key()
        self.url = config.base_url + (config.path or self.path)
        self._transport: Optional[Transport] = None
        self._lock = threading.Lock()

    # -- what a plugin provides ----------------------------------------------------------------
    def build_request(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        """The JSON body asking the provider to score ``texts`` against ``query`` (no top-k field)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_request(query, texts)")

    def parse_response(self, data: Any) -> Iterable[tuple[int, float]]:
        """``(index into texts, score)`` pairs from the provider's parsed JSON answer."""
        raise NotImplementedError(f"{type(self).__name__} must implement parse_response(data)")

    def read_answer(self, data: Any, texts: Sequence[str]) -> Iterable[tuple[int, float]]:
        """``(index into texts, score)`` pairs from an answer to a request that carried ``texts``.

        By default :meth:`parse_response`; override it when reading an answer needs the request's
        documents (labels chosen per request, ranges that depend on their number). Raise
        :class:`~rerankit.ProviderResponseError` for a wrong answer.
        """
        return self.parse_response(data)

    def billed_units(self, data: Any) -> Mapping[str, float]:
        """The units the provider billed for one answer, by its own names (the reranker's
        ``usage.billed``). By default Cohere's ``meta.billed_units`` and the numbers in a
        top-level ``usage`` object (Jina/Voyage/OpenAI tokens, Pinecone's ``rerank_units``)."""
        return billed_units(data)

    def requests_for(self, query: str, texts: Sequence[Any]) -> int:
        """The requests ``texts`` is split into (what the ``rate_limit`` option charges)."""
        return len(self._parts(0, query, texts))

    def request_headers(self) -> dict[str, str]:
        """Headers sent with every request besides the key's (override to add some)."""
        return {"Accept": "application/json"}

    def auth_headers(self, key: str) -> dict[str, str]:
        """The header(s) carrying the API key: ``Authorization: Bearer <key>`` unless overridden."""
        return {"Authorization": f"Bearer {key}"}

    def split(self, query: str, texts: Sequence[str]) -> Iterable[int]:
        """How many of ``texts`` go in each request, in order: ``batch_size`` at a time by default.

        Override to respect a provider's other per-request limits (a token or byte budget known
        from the request); the sizes must be positive and add up to ``len(texts)``. See :func:`pack`.
        """
        size = self.config.batch_size
        return [min(size, len(texts) - start) for start in range(0, len(texts), size)]

    # -- key -----------------------------------------------------------------------------------
    def _resolve_key(self) -> Optional[SecretStr]:
        if self.config.api_key is not None:
            return self.config.api_key
        for name in self._key_envs():
            value = os.environ.get(name, "").strip()
            if value and unsendable(value):
                raise ConfigError(unsendable_key(f"{self.provider}: the environment variable {name}"))
            if value:
                return SecretStr(value)
        default_url = type(self.config).model_fields["base_url"].default
        named = self.config.api_key_env is not None  # the user said where the key is: it must be there
        if (named or self.config.base_url == default_url) and self._key_envs():
            where = " or ".join(self._key_envs())
            raise AuthenticationError(
                f"{self.provider}: no API key; pass api_key=... or set {where}",
                provider=self.provider,
            )
        return None  # a self-hosted server at a custom base_url may need no key

    def _key_envs(self) -> tuple[str, ...]:
        return (self.config.api_key_env,) if self.config.api_key_env else self.api_key_env

    def _key_hint(self) -> str:
        return " / ".join(("api_key", *self._key_envs()))

    # -- transport -----------------------------------------------------------------------------
    def _get_transport(self) -> Transport:
        with self._lock:
            if self._transport is None:
                try:
                    from ._client import Transport
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    raise ImportError(
                        f"hosted rerankers need httpx and tenacity: pip install 'rerankit[http]' ({exc})"
                    ) from None
                cfg = self.config
                headers = {"User-Agent": _user_agent(), **self.request_headers()}
                if self._api_key is not None:
                    headers.update(self.auth_headers(self._api_key.get_secret_value()))
                self._transport = Transport(
                    provider=self.provider,
                    url=self.url,
                    headers=headers,
                    timeout=cfg.timeout,
                    connect_timeout=cfg.connect_timeout,
                    backoff=Backoff(cfg.max_retries, cfg.deadline, cfg.backoff_base, cfg.backoff_max),
                    secret=None if self._api_key is None else self._api_key.get_secret_value(),
                    key_hint=self._key_hint(),
                )
            return self._transport

    # -- planning and checking -----------------------------------------------------------------
    def _parts(self, item: int, query: str, texts: Sequence[str]) -> list[_Part]:
        # When the path needs every score to be the provider's own (a cache keeps them; rows
        # outside a top k get stand-in scores), top_n is not sent: the provider bills per request.
        top_n = self.config.top_n if self.top_n_field and not self.every_score_needed() else None
        sizes = list(self.split(query, texts)) if texts else []
        if any(not isinstance(n, int) or n < 1 for n in sizes) or sum(sizes) != len(texts):
            raise ValueError(
                f"{type(self).__name__}.split() gave part sizes {sizes[:10]} for {len(texts)} texts; "
                "they must be positive and add up to the number of texts"
            )
        parts = []
        offset = 0
        for size in sizes:
            chunk = texts[offset : offset + size]
            top_k = top_n if top_n is not None and top_n < len(chunk) else None
            parts.append(_Part(item, query, offset, chunk, top_k))
            offset += size
        return parts

    def _body(self, part: _Part) -> dict[str, Any]:
        body = dict(self.build_request(part.query, list(part.texts)))
        if part.top_k is not None and self.top_n_field:
            body[self.top_n_field] = part.top_k
        return body

    def _check(self, part: _Part, data: Any) -> tuple[np.ndarray, np.ndarray]:
        try:
            pairs = list(self.read_answer(data, part.texts))
            indices, scores = check_ranking(pairs, len(part.texts), part.top_k)
        except ProviderResponseError as exc:
            raise ProviderResponseError(f"{self._bad()}{exc}", provider=self.provider) from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderResponseError(
                f"{self.provider}: unexpected answer shape from {self.url}: {type(exc).__name__}: {exc}",
                provider=self.provider,
            ) from None
        return indices + part.offset, scores

    def _bad(self) -> str:
        return f"{self.provider}: bad answer from {self.url}: "

    def _first(self, part: _Part, data: Any) -> tuple[Any, Optional[ProviderResponseError]]:
        """The checked answer, or (for a scorer that asks again) what is wrong with it."""
        try:
            return self._check(part, data), None
        except ProviderResponseError as exc:
            if not self.split_bad_answers:
                raise
            return None, exc

    def _post(self, part: _Part) -> Any:
        return self.request(self._body(part), documents=len(part.texts))

    async def _apost(self, part: _Part) -> Any:
        return await self.arequest(self._body(part), documents=len(part.texts))

    def _send(self, part: _Part) -> tuple[np.ndarray, np.ndarray]:
        answer, first = self._first(part, self._post(part))
        if first is None:
            return answer
        answers = []
        for again in self._retry_plan(part, first):
            try:
                answers.append(self._check(again, self._post(again)))
            except ProviderResponseError as exc:
                raise self._bad_twice(part, again, first, exc) from None
        return _joined(answers)

    async def _asend(self, part: _Part) -> tuple[np.ndarray, np.ndarray]:
        answer, first = self._first(part, await self._apost(part))
        if first is None:
            return answer
        problem = first

        async def one(again: _Part) -> tuple[np.ndarray, np.ndarray]:
            try:
                return self._check(again, await self._apost(again))
            except ProviderResponseError as exc:
                raise self._bad_twice(part, again, problem, exc) from None

        retry = self._retry_plan(part, problem)
        return _joined(await afan_out(one, retry, len(retry)))

    def _retry_plan(self, part: _Part, problem: ProviderResponseError) -> list[_Part]:
        retry = _halves(part)
        how = "again" if len(retry) == 1 else f"again in {len(retry)} requests"
        logger.warning("%s (%s); asking %s", problem, _span(part), how)
        return retry

    def _bad_twice(
        self, part: _Part, again: _Part, first: ProviderResponseError, second: ProviderResponseError
    ) -> ProviderResponseError:
        how = "as is" if again is part else "split in half"
        problem = str(second).removeprefix(self._bad())
        return ProviderResponseError(
            f"{first} ({_span(part)}); asked again {how}, the answer for {_span(again)} was still "
            f"wrong: {problem}",
            provider=self.provider,
        )

    @staticmethod
    def _merge(
        sizes: Sequence[int], parts: Sequence[_Part], answers: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> list[list[float]]:
        """One score list per query; rows outside a provider's top k score below every returned row."""
        out = [np.full(n, np.nan) for n in sizes]
        for part, (indices, scores) in zip(parts, answers, strict=True):
            out[part.item][indices] = scores
        result = []
        for scores in out:
            missing = np.isnan(scores)
            if missing.any():
                low = float(np.min(scores[~missing]))
                scores[missing] = low - max(1.0, abs(low))
            result.append(scores.tolist())
        return result

    # -- one request: every request of a hosted scorer goes through here --------------------------
    def request(self, body: Mapping[str, Any], *, documents: int = 0) -> Any:
        """POST ``body`` (JSON) to :attr:`url` and return the parsed answer: the one way a hosted
        scorer sends anything, so use it for any request of a plugin's own (a listwise loop, an
        embeddings batch). Pooled, retried and typed like every request; once answered, it is
        added to the reranker's ``usage`` (:attr:`meter`): one request, ``documents`` documents
        and the units the provider billed for it (:meth:`billed_units`), also when the answer
        then fails a check. Attempts that failed and were retried are neither billed nor counted."""
        data = self._get_transport().post(body)
        self._count(documents, data)
        return data

    async def arequest(self, body: Mapping[str, Any], *, documents: int = 0) -> Any:
        """Async twin of :meth:`request`."""
        data = await self._get_transport().apost(body)
        self._count(documents, data)
        return data

    def _count(self, documents: int, data: Any) -> None:
        billed = self.billed_units(data)
        logger.debug("%s: answered a request of %d documents; billed %s", self.provider, documents, billed or "nothing")
        self.meter.add(requests=1, documents=documents, billed=billed)

    # -- the Scorer interface ------------------------------------------------------------------
    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text; long lists are split at ``batch_size`` and the parts sent concurrently."""
        return self.score_batch([query], [texts], self.config.max_concurrency)[0]

    async def ascore(self, query: str, texts: Sequence[str]) -> list[float]:
        """Async twin of :meth:`score`."""
        return (await self.ascore_batch([query], [texts], self.config.max_concurrency))[0]

    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        """Score many queries: every request of every query goes through one pool of threads.

        At most ``max_concurrency`` requests are in flight. Threads (not a private event loop)
        because the pooled sync client is thread-safe, the call works the same inside a running
        event loop (notebooks), and a failure surfaces as the ordinary exception.
        """
        parts = self._plan(queries, texts)
        if not parts:
            return [[] for _ in queries]
        answers = fan_out(self._send, parts, max_concurrency, name=f"rerankit-{self.provider}")
        return self._merge([len(t) for t in texts], parts, answers)

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16
    ) -> list[list[float]]:
        """Async twin of :meth:`score_batch`: at most ``max_concurrency`` requests in flight."""
        parts = self._plan(queries, texts)
        if not parts:
            return [[] for _ in queries]
        answers = await afan_out(self._asend, parts, max_concurrency)
        return self._merge([len(t) for t in texts], parts, answers)

    def _plan(self, queries: Sequence[str], texts: Sequence[Sequence[str]]) -> list[_Part]:
        if len(queries) != len(texts):
            raise InputError(f"{len(queries)} queries but {len(texts)} text lists; pass one list per query")
        return [p for i, (q, t) in enumerate(zip(queries, texts, strict=True)) for p in self._parts(i, q, t)]

    def close(self) -> None:
        """Close pooled connections (a later call opens new ones)."""
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        """Close pooled connections, including the running event loop's async pool."""
        if self._transport is not None:
            await self._transport.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.config.model_name!r}, url={mask_urls(self.url)!r})"

    def __getstate__(self) -> Any:
        raise TypeError(
            f"{type(self).__name__} is not pickled directly; pickle the reranker, which is rebuilt by "
            "name and config with the key re-read from the environment"
        )


def _halves(part: _Part) -> list[_Part]:
    """The part as two requests of half its documents each (one document: the same request)."""
    n = len(part.texts)
    if n < 2:
        return [part]
    mid = (n + 1) // 2
    out = []
    for offset, texts in ((part.offset, part.texts[:mid]), (part.offset + mid, part.texts[mid:])):
        top_k = part.top_k if part.top_k is not None and part.top_k < len(texts) else None
        out.append(_Part(part.item, part.query, offset, texts, top_k))
    return out


def _joined(answers: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([a[0] for a in answers]), np.concatenate([a[1] for a in answers])


def _span(part: _Part) -> str:
    last = part.offset + len(part.texts) - 1
    docs = f"document {part.offset}" if last == part.offset else f"documents {part.offset}-{last}"
    return f"{docs} of query {part.item}"


def _user_agent() -> str:
    from .._version import __version__

    return f"rerankit/{__version__}"


__all__ = ["HTTPScorer"]
