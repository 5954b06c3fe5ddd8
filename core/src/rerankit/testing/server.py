"""Local fake rerank servers that speak real providers' wire formats, for tests and benchmarks.

:class:`FakeRerankServer` listens on 127.0.0.1 (standard library only), checks the Bearer key,
answers with a provider's own request validation errors and response shape (a *dialect*:
``"cohere"``, ``"jina"``, ``"voyage"``, ``"mixedbread"``, ``"pinecone"``, ``"together"``, and the
self-hosted servers ``"tei"`` (text-embeddings-inference), ``"infinity"`` and ``"vllm"``), scores with
the deterministic :func:`fake_score`, and injects faults on demand: error statuses with
``retry-after`` headers, dropped connections, slow answers, malformed or wrong bodies. It records
every request it saw and shuts itself down after ``max_lifetime`` seconds at the latest::

    with FakeRerankServer("cohere", api_key="k") as server:
        server.script(Fault.status(429, headers={"retry-after": "0"}))
        reranker = rerankit.get_reranker("cohere", api_key="k", base_url=server.url)
        reranker.rerank("query", ["doc a", "doc b"])
        assert server.attempts == 2

Formats follow the providers' public API references; where those are silent (marked
*uncertain* in the comments) the messages are plausible stand-ins. Each dialect lives in its own
module of ``rerankit._dialects``, shared with the real server (``rerankit serve``), and is
re-exported here.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from .._dialects import (
    DIALECTS,
    TEXT,
    CohereDialect,
    Dialect,
    InfinityDialect,
    JinaDialect,
    MixedbreadDialect,
    PineconeDialect,
    Reject,
    TEIDialect,
    TogetherDialect,
    VLLMDialect,
    VoyageDialect,
)

_WORD = re.compile(r"\w+")


def fake_score(query: str, text: str) -> float:
    """Deterministic relevance in [0, 1): share of query words in the text, plus a tiny tie-break."""
    q = {w.lower() for w in _WORD.findall(query)}
    t = {w.lower() for w in _WORD.findall(text)}
    overlap = len(q & t) / max(1, len(q))
    tiebreak = (zlib.crc32(f"{query}\x00{text}".encode()) % 100_000) / 10_000_000
    return round(0.99 * overlap + tiebreak, 7)


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
        #: The JSON body of every 200 answer, in order: what the server billed is in these.
        self.answers: list[Any] = []
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
            self.answers.clear()
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
        dialect = self.dialect
        if not dialect.accepts(path):
            return self._json(404, dialect.error(404, f"no route for {path}"))
        try:
            if self.api_key is not None and dialect.needs_auth(path):
                if not dialect.authorized(headers, self.api_key):
                    raise dialect.auth_error()
            if dialect.max_body_bytes is not None and len(raw) > dialect.max_body_bytes:
                raise dialect.too_large(len(raw))
            if body is None:
                raise dialect.bad_json()
            query, docs, top_k = dialect.parse(body)
            if dialect.max_documents is not None and len(docs) > dialect.max_documents:
                raise dialect.too_many(len(docs))
        except Reject as reject:
            return self._reply(reject)
        ranking = sorted(
            ((i, fake_score(query, d)) for i, d in enumerate(docs)), key=lambda p: (-p[1], p[0])
        )
        if top_k is not None:
            ranking = ranking[:top_k]
        answer = self.dialect.answer(body, ranking, docs)
        if fault is not None and fault.kind == "change" and fault.mutate is not None:
            answer = fault.mutate(answer)
        with self._lock:
            self.answers.append(answer)
        return self._json(200, answer)

    @staticmethod
    def _json(status: int, payload: Any, headers: Optional[Mapping[str, str]] = None):
        out = {"Content-Type": "application/json", **dict(headers or {})}
        return status, out, json.dumps(payload).encode()

    @classmethod
    def _reply(cls, reject: Reject) -> tuple[int, dict[str, str], bytes]:
        if isinstance(reject.body, bytes):
            headers = {**(TEXT if reject.body else {}), **reject.headers}
            return reject.status, headers, reject.body
        return cls._json(reject.status, reject.body, reject.headers)


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


__all__ = [
    "DIALECTS",
    "CohereDialect",
    "Dialect",
    "FakeRerankServer",
    "Fault",
    "InfinityDialect",
    "JinaDialect",
    "MixedbreadDialect",
    "PineconeDialect",
    "Reject",
    "Seen",
    "TEIDialect",
    "TogetherDialect",
    "VLLMDialect",
    "VoyageDialect",
    "fake_score",
]
