"""The ``colbert`` and ``answerdotai`` scorers: ColBERT late interaction on transformers directly.

The model loads on the first score and is shared by every scorer with the same load options (see
:mod:`.loading`). Queries and documents are encoded and scored exactly as the reference
implementation does (see :mod:`.encoder` and :mod:`.maxsim`). With ``embeddings_column``, rows
that already carry their token embeddings are scored from them: only the query is encoded.
Texts longer than the document length are truncated, as in the reference, but never silently:
each call that truncates logs one warning with the count on the ``rerankit.colbert`` logger.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
import pyarrow as pa

import rerankit
from rerankit.local import TokenLength, Truncations

from .config import AnswerdotaiConfig, ColbertConfig
from .embeddings import read_multivectors
from .loading import ColbertKey, load, load_key

if TYPE_CHECKING:
    from .encoder import ColbertModel
    from .exported import ExportedColbert

logger = logging.getLogger("rerankit.colbert")


class ColbertScorer(rerankit.Scorer):
    """Scores each text by MaxSim: the sum over query tokens of the best-matching document token."""

    Config = ColbertConfig
    config: ColbertConfig
    #: The registered name, used in log messages.
    reranker = "colbert"

    def __init__(self, config: ColbertConfig) -> None:
        super().__init__(config)
        self._key: Optional[ColbertKey] = None
        self.truncations = Truncations(logger, self.reranker)

    @property
    def model(self) -> ColbertModel | ExportedColbert:
        """The loaded model (loads it on first access)."""
        if self._key is None:
            self._key = load_key(self.config)
        return load(self._key)

    @property
    def truncated_total(self) -> int:
        """How many queries and texts this scorer truncated so far (each call also logs a warning)."""
        return self.truncations.total

    def export(self, out: str | os.PathLike[str], *, weights: bool = False, overwrite: bool = False) -> Path:
        """Write this scorer's model as a self-contained folder ``out`` that scores without torch
        (its ``backend`` must be ``"onnx"`` or ``"openvino"``): the model's files (weights only
        with ``weights=True``) plus the exported graph; ``rerankit export`` calls this."""
        from .loading import write_folder

        return write_folder(self.model, out, weights=weights, overwrite=overwrite)

    # -- which values rows are scored by ---------------------------------------------------------
    def select_inputs(self, table: pa.Table) -> Optional[Union[pa.Array, pa.ChunkedArray]]:
        """The ``embeddings_column`` when set (rows scored from stored vectors), else None (text)."""
        column = self.config.embeddings_column
        if column is None:
            return None
        if table.schema.get_field_index(column) < 0:
            raise rerankit.MissingColumnError(
                f"results have no column '{column}' (columns: {', '.join(table.column_names)}); "
                "embeddings_column names the column holding each document's token embeddings: "
                "select it in the search, or unset embeddings_column to encode the text",
                column=column,
                argument="embeddings_column",
            )
        return table[column]

    def length_measure(self) -> TokenLength:
        """Document tokens up to ``doc_max_length``, less [CLS], [SEP] and the document marker (the
        query is encoded apart), so that with ``passages`` no passage is truncated."""
        model = self.model
        _, doc_length = model.lengths(self.config.query_max_length, self.config.doc_max_length)
        extra = 1 if model.doc_marker_id is not None else 0
        return TokenLength(
            model.tokenizer, doc_length, query_in_window=False, extra=extra, lock=model.lock, prepare=model.prepare
        )

    # -- scoring ---------------------------------------------------------------------------------
    def score(self, query: str, texts: Sequence[Any]) -> list[float]:
        return self.score_batch([query], [texts])[0]

    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[Any]], max_concurrency: int = 16
    ) -> list[list[float]]:
        """All queries' documents batched together by length (a document in several queries'
        lists encoded once), then split per query."""
        sizes = [len(t) for t in texts]
        if not sum(sizes):
            return [[] for _ in texts]
        from .scoring import score_texts, score_vectors

        model = self.model
        query_length, doc_length = model.lengths(self.config.query_max_length, self.config.doc_max_length)
        owner = np.repeat(np.arange(len(queries)), sizes)
        if all(isinstance(t, (pa.Array, pa.ChunkedArray)) for t in texts):
            column = self.config.embeddings_column or "embeddings"
            read = [read_multivectors(t, column, model.dim) for t in texts if len(t)]
            vectors = np.concatenate([v for v, _ in read])
            counts = np.concatenate([c for _, c in read])
            scores, query_cut = score_vectors(
                model, queries, vectors, counts, owner, self.config.batch_size, query_length
            )
            doc_cut, encoded = 0, len(owner)
        else:
            where: dict[str, int] = {}
            doc_of = np.array([where.setdefault(t, len(where)) for docs in texts for t in docs], dtype=np.int64)
            scores, query_cut, doc_cut = score_texts(
                model, queries, list(where), doc_of, owner, self.config.batch_size, query_length, doc_length
            )
            encoded = len(where)
        self._report_queries(query_cut, len(queries), query_length)
        self._report_texts(doc_cut, encoded, doc_length, model)
        bounds = np.cumsum([0, *sizes])
        return [scores[bounds[i] : bounds[i + 1]].tolist() for i in range(len(texts))]

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[Any]], max_concurrency: int = 16
    ) -> list[list[float]]:
        return await asyncio.to_thread(self.score_batch, queries, texts, max_concurrency)

    # -- token embeddings, for tables that store them ---------------------------------------------
    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token vectors as this model scores them (float32 ``[tokens, dim]``, padding
        and masked punctuation left out): what an ``embeddings_column`` should hold."""
        from .scoring import document_vectors

        model = self.model
        _, doc_length = model.lengths(self.config.query_max_length, self.config.doc_max_length)
        vectors, cut = document_vectors(model, list(texts), self.config.batch_size, doc_length)
        self._report_texts(cut, len(vectors), doc_length, model)
        return vectors

    def embed_queries(self, queries: Sequence[str]) -> list[np.ndarray]:
        """Each query's token vectors as this model scores them (float32 ``[positions, dim]``, [MASK]
        expansion included): for a multivector search of a table filled by :meth:`embed_documents`."""
        model = self.model
        query_length, _ = model.lengths(self.config.query_max_length, self.config.doc_max_length)
        vectors, scored, cut = model.encode_queries(list(queries), query_length)
        self._report_queries(cut, len(queries), query_length)
        vectors, scored = model.numpy(vectors), model.numpy(scored)
        return [v[s] for v, s in zip(vectors, scored)]

    # -- truncation ------------------------------------------------------------------------------
    def _report_queries(self, count: int, of: int, length: int) -> None:
        self.truncations.report(
            count, of, what="queries", limit="query_max_length", length=length,
            model=self.config.model_name, fix="raise query_max_length or shorten the query", passages=False,
        )

    def _report_texts(self, count: int, of: int, length: int, model: ColbertModel | ExportedColbert) -> None:
        self.truncations.report(
            count, of, what="texts", limit="doc_max_length", length=length, model=self.config.model_name,
            fix=f"raise doc_max_length (the model has {model.position_limit} positions) or split long texts",
        )


class AnswerdotaiScorer(ColbertScorer):
    """``answerdotai``: LanceDB's ``AnswerdotaiRerankers(model_type="colbert")`` on this plugin."""

    Config = AnswerdotaiConfig
    config: AnswerdotaiConfig
    reranker = "answerdotai"
