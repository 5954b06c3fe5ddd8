"""Shared by the serve tests: a live uvicorn server on 127.0.0.1 in a thread, and test scorers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn

from rerankit import RerankerConfig, Scorer, ScoringReranker
from rerankit.testing import fake_score


class LiveServer:
    """``app`` served by uvicorn on a free loopback port until :meth:`stop` (as SIGTERM would)."""

    def __init__(self, app: Any, *, shutdown_timeout: float = 10.0) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=shutdown_timeout, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def service(self) -> Any:
        return self.app.state.service

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.service.ready:
            if time.monotonic() > deadline:
                raise RuntimeError(f"models not ready: {self.service._warm}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True  # what uvicorn's SIGTERM handler does
        self.thread.join(30)
        self.sock.close()


class WordScorer(Scorer):
    """Deterministic scores that differ per (query, text) pair, so crossed answers would show.

    Raises on a query containing ``boom``; sleeps ``delay`` seconds on a query containing ``slow``.
    Counts its calls and the largest number of queries one ``score_batch`` call received.
    """

    delay = 1.0

    def __init__(self, config: RerankerConfig) -> None:
        super().__init__(config)
        self.calls = 0
        self.largest_batch = 0
        self.lock = threading.Lock()

    def __getstate__(self) -> dict:  # pickles to Ray Serve replicas, without its lock
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if "boom" in query:
            raise RuntimeError("scorer exploded")
        if "slow" in query:
            time.sleep(self.delay)
        return [fake_score(query, t) for t in texts]

    def score_batch(self, queries: Sequence[str], texts: Sequence[Sequence[str]], max_concurrency: int = 16):
        with self.lock:
            self.calls += 1
            self.largest_batch = max(self.largest_batch, len(queries))
        # a scorer of its own reports what it costs in the reranker's usage record
        self.meter.add(requests=1, documents=sum(len(t) for t in texts))
        if any("slow" in q for q in queries):  # one wait per batch, like one slow forward pass
            time.sleep(self.delay)
        return [self.score(q.replace("slow", "late"), t) for q, t in zip(queries, texts)]


def word_reranker(name: str = "words") -> ScoringReranker:
    return ScoringReranker(name, RerankerConfig(), WordScorer(RerankerConfig()))
