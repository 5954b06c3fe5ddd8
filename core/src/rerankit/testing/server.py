"""Local fake rerank servers that speak real providers' wire formats, for tests and benchmarks.

:class:`FakeRerankServer` listens on 127.0.0.1 (standard library only), checks the Bearer key,
answers with a provider's own request validation errors and response shape (a *dialect*:
``"cohere"``, ``"jina"``, ``"voyage"`` or ``"tei"`` for text-embeddings-inference), scores with
the deterministic :func:`fake_score`, and injects faults on demand: error statuses with
``retry-after`` headers, dropped connections, slow answers, malformed or wrong bodies. It records
every request it saw and shuts itself down after ``max_lifetime`` seconds at the latest::

    with FakeRerankServer("cohere", api_key="k") as server:
        server.script(Fault.status(429, headers={"retry-after": "0"}))
        reranker = rerankit.get_reranker("cohere", api_key="k", base_url=server.url)
        reranker.rerank("query", ["doc a", "doc b"])
        assert server.attempts == 2

Formats follow the providers' public API references; where those are silent (marked
*uncertain* in the comments) the messages are plausible stand-ins.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

_WORD = re.compile(r"\w+")


def fake_score(query: str, text: str) -> float:
    """Deterministic relevance in [0, 1): share of query words in the text, plus a tiny tie-break."""
    q = {w.lower() for w in _WORD.findall(query)}
    t = {w.lower() for w in _WORD.findall(text)}
    overlap = len(q & t) / max(1, len(q))
    tiebreak = (zlib.crc32(f"{query}\x00{text}".encode()) % 100_000) / 10_000_000
    return round(0.99 * overlap + tiebreak, 7)


# -- dialects -----------------------------------------------------------------------------------
class Reject(Exception):
    """A request the provider would refuse: HTTP ``status`` with the provider's error body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Dialect:
    """One provider's wire format: the path, request checks, answer shape and error bodies."""

    name = "generic"
    path = "/rerank"
    max_documents: Optional[int] = None

    def error(self, status: int, message: str) -> Any:
        return {"message": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "invalid api token"))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        """``(query, documents, top_k)`` from a request body, or raise :class:`Reject`."""
        raise NotImplementedError

    def too_many(self, count: int) -> Reject:
        """The refusal of a request with more than ``max_documents`` documents."""
        return Reject(400, self.error(400, f"too many documents: {count} > {self.max_documents}"))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        raise NotImplementedError


def _uid() -> str:
    return str(uuid.uuid4())


class CohereDialect(Dialect):
    """Cohere ``POST /v2/rerank``: unknown fields are a 422, documents must be non-empty strings."""

    name = "cohere"
    path = "/v2/rerank"
    max_documents = 10_000
    fields = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"})

    def error(self, status: int, message: str) -> Any:
        return {"id": _uid(), "message": message}

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "invalid request: body must be a JSON object"))
        for key in body:
            if key not in self.fields:
                raise Reject(422, self.error(422, f"unknown field: parameter '{key}' is not a valid field"))
        if not body.get("model"):
            raise Reject(400, self.error(400, "invalid request: model is required"))  # (uncertain)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise Reject(400, self.error(400, "query must not be empty or be only whitespace"))
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs:
            raise Reject(400, self.error(400, "list of documents must not be empty"))
        for i, doc in enumerate(docs):
            if not isinstance(doc, str):
                raise Reject(400, self.error(400, f"invalid request: document at index {i} must be a string"))
            if not doc.strip():
                raise Reject(400, self.error(400, f"document at index {i} cannot be empty"))
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise Reject(400, self.error(400, "invalid request: top_n must be at least 1"))
        mtpd = body.get("max_tokens_per_doc")
        if mtpd is not None and (not isinstance(mtpd, int) or mtpd < 1):
            raise Reject(400, self.error(400, "invalid request: max_tokens_per_doc must be positive"))
        return query, docs, top_n

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"invalid request: too many documents, got {count}, maximum is {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        return {
            "id": _uid(),
            "results": [{"index": i, "relevance_score": s} for i, s in ranking],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }


class JinaDialect(Dialect):
    """Jina ``POST /v1/rerank``: FastAPI-style 422s; documents echoed unless return_documents=false."""

    name = "jina"
    path = "/v1/rerank"

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Unauthorized. Please provide a valid API key."))  # (uncertain)

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        missing = [k for k in ("model", "query", "documents") if not isinstance(body, dict) or k not in body]
        if missing:
            raise Reject(422, {"detail": [
                {"type": "missing", "loc": ["body", k], "msg": "Field required"} for k in missing
            ]})
        docs = body["documents"]
        if not isinstance(docs, list) or not all(isinstance(d, (str, dict)) for d in docs):
            raise Reject(422, {"detail": [
                {"type": "list_type", "loc": ["body", "documents"], "msg": "Input should be a valid list"}
            ]})
        texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in docs]
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise Reject(422, {"detail": [
                {"type": "greater_than", "loc": ["body", "top_n"], "msg": "Input should be greater than 0"}
            ]})
        return str(body["query"]), texts, top_n

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", True)
        results = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if echo:
                item["document"] = {"text": documents[i]}
            results.append(item)
        return {
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
            "results": results,
        }


class VoyageDialect(Dialect):
    """Voyage ``POST /v1/rerank``: ``top_k``, ``truncation``, results under ``data``, ``detail`` errors."""

    name = "voyage"
    path = "/v1/rerank"
    max_documents = 1000

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Provided API key is invalid."))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict) or not body.get("model"):
            raise Reject(400, self.error(400, "Model is required."))  # (uncertain wording)
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise Reject(400, self.error(400, "Query cannot be an empty string."))  # (uncertain)
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
            raise Reject(400, self.error(400, "Documents should be a non-empty list of strings."))
        top_k = body.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise Reject(400, self.error(400, "top_k should be a positive integer."))
        if "truncation" in body and not isinstance(body["truncation"], bool):
            raise Reject(400, self.error(400, "truncation should be a boolean."))
        return query, docs, top_k

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"The number of documents ({count}) exceeds the limit of {self.max_documents}."
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        data = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if body.get("return_documents"):
                item["document"] = documents[i]
            data.append(item)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
        }


class TEIDialect(Dialect):
    """Hugging Face text-embeddings-inference ``POST /rerank``: ``texts``, bare-array answer."""

    name = "tei"
    path = "/rerank"
    max_documents = 32

    def error(self, status: int, message: str) -> Any:
        kind = {400: "Empty", 401: "Unauthorized", 413: "Validation", 422: "Validation",
                424: "Backend", 429: "Overloaded", 503: "Unhealthy"}.get(status, "Backend")
        return {"error": message, "error_type": kind}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Unauthorized"))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict) or "query" not in body or "texts" not in body:
            raise Reject(422, "Failed to deserialize the JSON body into the target type: missing field")
        texts = body["texts"]
        if not texts:
            raise Reject(400, self.error(400, "`texts` cannot be empty"))
        return str(body["query"]), list(texts), None

    def too_many(self, count: int) -> Reject:
        return Reject(422, self.error(
            422, f"batch size {count} > maximum allowed batch size {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        return [{"index": i, "score": s} for i, s in ranking]


DIALECTS: dict[str, type[Dialect]] = {
    d.name: d for d in (CohereDialect, JinaDialect, VoyageDialect, TEIDialect)
}


# -- faults -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """What the server does instead of (or besides) a normal answer for one request."""

    kind: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    message: Optional[str] = None
    body: Optional[bytes] = None
    delay: float = 0.0
    mutate: Optional[Callable[[Any], Any]] = None

    @classmethod
    def error(cls, status: int, message: Optional[str] = None, headers: Optional[Mapping[str, str]] = None):
        """Answer ``status`` with the provider's error body (and e.g. a ``retry-after`` header)."""
        return cls("status", status=status, message=message, headers=dict(headers or {}))

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without answering."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before the normal answer."""
        return cls("slow", delay=seconds)

    @classmethod
    def raw(cls, body: bytes, status: int = 200, content_type: str = "application/json") -> Fault:
        """Answer these exact bytes (e.g. malformed JSON)."""
        return cls("raw", status=status, body=body, headers={"Content-Type": content_type})

    @classmethod
    def change(cls, mutate: Callable[[Any], Any]) -> Fault:
        """Answer ``mutate(normal answer)``: duplicate, drop or corrupt rows."""
        return cls("change", mutate=mutate)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any


# -- the server ---------------------------------------------------------------------------------
class FakeRerankServer:
    """A threaded HTTP server on 127.0.0.1 speaking ``dialect``; use as a context manager.

    ``api_key``: the Bearer key it accepts (None: no auth). ``latency``: seconds added to every
    answer. ``fault_rate`` / ``fault_statuses`` / ``fault_headers``: answer that share of requests
    (chosen by a seeded random generator) with one of those statuses. :meth:`script` queues
    faults for the next requests, in arrival order. ``max_lifetime``: seconds after which the
    server stops by itself, so a hung test cannot keep it alive.
    """

    def __init__(
        self,
        dialect: str | Dialect = "cohere",
        *,
        api_key: Optional[str] = "test-key",
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 503),
        fault_headers: Optional[Mapping[str, str]] = None,
        seed: int = 0,
        max_documents: Optional[int] = -1,
        max_lifetime: float = 120.0,
    ) -> None:
        self.dialect = DIALECTS[dialect]() if isinstance(dialect, str) else dialect
        if max_documents != -1:
            self.dialect.max_documents = max_documents
        self.api_key = api_key
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_statuses = tuple(fault_statuses)
        self.fault_headers = dict(fault_headers or {})
        self.max_lifetime = max_lifetime
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._script: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.faults_injected = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._timer: Optional[threading.Timer] = None

    # -- control -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to give a plugin as ``base_url``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def attempts(self) -> int:
        """How many requests arrived (every retry counts)."""
        with self._lock:
            return len(self.seen)

    def script(self, *faults: Fault) -> None:
        """Apply these faults to the next requests, one each, in arrival order."""
        with self._lock:
            self._script.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests and queued faults."""
        with self._lock:
            self.seen.clear()
            self._script.clear()
            self.faults_injected = 0
            self.max_in_flight = 0

    def start(self) -> FakeRerankServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-rerank", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if self._timer is not None:
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> FakeRerankServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- request handling ----------------------------------------------------------------------
    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            if self._script:
                self.faults_injected += 1
                return self._script.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                self.faults_injected += 1
                return Fault.error(self._rng.choice(self.fault_statuses), headers=self.fault_headers)
        return None

    def _record(self, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.seen.append(Seen(time.monotonic(), path, headers, body))

    def handle(self, path: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Decide the answer to one request: (status, headers, body); ``status == 0`` means drop."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._handle(path, headers, raw)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle(self, path: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._record(path, dict(headers), body)
        fault = self._next_fault()
        if self.latency:
            time.sleep(self.latency)
        if fault is not None and fault.kind == "drop":
            return 0, {}, b""
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "raw":
            return fault.status, dict(fault.headers), fault.body or b""
        if fault is not None and fault.kind == "status":
            message = fault.message or {429: "rate limit exceeded", 503: "service unavailable"}.get(
                fault.status, f"error {fault.status}"
            )
            return self._json(fault.status, self.dialect.error(fault.status, message), fault.headers)
        if path != self.dialect.path:
            return self._json(404, self.dialect.error(404, f"no route for {path}"))
        if self.api_key is not None:
            lowered = {k.lower(): v for k, v in headers.items()}
            if lowered.get("authorization") != f"Bearer {self.api_key}":
                reject = self.dialect.auth_error()
                return self._json(reject.status, reject.body)
        if body is None:
            return self._json(400, self.dialect.error(400, "invalid request: body must be JSON"))
        try:
            query, docs, top_k = self.dialect.parse(body)
            if self.dialect.max_documents is not None and len(docs) > self.dialect.max_documents:
                raise self.dialect.too_many(len(docs))
        except Reject as reject:
            return self._json(reject.status, reject.body)
        ranking = sorted(
            ((i, fake_score(query, d)) for i, d in enumerate(docs)), key=lambda p: (-p[1], p[0])
        )
        if top_k is not None:
            ranking = ranking[:top_k]
        answer = self.dialect.answer(body, ranking, docs)
        if fault is not None and fault.kind == "change" and fault.mutate is not None:
            answer = fault.mutate(answer)
        return self._json(200, answer)

    @staticmethod
    def _json(status: int, payload: Any, headers: Optional[Mapping[str, str]] = None):
        out = {"Content-Type": "application/json", **dict(headers or {})}
        return status, out, json.dumps(payload).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connecting at once must not be refused


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # idle keep-alive connections end, so no handler thread lingers
    fake: FakeRerankServer

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            status, headers, body = self.fake.handle(self.path, dict(self.headers.items()), raw)
        except Exception as exc:  # a bug in a test's mutate function: answer 500, keep serving
            status, headers, body = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
        if status == 0:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. its timeout passed)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


__all__ = ["DIALECTS", "Dialect", "FakeRerankServer", "Fault", "Reject", "Seen", "fake_score"]
