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
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..._errors import ConfigError
from .base import AsyncNext, Job, Next, Step, StepContext


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


class CacheStep(Step):
    """Answers what the store knows, sends only the misses on; stores the scorer's answers."""

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
        h = hashlib.blake2b(self._prefix, digest_size=16)
        h.update(query.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    @staticmethod
    def _misses(
        jobs: list[Job], keys: list[list[str]], known: Mapping[str, float]
    ) -> tuple[list[Job], list[list[str]]]:
        todo, todo_keys = [], []
        for job, ks in zip(jobs, keys):
            seen: dict[str, str] = {}
            for text, k in zip(job.texts, ks):
                if k not in known and k not in seen:
                    seen[k] = text
            if seen:
                todo.append(Job(job.query, list(seen.values())))
                todo_keys.append(list(seen))
        return todo, todo_keys

    def _count(self, keys: list[list[str]], known: Mapping[str, float]) -> None:
        if self._usage is not None:
            hits = sum(k in known for ks in keys for k in ks)
            self._usage.add(cache_hits=hits, cache_misses=sum(map(len, keys)) - hits)

    @staticmethod
    def _answer(keys: list[list[str]], known: dict[str, float], todo_keys, scores) -> list[np.ndarray]:
        for ks, s in zip(todo_keys, scores):
            known.update(zip(ks, np.asarray(s, dtype=np.float64).tolist()))
        return [np.array([known[k] for k in ks], dtype=np.float64) for ks in keys]

    def score(self, jobs: list[Job], call_next: Next) -> list[np.ndarray]:
        if not all(isinstance(t, str) for j in jobs for t in j.texts):
            return call_next(jobs)
        keys = [[self.key(j.query, t) for t in j.texts] for j in jobs]
        known = self.store.get_many([k for ks in keys for k in ks])
        self._count(keys, known)
        todo, todo_keys = self._misses(jobs, keys, known)
        scores = call_next(todo) if todo else []
        fresh = {k: float(s) for ks, ss in zip(todo_keys, scores) for k, s in zip(ks, ss)}
        if fresh:
            self.store.put_many(fresh)
        return self._answer(keys, known, todo_keys, scores)

    async def ascore(self, jobs: list[Job], call_next: AsyncNext) -> list[np.ndarray]:
        if not all(isinstance(t, str) for j in jobs for t in j.texts):
            return await call_next(jobs)
        keys = [[self.key(j.query, t) for t in j.texts] for j in jobs]
        flat = [k for ks in keys for k in ks]
        blocking = isinstance(self.store, MemoryStore)
        known = self.store.get_many(flat) if blocking else await asyncio.to_thread(self.store.get_many, flat)
        self._count(keys, known)
        todo, todo_keys = self._misses(jobs, keys, known)
        scores = await call_next(todo) if todo else []
        fresh = {k: float(s) for ks, ss in zip(todo_keys, scores) for k, s in zip(ks, ss)}
        if fresh:
            if blocking:
                self.store.put_many(fresh)
            else:
                await asyncio.to_thread(self.store.put_many, fresh)
        return self._answer(keys, known, todo_keys, scores)

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
