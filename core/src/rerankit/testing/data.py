"""Sample result sets the conformance suite feeds every reranker.

They look like LanceDB search results: ``_rowid`` (uint64), the text to score in ``text``, other
columns a real table carries (a nullable title, an int with a null, a list column, a fixed-size
vector) and ``_distance`` (vector search) or ``_score`` (full-text search). Overlapping rows carry
identical values on both sides, as rows of one table do, so a hybrid merge has one right answer.
"""

from __future__ import annotations

import pyarrow as pa

QUERY = "how do rerankers order search results"
OTHER_QUERY = "what does a tokenizer split text into"

_CORPUS = {
    1: ("Rerankers reorder search results by their relevance to the query", "Reranking", 3),
    2: ("Vector search finds passages close to the query embedding", "Vector search", 1),
    3: ("BM25 scores documents by exact term matches", None, 4),
    4: ("Cross-encoders read the query and each passage together", "Cross-encoders", 2),
    5: ("Reciprocal rank fusion merges several ranked result lists", "Fusion", None),
    6: ("A tokenizer splits text into subword units", "Tokenizers", 7),
    7: ("Full-text search results come with a BM25 score", "Full-text search", 5),
    8: ("Hybrid search combines vector and keyword search results", "Hybrid search", 6),
    9: ("Caching embeddings saves time at query time", "Caching", 9),
}

SCHEMA = pa.schema(
    [
        pa.field("_rowid", pa.uint64()),
        pa.field("text", pa.string()),
        pa.field("title", pa.string()),
        pa.field("n", pa.int64()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("vector", pa.list_(pa.float32(), 4)),
    ]
)


def corpus(rowids: list[int] | None = None) -> pa.Table:
    """Rows of the sample corpus, in the order of ``rowids`` (all nine by default)."""
    ids = list(_CORPUS) if rowids is None else rowids
    rows = [
        {
            "_rowid": i,
            "text": _CORPUS[i][0],
            "title": _CORPUS[i][1],
            "n": _CORPUS[i][2],
            "tags": [f"t{i}", "sample"] if i % 3 else [],
            "vector": [i / 10, -i / 10, 0.5, float(i % 2)],
        }
        for i in ids
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def vector_results(rowids: tuple[int, ...] = (1, 2, 3, 4, 5, 6), start: float = 0.1) -> pa.Table:
    """A vector search result: the corpus rows plus ``_distance`` (float32, ascending)."""
    table = corpus(list(rowids))
    distances = [round(start + 0.12 * k, 4) for k in range(len(rowids))]
    return table.append_column(pa.field("_distance", pa.float32()), pa.array(distances, pa.float32()))


def fts_results(rowids: tuple[int, ...] = (7, 4, 9, 5, 8)) -> pa.Table:
    """A full-text search result: the corpus rows plus ``_score`` (float32, descending)."""
    table = corpus(list(rowids))
    scores = [round(9.0 - 1.75 * k, 4) for k in range(len(rowids))]
    return table.append_column(pa.field("_score", pa.float32()), pa.array(scores, pa.float32()))


def second_vector_results() -> pa.Table:
    """Another vector search over the same corpus, overlapping :func:`vector_results`."""
    return vector_results((2, 8, 1, 9), start=0.05)


def empty(table: pa.Table) -> pa.Table:
    """The same table with no rows (a search that found nothing)."""
    return table.slice(0, 0)
