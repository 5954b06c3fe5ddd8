"""The transport: pooled httpx clients and the retry loop, for one hosted scorer.

Imported only when a hosted scorer sends its first request, so ``import rerankit`` (and loading
plugins) never imports httpx or tenacity. One sync ``httpx.Client`` is shared by every thread of
the scorer (httpx clients are thread-safe); async calls get one ``httpx.AsyncClient`` per event
loop, because an async connection pool belongs to the loop that opened it, and that pool is closed
when its loop shuts down (``asyncio.run`` does so) or on ``aclose()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, Optional

import httpx
import tenacity

from .._errors import (
    ConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from .._redact import mask_urls, unsendable, url_secrets
from ._config import unsendable_key
from ._errors import error_message, http_error, safe_headers, scrub
from ._retry import Backoff, retry_after_seconds, retryable_status

logger = logging.getLogger("rerankit")


class _Failure(Exception):
    """One failed attempt; ``retryable`` says whether asking again could help."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        retryable: bool,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.gave_up = ""


class Transport:
    """Sends one JSON body to one URL with timeouts, retries and typed errors."""

    def __init__(
        self,
        *,
        provider: str,
        url: str,
        headers: Mapping[str, str],
        timeout: float,
        connect_timeout: float,
        backoff: Backoff,
        secret: Optional[str],
        key_hint: str,
    ) -> None:
        self.provider = provider
        self.url = url
        #: The URL as messages and log lines show it: credentials (``user:password@``) masked.
        self.shown_url = mask_urls(url)
        for name, value in headers.items():  # a value httpx cannot send would be echoed in its error
            if unsendable(str(value)):
                raise ConfigError(unsendable_key(f"{provider}: the {name} header"))
        self._headers = dict(headers)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self.backoff = backoff
        self._secrets = {s for s in (secret, *url_secrets(url)) if s}
        self._key_hint = key_hint
        self._pools = _Pools()
        weakref.finalize(self, self._pools.close_sync)  # a dropped scorer closes its sockets

    def __repr__(self) -> str:
        return f"Transport({self.provider!r}, {self.shown_url!r})"

    # -- clients -----------------------------------------------------------------------------
    def _new_client(self, cls: type[Any]) -> Any:
        # Concurrency is bounded by the caller (threads / semaphore), so the pool never queues.
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=30)
        return cls(headers=self._headers, limits=limits, verify=_ssl_context())

    def _sync_client(self) -> httpx.Client:
        pools = self._pools
        with pools.lock:
            if pools.sync is None or pools.sync.is_closed:
                pools.sync = self._new_client(httpx.Client)
            return pools.sync

    async def _loop_pools(self) -> _LoopPools:
        loop = asyncio.get_running_loop()
        pools = self._pools
        with pools.lock:
            for gone in [lp for lp in pools.by_loop if lp.is_closed()]:
                del pools.by_loop[gone]
            mine = pools.by_loop.get(loop)
            if mine is not None and not mine.closed:
                return mine
            mine = _LoopPools(lambda: self._new_client(httpx.AsyncClient))
            pools.by_loop[loop] = mine
        await mine.closer.asend(None)  # parked until the loop shuts down
        return mine

    def close(self) -> None:
        """Close the sync pool (async pools close with their event loop, or by :meth:`aclose`)."""
        self._pools.close_sync()

    async def aclose(self) -> None:
        """Close the pools of the running event loop, and the sync pool."""
        loop = asyncio.get_running_loop()
        with self._pools.lock:
            mine = self._pools.by_loop.pop(loop, None)
        if mine is not None:
            await mine.closer.aclose()
            await mine.close()
        self.close()

    # -- one attempt ---------------------------------------------------------------------------
    def _attempt_timeout(self, started: float) -> httpx.Timeout:
        read = self._timeout
        connect = self._connect_timeout
        if self.backoff.deadline is not None:
            left = max(0.001, self.backoff.deadline - (time.monotonic() - started))
            read, connect = min(read, left), min(connect, left)
        return httpx.Timeout(read, connect=connect, pool=None)

    def _log_request(self, body: Mapping[str, Any]) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            docs = next((len(v) for v in body.values() if isinstance(v, list)), 0)
            logger.debug(
                "%s: POST %s (%d documents) headers=%s",
                self.provider, self.shown_url, docs, safe_headers(self._headers),
            )

    def _failure_from(self, exc: httpx.HTTPError, timeout: httpx.Timeout) -> _Failure:
        name = type(exc).__name__
        if isinstance(exc, httpx.ConnectTimeout):
            detail = f"no connection within {timeout.connect:.3g}s ({name})"
            return _Failure("timeout", detail, retryable=True)
        if isinstance(exc, httpx.TimeoutException):
            return _Failure("timeout", f"no response within {timeout.read:.3g}s ({name})", retryable=True)
        if isinstance(exc, httpx.LocalProtocolError):  # its text may quote a header, the key's included
            return _Failure("transport", f"{name}: the request could not be encoded", retryable=False)
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return _Failure("transport", f"{name}: {self._scrub(str(exc))}", retryable=False)
        detail = self._scrub(str(exc)) or "connection failed"
        return _Failure("transport", f"{name}: {detail}", retryable=True)

    def _scrub(self, text: str) -> str:
        """``text`` without the key or the URL's credentials (providers and libraries echo them)."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = scrub(text, secret)
        return mask_urls(text)

    def _read(self, response: httpx.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return json.loads(response.content)
            except ValueError as exc:
                raise ProviderResponseError(
                    f"{self.provider}: the answer from {self.shown_url} (HTTP {status}) is not valid JSON "
                    f"({exc}); body starts {self._scrub(response.text[:120])!r}",
                    provider=self.provider,
                    status_code=status,
                ) from None
        message = self._scrub(error_message(response.content))
        wait = retry_after_seconds(response.headers)
        raise _Failure("status", message, retryable=retryable_status(status), status=status, retry_after=wait)

    def _attempt(self, body: Mapping[str, Any], started: float) -> Any:
        timeout = self._attempt_timeout(started)
        self._log_request(body)
        try:
            response = self._sync_client().post(self.url, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            failure = self._failure_from(exc, timeout)
        else:
            return self._read(response)
        # raised outside the except block: no __context__ keeps httpx's error (its request's URL)
        raise failure

    async def _aattempt(self, body: Mapping[str, Any], started: float) -> Any:
        timeout = self._attempt_timeout(started)
        self._log_request(body)
        try:
            pools = await self._loop_pools()
            shard = pools.acquire()
            try:
                response = await pools.clients[shard].post(self.url, json=body, timeout=timeout)
            finally:
                pools.release(shard)
        except httpx.HTTPError as exc:
            failure = self._failure_from(exc, timeout)
        else:
            return self._read(response)
        raise failure

    # -- retries -------------------------------------------------------------------------------
    def _policy(self, started: float, attempts: list[int]) -> dict[str, Callable[..., Any]]:
        """tenacity callbacks: ``retry`` decides (and picks the delay) once per failed attempt."""
        upcoming = [0.0]

        def should_retry(state: tenacity.RetryCallState) -> bool:
            attempts[0] = state.attempt_number
            exc = state.outcome.exception() if state.outcome is not None else None
            if not isinstance(exc, _Failure) or not exc.retryable:
                return False
            wait = self.backoff.delay(state.attempt_number, exc.retry_after)
            elapsed = time.monotonic() - started
            if not self.backoff.allows(state.attempt_number, elapsed, wait):
                if state.attempt_number <= self.backoff.max_retries:
                    exc.gave_up = (
                        f"; gave up: waiting {wait:.3g}s more would pass the "
                        f"{self.backoff.deadline:g}s deadline"
                    )
                return False
            upcoming[0] = wait
            logger.info(
                "%s: %s (attempt %d of %d); retrying in %.3fs",
                self.provider, _describe(exc), state.attempt_number, self.backoff.max_retries + 1, wait,
            )
            return True

        return {
            "retry": should_retry,
            "wait": lambda state: upcoming[0],
            "stop": tenacity.stop_never,
            "reraise": True,
        }

    def post(self, body: Mapping[str, Any]) -> Any:
        """POST ``body`` and return the parsed JSON answer, retrying as the policy allows."""
        started, attempts = time.monotonic(), [0]
        try:
            return tenacity.Retrying(**self._policy(started, attempts))(self._attempt, body, started)
        except _Failure as failure:
            raise self._final(failure, attempts[0]) from None

    async def apost(self, body: Mapping[str, Any]) -> Any:
        """Async twin of :meth:`post`."""
        started, attempts = time.monotonic(), [0]
        try:
            return await tenacity.AsyncRetrying(**self._policy(started, attempts))(
                self._aattempt, body, started
            )
        except _Failure as failure:
            raise self._final(failure, attempts[0]) from None

    def _final(self, failure: _Failure, attempts: int) -> ProviderError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if failure.kind == "status" and failure.status is not None:
            return http_error(
                self.provider, failure.status, failure.detail + failure.gave_up, attempts,
                key_hint=self._key_hint,
            )
        if failure.kind == "timeout":
            return ProviderTimeoutError(
                f"{self.provider}: request to {self.shown_url} timed out{tries}: {failure.detail}{failure.gave_up}; "
                "raise timeout= (or deadline=) or check the server",
                provider=self.provider,
            )
        return ProviderConnectionError(
            f"{self.provider}: request to {self.shown_url} failed{tries}: {failure.detail}{failure.gave_up}; "
            "check base_url and that the server is reachable",
            provider=self.provider,
        )


_SSL: Optional[ssl.SSLContext] = None
_SSL_LOCK = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context for the process: building one loads the CA bundle (~0.5 s)."""
    global _SSL
    with _SSL_LOCK:
        if _SSL is None:
            _SSL = httpx.create_ssl_context()
        return _SSL


class _Pools:
    """A transport's clients, apart from it so that a finalizer can close them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sync: Optional[httpx.Client] = None
        self.by_loop: dict[asyncio.AbstractEventLoop, _LoopPools] = {}

    def close_sync(self) -> None:
        with self.lock:
            client, self.sync = self.sync, None
        if client is not None:
            client.close()


#: Most requests in flight on one async pool before another pool is opened.
SHARD_SIZE = 8


class _LoopPools:
    """One event loop's async clients.

    httpcore's async pool does work proportional to (connections x waiting requests) for every
    request, which makes one pool CPU-bound at a few dozen concurrent requests. So each pool
    carries at most ``SHARD_SIZE`` requests and more pools open as concurrency grows. Used only
    from its loop's thread.
    """

    def __init__(self, make: Callable[[], httpx.AsyncClient]) -> None:
        self._make = make
        self.clients: list[httpx.AsyncClient] = []
        self.busy: list[int] = []
        self.closed = False
        self.closer = _close_at_loop_shutdown(self)

    def acquire(self) -> int:
        best = min(range(len(self.clients)), key=self.busy.__getitem__, default=-1)
        if best < 0 or self.busy[best] >= SHARD_SIZE:
            self.clients.append(self._make())
            self.busy.append(0)
            best = len(self.clients) - 1
        self.busy[best] += 1
        return best

    def release(self, shard: int) -> None:
        self.busy[shard] -= 1

    async def close(self) -> None:
        self.closed = True
        for client in self.clients:
            if not client.is_closed:
                await client.aclose()


async def _close_at_loop_shutdown(pools: _LoopPools) -> AsyncGenerator[None, None]:
    """Parked for the life of an event loop: ``loop.shutdown_asyncgens()`` (which ``asyncio.run``
    and test runners call before closing a loop) resumes it, and it closes the loop's pools."""
    try:
        yield
    finally:
        await pools.close()


def _describe(failure: _Failure) -> str:
    if failure.kind == "status":
        return f"HTTP {failure.status}: {failure.detail}"
    return failure.detail


__all__ = ["Transport"]
