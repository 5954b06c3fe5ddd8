"""The score cache's SQLite backend: one file shared by every thread and process that opens it.

Standard library only. The file runs in WAL mode, so readers never wait on a writer and processes
share it safely; a short busy timeout keeps a rerank from stalling behind another writer. Rows
older than ``ttl`` are ignored on read and swept on write, and the oldest rows go when the table
passes ``max_entries`` (checked every few hundred writes, not on each one).

A cache must never fail a rerank: a corrupt, locked, missing or unreadable file turns lookups into
misses and writes into no-ops, with one WARNING until the file works again (the connection is
reopened on the next call, so a file that was replaced or repaired is used again).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

logger = logging.getLogger("rerankit")

#: Keys per SELECT (SQLite's default limit on bound parameters is 999 on old builds).
CHUNK = 500
#: Writes between two checks of the size bound.
SWEEP_EVERY = 256
#: Seconds a call waits on another writer's lock before counting as a miss.
BUSY_SECONDS = 0.5


class SQLiteStore:
    """Scores in a SQLite file: ``key -> (score, stored_at)``."""

    def __init__(self, path: Path, max_entries: int, ttl: Optional[float]) -> None:
        self.file = path
        self._max = max_entries
        self._ttl = ttl
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None
        self._failing = False
        self._writes = 0

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.file), timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL, "
                    "stored REAL NOT NULL)"
                )
                conn.execute("CREATE INDEX IF NOT EXISTS scores_stored ON scores (stored)")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _failed(self, exc: BaseException) -> None:
        """Degrade to a miss: warn once, drop the connection so the next call reopens the file."""
        if not self._failing:
            logger.warning(
                "score cache %s is unusable (%s: %s); scoring without it until it works again",
                self.file, type(exc).__name__, exc,
            )
        self._failing = True
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _ok(self) -> None:
        if self._failing:
            logger.info("score cache %s works again", self.file)
        self._failing = False

    def get_many(self, keys: Sequence[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        if not keys:
            return found
        oldest = -1.0 if self._ttl is None else time.time() - self._ttl
        with self._lock:
            try:
                conn = self._connect()
                for start in range(0, len(keys), CHUNK):
                    chunk = list(keys[start : start + CHUNK])
                    marks = ",".join("?" * len(chunk))
                    rows = conn.execute(
                        f"SELECT key, score FROM scores WHERE key IN ({marks}) AND stored >= ?",
                        (*chunk, oldest),
                    ).fetchall()
                    found.update(rows)
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc)
                return {}
            self._ok()
        return found

    def put_many(self, items: Mapping[str, float]) -> None:
        if not items:
            return
        now = time.time()
        with self._lock:
            try:
                conn = self._connect()
                with conn:  # one transaction
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(
                        "INSERT OR REPLACE INTO scores (key, score, stored) VALUES (?, ?, ?)",
                        [(k, float(v), now) for k, v in items.items()],
                    )
                self._writes += len(items)
                if self._writes >= SWEEP_EVERY:
                    self._writes = 0
                    self._sweep(conn, now)
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc)
                return
            self._ok()

    def _sweep(self, conn: sqlite3.Connection, now: float) -> None:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if self._ttl is not None:
                conn.execute("DELETE FROM scores WHERE stored < ?", (now - self._ttl,))
            (count,) = conn.execute("SELECT COUNT(*) FROM scores").fetchone()
            if count > self._max:
                conn.execute(
                    "DELETE FROM scores WHERE key IN (SELECT key FROM scores ORDER BY stored LIMIT ?)",
                    (count - self._max,),
                )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error:
                    pass
                self._conn = None


__all__ = ["SQLiteStore"]
