"""The rerank service: every route's logic, independent of the web stack that carries it.

:func:`~rerankit.serve.create_app` mounts it on Starlette (run by uvicorn); the Ray Serve
deployment calls the same :meth:`RerankService.dispatch` in each replica. A request goes:
key check -> body size -> JSON -> the dialect's own checks -> model -> limits -> rows -> the
model's batch queue (local scorers) or the reranker itself -> the dialect's answer. Every refusal
is the dialect's own status and error body; a failure inside a reranker is logged here with its
traceback and answered with its type and (for rerankit's own errors) message, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .._dialects import CohereDialect, Dialect, JinaDialect, Reject, TEIDialect
from .._errors import InputError, ProviderError, RateLimitError, RerankitError
from .._fusion import FusionReranker
from .._serve_settings import ServeSettings
from ._batching import Batcher, Overloaded
from ._metrics import Metrics
from ._models import (
    ServedModel,
    arerank_one,
    fusion_inputs,
    ranking,
    request_table,
    rerank_one,
    truncate_words,
    warm_up_table,
)
from ._threads import settle_openmp_waiting

logger = logging.getLogger("rerankit").getChild("serve")  # not a dotted literal (the import graph reads those)

#: The rerank routes and the dialect each speaks.
ROUTES = {"/v2/rerank": "cohere", "/v1/rerank": "jina", "/rerank": "tei"}


class _Disconnected(Exception):
    """The client closed the connection before its answer was ready."""


class RerankService:
    """The served models, their queues and threads, the limits and the metrics of one server."""

    def __init__(self, models: dict[str, ServedModel], settings: Optional[ServeSettings] = None) -> None:
        if not models:
            raise InputError("serve at least one model")
        self.models = models
        self.settings = settings or ServeSettings()
        self.default = next(iter(models))
        self.metrics = Metrics(usage=self._usage)
        limits = self.settings.limits
        self.dialects: dict[str, Dialect] = {}
        for dialect in (CohereDialect(), JinaDialect(), TEIDialect()):
            dialect.max_documents = limits.max_documents
            dialect.max_body_bytes = limits.max_body_bytes
            if isinstance(dialect, CohereDialect):
                dialect.max_chunks = None  # Cohere's own chunk rule; this server's limit is max_documents
            self.dialects[dialect.name] = dialect
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._batchers: dict[str, Batcher] = {}
        self._warm: dict[str, Optional[str]] = {}  # model -> None (ready) or what failed
        self._started = False
        self._start_lock: Optional[asyncio.Lock] = None
        self.draining = False
        #: Withdraw a request whose client disconnected (off where the ASGI server cannot tell, as in Ray Serve).
        self.watch_disconnects = True

    # -- life cycle ----------------------------------------------------------------------------
    async def startup(self, warm_up: bool = True) -> None:
        """Create the worker threads and queues, and load local models in the background."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            threads = self.settings.threads_per_model
            if any(model.local for model in self.models.values()):
                settle_openmp_waiting()  # before the models (and torch) load
            for name, model in self.models.items():
                if model.local:
                    self._executors[name] = ThreadPoolExecutor(threads, thread_name_prefix=f"rerankit-{name}")
                if model.batched:
                    executor = self._executors.get(name) or ThreadPoolExecutor(threads)
                    self._executors[name] = executor
                    self._batchers[name] = Batcher(
                        model, executor, self.metrics, threads=threads,
                        max_queue_documents=self.settings.limits.max_queue_documents,
                    )
                self._warm[name] = "loading"
            self._started = True
            for name, model in self.models.items():
                if warm_up and model.local:
                    asyncio.get_running_loop().create_task(self._warm_up(name, model))
                else:
                    self._warm[name] = None

    async def _warm_up(self, name: str, model: ServedModel) -> None:
        """Score one pair, so the model is loaded before the server says it is ready."""
        table = warm_up_table(model.reranker)
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executors[name], rerank_one, model.reranker, "warm up", table
            )
            self._warm[name] = None
        except Exception as exc:
            logger.exception("model '%s' failed to load", name)
            self._warm[name] = f"{type(exc).__name__}: {exc}" if isinstance(exc, RerankitError) else type(exc).__name__

    async def shutdown(self) -> None:
        """Stop the queues, threads and rerankers (after the web server finished in-flight requests)."""
        self.draining = True
        for batcher in self._batchers.values():
            await batcher.close()
        for executor in self._executors.values():
            executor.shutdown(wait=True, cancel_futures=True)
        for model in self.models.values():
            try:
                await model.reranker.aclose()
            except Exception:  # closing is best effort
                logger.debug("closing '%s' failed", model.name, exc_info=True)

    @property
    def ready(self) -> bool:
        return self._started and not self.draining and all(v is None for v in self._warm.values())

    def _usage(self) -> dict[str, dict[str, float]]:
        """Per served model with a usage record (every scoring reranker, and a cascade's per-stage
        record): its counters (requests, billed units, cache, rate limit, fallbacks, what its
        fallbacks billed included)."""
        records = {name: getattr(m.reranker, "usage", None) for name, m in self.models.items()}
        return {name: usage.counters() for name, usage in records.items() if callable(getattr(usage, "counters", None))}

    # -- routes --------------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        """Answer any request (the Ray Serve deployment routes every path through here)."""
        path = request.url.path.rstrip("/") or "/"
        method = request.method
        if path in ROUTES and method == "POST":
            return await self.rerank(ROUTES[path], request)
        if method == "GET":
            route = {"/v1/models": self.list_models, "/health": self.health, "/ready": self.readiness,
                     "/metrics": self.metrics_text, "/openapi.json": self.openapi}.get(path)
            if route is not None:
                return await route(request)
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document of this server (its models' names in ``model``)."""
        from ._openapi import openapi_document

        served = list(self.models) if self._authorized(request) else None  # names only for a client with the key
        return JSONResponse(openapi_document(ROUTES, served))

    async def health(self, request: Request) -> Response:
        """Liveness: the process answers."""
        return JSONResponse({"status": "ok"})

    async def readiness(self, request: Request) -> Response:
        """Readiness: every model loaded (503 while loading, after a failed load, or when draining)."""
        if not self._started:
            await self.startup()
        status = "ready" if self.ready else ("draining" if self.draining else "not ready")
        answer: dict[str, Any] = {"status": status}
        if self._authorized(request):  # model names and load errors only for a client with the key
            answer["models"] = {name: ("ready" if state is None else state) for name, state in self._warm.items()}
        return JSONResponse(answer, status_code=200 if self.ready else 503)

    async def metrics_text(self, request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def list_models(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"detail": "Unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        data = [m.describe() for m in self.models.values()]
        return JSONResponse({"object": "list", "data": data})

    def _authorized(self, request: Request) -> bool:
        keys = self.settings.api_keys
        if not keys:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        token = token.strip().encode() if scheme.lower() == "bearer" else b""
        ok = False
        for key in keys:  # every key compared, in constant time
            ok |= hmac.compare_digest(token, key.encode())
        return ok

    # -- reranking -----------------------------------------------------------------------------
    async def rerank(self, api: str, request: Request) -> Response:
        """One rerank request in ``api``'s dialect, from the raw request to the answer."""
        if not self._started:
            await self.startup()
        dialect = self.dialects[api]
        start = time.monotonic()
        model_name = "-"
        self.metrics.in_flight.inc(1)
        try:
            try:
                model, body, req = await self._read(dialect, request)
                model_name = model.name
                scored = await self._score(dialect, model, req, request)
                answer = dialect.answer(body, scored, req.texts)
                response: Response = JSONResponse(answer)
            except Reject as reject:
                response = self._reply(reject)
            except _Disconnected:
                self.metrics.errors.inc(api=api, type="client_disconnected")
                self.metrics.requests.inc(api=api, model=model_name, status="499")
                return Response(status_code=499)
            except Exception as exc:  # a bug of the server's own: logged, answered in the API's shape
                logger.error("%s request to '%s' failed", api, model_name, exc_info=exc)
                self.metrics.errors.inc(api=api, type="internal")
                response = self._reply(dialect.failure(
                    500, f"internal error ({type(exc).__name__}); see the server log"
                ))
            status = response.status_code
            self.metrics.requests.inc(api=api, model=model_name, status=str(status))
            if status < 400:
                self.metrics.latency.observe(time.monotonic() - start, api=api, model=model_name)
            return response
        finally:
            self.metrics.in_flight.inc(-1)

    def _refuse(self, api: str, kind: str, reject: Reject) -> Reject:
        self.metrics.errors.inc(api=api, type=kind)
        return reject

    async def _read(self, dialect: Dialect, request: Request) -> tuple[ServedModel, Any, Any]:
        api, limits = dialect.name, self.settings.limits
        if not self._authorized(request):
            raise self._refuse(api, "unauthorized", dialect.auth_error())
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise self._refuse(api, "body_too_large", dialect.too_large(int(declared)))
        raw = bytearray()
        try:
            async for chunk in request.stream():
                raw.extend(chunk)
                if len(raw) > limits.max_body_bytes:
                    raise self._refuse(api, "body_too_large", dialect.too_large(len(raw)))
        except ClientDisconnect:
            raise _Disconnected() from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise self._refuse(api, "bad_json", dialect.bad_json()) from None
        except RecursionError:
            raise self._refuse(api, "bad_json", dialect.bad_json("the JSON is nested too deeply")) from None
        if _SURROGATE.search(raw) and _has_surrogate(body):
            raise self._refuse(api, "bad_json", dialect.bad_json(
                "the JSON holds a lone surrogate escape (e.g. \\ud800), which is no character; send valid UTF-16 pairs"
            ))
        try:
            req = dialect.request(body)
        except Reject as reject:
            raise self._refuse(api, "invalid_request", reject) from None
        name = req.model or self.default
        model = self.models.get(name)
        if model is None:
            raise self._refuse(api, "unknown_model", dialect.unknown_model(name, list(self.models)))
        if len(req.texts) > limits.max_documents:
            raise self._refuse(api, "too_many_documents", dialect.too_many(len(req.texts)))
        if len(req.query) > limits.max_text_chars:
            raise self._refuse(api, "text_too_long", dialect.too_long(-1, len(req.query), limits.max_text_chars))
        for i, text in enumerate(req.texts):
            if len(text) > limits.max_text_chars:
                raise self._refuse(api, "text_too_long", dialect.too_long(i, len(text), limits.max_text_chars))
        return model, body, req

    async def _score(self, dialect: Dialect, model: ServedModel, req: Any, request: Request) -> list[tuple[int, float]]:
        api = dialect.name
        if not req.texts:  # nothing to rank (where the API allows an empty list): nothing lost
            return []
        try:
            table = request_table(model.reranker, req.documents, truncate_words(req.texts, req.max_tokens_per_doc))
            if isinstance(model.reranker, FusionReranker):
                fusion_inputs(model.reranker, table)  # every document has a score: none is dropped
        except RerankitError as exc:
            raise self._refuse(api, "invalid_request", dialect.failure(dialect.invalid_status, str(exc))) from None
        work = asyncio.ensure_future(self._rerank_rows(model, req.query, table))
        pending: set[asyncio.Future[Any]] = {work}
        if self.watch_disconnects:
            pending.add(asyncio.ensure_future(_disconnect(request)))
        loop = asyncio.get_running_loop()
        timeout = self.settings.limits.request_timeout
        deadline = loop.time() + timeout
        try:
            while work in pending:
                done, pending = await asyncio.wait(
                    pending, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
                if work in done:
                    break
                watch = next(iter(done), None)
                if watch is not None and not watch.cancelled() and watch.exception() is None:
                    raise _Disconnected()
                if watch is None:  # the deadline passed
                    raise self._refuse(api, "timeout", dialect.failure(504, f"request timed out after {timeout:g} s"))
        finally:
            for task in pending:
                task.cancel()
        self.metrics.documents.inc(table.num_rows, model=model.name)
        try:
            return ranking(work.result(), req.top_n)
        except Overloaded as exc:
            raise self._refuse(api, "overloaded", dialect.failure(
                dialect.overloaded_status, f"server overloaded: {exc}; retry later", {"retry-after": "1"}
            )) from None
        except RateLimitError as exc:
            wait = getattr(exc, "retry_after", None)
            headers = {"retry-after": str(max(1, round(wait)))} if wait else {}
            raise self._refuse(api, "provider_rate_limited", dialect.failure(503, str(exc), headers)) from None
        except ProviderError as exc:  # the whole message (keys and URL credentials masked) goes to the log only
            logger.warning("model '%s': %s", model.name, exc)
            status = f", HTTP {exc.status_code}" if getattr(exc, "status_code", None) else ""
            message = (
                f"the upstream provider of model '{model.name}' failed ({type(exc).__name__}{status}); "
                "see the server log"
            )
            raise self._refuse(api, "provider_error", dialect.failure(502, message)) from None
        except (InputError, RerankitError) as exc:
            kind = "invalid_request" if isinstance(exc, InputError) else "scoring_error"
            status = dialect.invalid_status if isinstance(exc, InputError) else 500
            raise self._refuse(api, kind, dialect.failure(status, f"{type(exc).__name__}: {exc}")) from None
        except Exception as exc:
            logger.error("model '%s' failed on a request", model.name, exc_info=exc)
            raise self._refuse(api, "internal", dialect.failure(
                500, f"reranker '{model.name}' failed ({type(exc).__name__}); see the server log"
            )) from None

    async def _rerank_rows(self, model: ServedModel, query: str, table: Any) -> Any:
        batcher = self._batchers.get(model.name)
        if batcher is not None:
            return await batcher.submit(query, table)
        if model.local:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executors[model.name], rerank_one, model.reranker, query, table)
        return await arerank_one(model.reranker, query, table)

    @staticmethod
    def _reply(reject: Reject) -> Response:
        if isinstance(reject.body, bytes):
            media = "text/plain; charset=utf-8" if reject.body else None
            return Response(reject.body, status_code=reject.status, headers=reject.headers, media_type=media)
        return JSONResponse(reject.body, status_code=reject.status, headers=reject.headers)


#: A ``\\uD800``-``\\uDFFF`` escape in the raw body (then the parsed body is searched for a lone one).
_SURROGATE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _has_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (keys included) holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def _disconnect(request: Request) -> None:
    """Returns when the client disconnects (the body has been read, so only that message is left)."""
    while True:
        message = await request.receive()
        if message.get("type") == "http.disconnect":
            return


__all__ = ["ROUTES", "RerankService"]
