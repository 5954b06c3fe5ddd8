"""Batching across requests: concurrent requests to one local model share forward batches.

Each request waits in its model's queue; a batch takes the oldest request, waits at most
``max_wait_ms`` (from that request's arrival) for others, takes requests while their documents
fit ``max_documents``, and scores them all with one ``reranker.rerank_batch`` call in a worker
thread (a cross-encoder sorts every pair of the batch by length and runs fuller forward passes).
Each request gets back exactly its own table. If the batch call raises, each request of it is
scored alone, so one bad request fails only itself. A request whose client went away before its
batch started is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Optional

import pyarrow as pa

from ._metrics import Metrics
from ._models import ServedModel, rerank_one

logger = logging.getLogger("rerankit").getChild("serve")  # not a dotted literal (the import graph reads those)


class Overloaded(Exception):
    """The model's queue is full; the client should retry later."""


@dataclass
class _Item:
    query: str
    table: pa.Table
    future: asyncio.Future[pa.Table]
    arrived: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> int:
        return self.table.num_rows


class Batcher:
    """The queue and batch loop of one served model (create it inside the running event loop)."""

    def __init__(
        self, model: ServedModel, executor: Executor, metrics: Metrics, *, threads: int, max_queue_documents: int
    ) -> None:
        self.model = model
        self.executor = executor
        self.metrics = metrics
        self.max_queue_documents = max_queue_documents
        self.max_wait = model.batching.max_wait_ms / 1000
        self.max_documents = model.batching.max_documents
        self._pending: deque[_Item] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, threads))
        self._running: set[asyncio.Task[Any]] = set()
        self._loop_task: Optional[asyncio.Task[None]] = None

    async def submit(self, query: str, table: pa.Table) -> pa.Table:
        """Rerank one request's rows in the next batch; cancelling the caller withdraws it."""
        if self._queued + table.num_rows > self.max_queue_documents and self._queued:
            raise Overloaded(f"{self._queued} documents are waiting for model '{self.model.name}'")
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name=f"batch-{self.model.name}")
        item = _Item(query, table, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self._queued += item.size
        self._depth()
        self._wake.set()
        return await item.future

    def _depth(self) -> None:
        self.metrics.queue_depth.set(len(self._pending), model=self.model.name)

    async def _loop(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()
            try:
                await self._gather()
                batch = self._take()
            except BaseException:
                self._slots.release()
                raise
            if not batch:
                self._slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._score(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _gather(self) -> None:
        """Wait until the oldest request has waited ``max_wait`` or enough documents are queued."""
        while self._pending and self._queued < self.max_documents:
            left = self._pending[0].arrived + self.max_wait - time.monotonic()
            if left <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        documents = 0
        while self._pending:
            item = self._pending[0]
            if item.future.done():  # withdrawn (client gone, timed out)
                self._pending.popleft()
                self._queued -= item.size
                continue
            if batch and documents + item.size > self.max_documents:
                break
            self._pending.popleft()
            self._queued -= item.size
            batch.append(item)
            documents += item.size
        self._depth()
        return batch

    async def _score(self, batch: list[_Item]) -> None:
        try:
            name = self.model.name
            self.metrics.batch_requests.observe(len(batch), model=name)
            self.metrics.batch_documents.observe(sum(i.size for i in batch), model=name)
            loop = asyncio.get_running_loop()
            try:
                outcomes = await loop.run_in_executor(self.executor, self._run, batch)
            except BaseException as exc:  # the executor is shut down, or the loop is closing
                outcomes = [exc] * len(batch)
            for item, outcome in zip(batch, outcomes):
                if item.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)
        finally:
            self._slots.release()

    def _run(self, batch: list[_Item]) -> list[Any]:
        """In a worker thread: one ``rerank_batch`` call, or each request alone if it raises."""
        reranker = self.model.reranker
        try:
            return list(reranker.rerank_batch([i.query for i in batch], [i.table for i in batch]))
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            logger.info("batch of %d requests to '%s' failed (%s); scoring each alone", len(batch),
                        self.model.name, type(exc).__name__)
        outcomes: list[Any] = []
        for item in batch:
            try:
                outcomes.append(rerank_one(reranker, item.query, item.table))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def close(self) -> None:
        """Stop the batch loop; requests still waiting fail (graceful shutdown waits before this)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
        for task in list(self._running):
            await asyncio.gather(task, return_exceptions=True)
        while self._pending:
            item = self._pending.popleft()
            if not item.future.done():
                item.future.set_exception(Overloaded("the server is shutting down"))


__all__ = ["Batcher", "Overloaded"]
