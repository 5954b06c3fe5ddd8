"""What the Ray tests ship to Ray's workers: scorers (one kills its own worker) and block cutting.

Kept apart from the test module so that workers import only this (pickled by value, so it does
not matter which directory a worker starts in).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import pyarrow as pa
from pydantic import SecretStr

import rerankit
from rerankit.testing import fake_score


def blocks(table: pa.Table, size: int) -> list[pa.Table]:
    """The table cut every ``size`` rows, so that groups straddle blocks."""
    return [table.slice(i, size) for i in range(0, table.num_rows, size)]


class Overlap(rerankit.Scorer):
    """Scores with fake_score (word overlap), in any process."""

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        return [fake_score(query, t) for t in texts]


class KeyedConfig(rerankit.RerankerConfig):
    api_key: Optional[SecretStr] = None


class KillOnce(rerankit.Scorer):
    """Scores with fake_score; the first time it meets ``kill_query`` it SIGKILLs its own process.

    Every unpickling (a worker building the reranker) and every call is logged to ``log`` as
    ``"<pid> build"`` / ``"<pid> score <query>"``; ``marker`` records the killed process's pid.
    """

    def __init__(self, config: rerankit.RerankerConfig, kill_query: str, marker: Path, log: Path) -> None:
        super().__init__(config)
        self.kill_query, self.marker, self.log = kill_query, str(marker), str(log)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._write("build")

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        self._write(f"score {query}")
        if query == self.kill_query:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass  # killed once already: this is the retry
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return [fake_score(query, t) for t in texts]

    def _write(self, line: str) -> None:
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {line}\n")
