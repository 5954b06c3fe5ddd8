"""First-stage retrieval from the evaluation index: the candidates every reranker is given.

``bm25`` is LanceDB's full-text search (``_score``), ``vector`` its vector search over the stored
query vector (``_distance``, squared L2 between unit vectors), each cut to ``candidates`` rows with
their ``_rowid`` and the index columns the rerankers read (``text`` for scorers, a reranker's
``vector_column``, e.g. the stored ``vector``). ``hybrid`` runs both: fusion rerankers fuse the
two lists (with the scores as the searches return them) and the hybrid list's own order, which
scorers rerank, is ``rrf`` with LanceDB's defaults (K=60), cut to ``candidates`` rows as LanceDB's
hybrid query cuts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ._index import Index

RETRIEVERS = ("bm25", "vector", "hybrid")


@dataclass
class Candidates:
    """One query's first-stage results (None where the retriever was not needed)."""

    vector: pa.Table | None
    fts: pa.Table | None
    hybrid: pa.Table | None = None


def search(
    index: Index, qid: str, text: str, candidates: int, retrievers: set[str], columns: Sequence[str] = ()
) -> Candidates:
    """Run the searches ``retrievers`` need, fetching ``doc_id``, the search score and ``columns``."""
    extra = [c for c in dict.fromkeys(columns) if c != "doc_id"]
    vector = fts = None
    if retrievers & {"vector", "hybrid"}:
        query = index.table.search(index.query_vectors[qid]).limit(candidates)
        vector = query.select(["doc_id", *extra, "_distance"]).with_row_id(True).to_arrow()
    if retrievers & {"bm25", "hybrid"}:
        query = index.table.search(text, query_type="fts").limit(candidates)
        fts = query.select(["doc_id", *extra, "_score"]).with_row_id(True).to_arrow()
    found = Candidates(vector, fts)
    if "hybrid" in retrievers:
        found.hybrid = hybrid_order().rerank_hybrid(text, vector, fts).slice(0, candidates)
    return found


_default_fusion: Any = None


def hybrid_order() -> Any:
    """The hybrid list's own order: ``rrf`` with LanceDB's defaults, keeping every column."""
    global _default_fusion
    if _default_fusion is None:
        from rerankit import get_reranker

        _default_fusion = get_reranker("rrf", return_score="all")
    return _default_fusion
