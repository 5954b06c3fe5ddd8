"""Scoring a batch of (query, document) pairs: each distinct document encoded once, in
length-sorted batches, MaxSim vectorized per batch, scores returned in input order. The model's
own arrays do the work (torch tensors for :class:`~.encoder.ColbertModel`, numpy for
:class:`~.exported.ExportedColbert`), so this module imports no torch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rerankit.local import LengthSortedBatches

from .base import ColbertBase as ColbertModel


def score_texts(
    model: ColbertModel,
    queries: Sequence[str],
    docs: Sequence[str],
    doc_of: np.ndarray,
    owner: np.ndarray,
    batch_size: int,
    query_length: int,
    doc_length: int,
) -> tuple[np.ndarray, int, int]:
    """Scores of pair ``i``, ``docs[doc_of[i]]`` against ``queries[owner[i]]``, and the queries and
    documents truncated. Each of ``docs`` (distinct texts) is encoded once, however many pairs use it."""
    q, scored, query_cut = model.encode_queries(queries, query_length)
    by_doc = np.argsort(doc_of, kind="stable")  # the pairs grouped by document
    first = np.searchsorted(doc_of[by_doc], np.arange(len(docs) + 1))
    batches = LengthSortedBatches([len(d) for d in docs], batch_size)  # characters: a free proxy
    parts, pairs, doc_cut = [], [], 0
    for rows in batches:
        d, valid, cut = model.encode_documents([docs[i] for i in rows], doc_length)
        doc_cut += cut
        mine = np.concatenate([by_doc[first[i] : first[i + 1]] for i in rows])  # the pairs of these rows
        local = model.array(np.repeat(np.arange(len(rows)), first[rows + 1] - first[rows]))
        parts.append(model.maxsim(q, scored, owner[mine], d[local], valid[local]))
        pairs.append(mine)
    gathered = model.gather(parts)
    scores = np.empty_like(gathered)
    scores[np.concatenate(pairs)] = gathered
    return scores, query_cut, doc_cut


def score_vectors(
    model: ColbertModel,
    queries: Sequence[str],
    vectors: np.ndarray,
    counts: np.ndarray,
    owner: np.ndarray,
    batch_size: int,
    query_length: int,
) -> tuple[np.ndarray, int]:
    """Scores of stored documents (``counts[i]`` token vectors each, packed in ``vectors``) against
    ``queries[owner[i]]``: only the queries are encoded. Also returns how many queries were cut."""
    q, scored, query_cut = model.encode_queries(queries, query_length)
    starts = np.cumsum(counts) - counts
    source = np.ascontiguousarray(vectors, dtype=np.float32)
    batches = LengthSortedBatches(counts, batch_size)
    parts = []
    for rows in batches:
        n = counts[rows]
        row = np.repeat(np.arange(len(rows)), n)  # each token's document within the batch
        pos = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)  # and its position there
        docs = np.zeros((len(rows), int(n.max()), vectors.shape[1]), np.float32)
        valid = np.zeros((len(rows), int(n.max())), dtype=bool)
        docs[row, pos] = source[np.repeat(starts[rows], n) + pos]
        valid[row, pos] = True
        parts.append(model.maxsim(q, scored, owner[rows], model.array(docs), model.array(valid)))
    return batches.restore(model.gather(parts)), query_cut


def document_vectors(
    model: ColbertModel, docs: Sequence[str], batch_size: int, doc_length: int
) -> tuple[list[np.ndarray], int]:
    """Each document's scored token vectors (padding and masked punctuation left out), as float32
    arrays in input order: what an ``embeddings_column`` holds. Also how many texts were cut."""
    out: list[np.ndarray] = [np.empty((0, model.dim), np.float32)] * len(docs)
    cut = 0
    for rows in LengthSortedBatches([len(d) for d in docs], batch_size):
        d, valid, batch_cut = model.encode_documents([docs[i] for i in rows], doc_length)
        cut += batch_cut
        d, valid = model.numpy(d), model.numpy(valid)
        for j, i in enumerate(rows):
            out[i] = d[j][valid[j]]
    return out, cut
