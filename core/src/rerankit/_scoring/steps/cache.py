"""The ``cache`` step: scores kept by what determines them, so a repeated question costs nothing.

A score is stored under a key made of the scorer's identity (the reranker's registered name and
its :meth:`~rerankit.Scorer.cache_identity`: model and every option that changes a score), the
query and the text, hashed together (BLAKE2b, 128 bits). Only the texts the cache misses go on
down the path, each distinct text once; scores are stored only after the scorer answered the whole
call, so an error or a partial answer is never kept. Texts that are not strings (token embeddings
a scorer chose with ``select_inputs``) bypass the cache.

Backends: ``memory`` (an LRU of ``max_entries`` in this process, for this reranker) and
``sqlite`` (a file shared by threads and processes; see :mod:`.cache_sqlite`). Both honour ``ttl``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..._errors import ConfigError
from .base import AsyncNext, Decisions, Job, Next, Step, StepContext, adrive, drive


class CacheOptions(BaseModel):
    """The ``cache`` option: where scores are kept and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Optional[Literal["memory", "sqlite"]] = Field(
        None, description="'memory' (this process) or 'sqlite' (a file); default: sqlite when path is set."
    )
    path: Optional[str] = Field(None, description="The SQLite file ('~' expands); required for sqlite.")
    ttl: Optional[float] = Field(None, gt=0, description="Seconds a score stays valid (None: no expiry).")
    max_entries: int = Field(100_000, ge=1, description="Most scores kept; the oldest go first.")

    @model_validator(mode="after")
    def _backend(self) -> CacheOptions:
        if self.backend is None:
            object.__setattr__(self, "backend", "sqlite" if self.path else "memory")
        if self.backend == "sqlite" and not self.path:
            raise ValueError("the sqlite cache needs a file: set path, e.g. '~/.cache/rerankit/scores.sqlite'")
        if self.backend == "memory" and self.path:
            raise ValueError("path is for backend 'sqlite'; drop it, or set backend = 'sqlite'")
        return self


class MemoryStore:
    """An LRU of scores in this process; thread-safe."""

    def __init__(self, max_entries: int, ttl: Optional[float]) -> None:
        self._max = max_entries
        self._ttl = ttl
        self._items: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        now = time.time()
        found = {}
        with self._lock:
            for key in keys:
                item = self._items.get(key)
                if item is None:
                    continue
                score, stored = item
                if self._ttl is not None and now - stored > self._ttl:
                    del self._items[key]
                    continue
                self._items.move_to_end(key)
                found[key] = score
        return found

    def put_many(self, items: Mapping[str, float]) -> None:
        now = time.time()
        with self._lock:
            for key, score in items.items():
                self._items[key] = (score, now)
                self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Read:
    """Look ``keys`` up in the store; sent back: the scores it knows, by key."""

    keys: list[str]


@dataclass(frozen=True)
class _Write:
    """Keep ``scores`` (by key) in the store."""

    scores: dict[str, float]


@dataclass(frozen=True)
class _Score:
    """Send ``jobs`` on down the path; sent back: their scores."""

    jobs: list[Job]


class CacheStep(Step):
    """Answers what the store knows, sends only the misses on; stores the scorer's answers.

    The decisions are made once, in :meth:`_decide`; :meth:`score` and :meth:`ascore` only carry
    out what it asks (a SQLite store is read and written on a worker thread from async code).
    """

    def __init__(self, context: StepContext, options: CacheOptions, identity: Mapping[str, Any]) -> None:
        identity = {k: v for k, v in identity.items() if k not in context.path_options}
        blob = json.dumps({"reranker": context.name, **identity}, sort_keys=True, default=str)
        self._prefix = hashlib.blake2b(blob.encode(), digest_size=16).digest()
        self._usage = context.usage
        if options.backend == "sqlite":
            from .cache_sqlite import SQLiteStore

            self.store: Any = SQLiteStore(Path(options.path or "").expanduser(), options.max_entries, options.ttl)
        else:
            self.store = MemoryStore(options.max_entries, options.ttl)

    def key(self, query: str, text: str) -> str:
        """The store's key for ``text`` scored against ``query`` by this scorer.

        Each field goes in with its length first, so no two (query, text) pairs share a key
        whatever characters they hold (``("a\\0b", "c")`` and ``("a", "b\\0c")`` included).
        """
        h = hashlib.blake2b(self._prefix, digest_size=16)
        for value in (query, text):
            data = value.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()

    def _decide(self, jobs: list[Job]) -> Decisions[Any, list[np.ndarray]]:
        if not all(isinstance(t, str) for j in jobs for t in j.texts):
            return (yield _Score(jobs))  # token embeddings a scorer chose: not cached
        keys = [[self.key(j.query, t) for t in j.texts] for j in jobs]
        known: dict[str, float] = yield _Read([k for ks in keys for k in ks])
        hits = sum(k in known for ks in keys for k in ks)
        self._usage.add(cache_hits=hits, cache_misses=sum(map(len, keys)) - hits)
        todo, todo_keys = [], []
        for job, ks in zip(jobs, keys):
            misses = {k: text for text, k in zip(job.texts, ks) if k not in known}  # each distinct text once
            if misses:
                todo.append(Job(job.query, list(misses.values()), every_score=True))
                todo_keys.append(list(misses))
        if todo:
            scores = yield _Score(todo)
            fresh = {k: float(s) for ks, ss in zip(todo_keys, scores) for k, s in zip(ks, ss)}
            yield _Write(fresh)
            known.update(fresh)
        return [np.array([known[k] for k in ks], dtype=np.float64) for ks in keys]

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        def do(op: Any) -> Any:
            if isinstance(op, _Score):
                return call_next(op.jobs)
            if isinstance(op, _Read):
                return self.store.get_many(op.keys)
            return self.store.put_many(op.scores)

        return drive(self._decide(jobs), do)

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        blocking = not isinstance(self.store, MemoryStore)  # a file: off the event loop

        async def do(op: Any) -> Any:
            if isinstance(op, _Score):
                return await call_next(op.jobs)
            call = (
                functools.partial(self.store.get_many, op.keys) if isinstance(op, _Read)
                else functools.partial(self.store.put_many, op.scores)
            )
            return await asyncio.to_thread(call) if blocking else call()

        return await adrive(self._decide(jobs), do)

    def close(self) -> None:
        self.store.close()


def make_cache(context: StepContext) -> Optional[Step]:
    """The cache step, when the ``cache`` option is set."""
    options = getattr(context.config, "cache", None)
    if options is None:
        return None
    identity = context.scorer.cache_identity()
    if identity is None:
        raise ConfigError(
            f"option 'cache' cannot be used with reranker '{context.name}' as configured: its score "
            "for a text depends on the other texts of the list (e.g. a listwise method), so a score "
            "cannot be reused for the same text in another list; remove 'cache' or choose a method "
            "that scores each text on its own"
        )
    return CacheStep(context, options, identity)


__all__ = ["CacheOptions", "CacheStep", "MemoryStore", "make_cache"]
