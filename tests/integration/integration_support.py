"""Shared by the integration tests: a real embedded LanceDB table, the installed CLI.

Plain functions that the test modules wrap in fixtures: a second conftest.py here would clash
with tests/conftest.py, whose module name is also ``conftest``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

DIM = 32

DOCS = [
    "red apple pie with cinnamon",
    "green apple tart and cream",
    "the blue sky over the sea",
    "a fast red car on the road",
    "apple orchard with red trees",
    "ocean waves under a blue sky",
    "baking bread and apple cake",
    "car engines and fast roads",
    "sea shells on the ocean shore",
    "cinnamon rolls and sweet bread",
    "orchard trees in spring",
    "road trips by car across the country",
]


def embed(text: str) -> np.ndarray:
    """A hashed bag-of-words vector (unit length): texts sharing words are close."""
    vec = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        vec[h % DIM] += 1.0 if (h >> 16) & 1 else -1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm else vec


def make_table(tmp_path: Path, docs: list[str] = DOCS):
    """An embedded LanceDB table with ``id``, ``text``, ``vector`` and a full-text index on ``text``."""
    import lancedb
    from lancedb.index import FTS

    db = lancedb.connect(str(tmp_path / "db"))
    vectors = np.stack([embed(t) for t in docs])
    tbl = db.create_table(
        "docs",
        pa.table(
            {
                "id": pa.array(range(len(docs)), pa.int64()),
                "text": docs,
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIM),
            }
        ),
    )
    tbl.create_index("text", config=FTS())
    return tbl


def rerankit_executable() -> str:
    """The installed ``rerankit`` console script of this environment."""
    candidate = Path(sys.executable).parent / "rerankit"
    found = str(candidate) if candidate.exists() else shutil.which("rerankit")
    assert found, f"the rerankit executable is not installed next to {sys.executable}"
    return found
