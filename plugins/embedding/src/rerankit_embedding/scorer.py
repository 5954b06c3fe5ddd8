"""The ``embedding`` scorer: each text scored by the similarity of its embedding to the query's.

Without ``base_url`` the vectors come from a local sentence-transformers model (:mod:`.local`),
loaded on the first score and shared by every scorer with the same load options; with it, from
an OpenAI-compatible embeddings server (:mod:`.remote`). Either way each query is encoded once
per call (once per distinct query in ``rerank_batch``) and every document once, all documents of
all queries batched together; with ``vector_column`` the documents' stored vectors are used and
only the queries are encoded. The score is the cosine similarity (in [-1, 1]) or the inner
product (``similarity="dot"``), computed in float64 and deterministic for a given model and input.
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
from rerankit.http import mask_urls
from rerankit.local import TokenLength, Truncations

from .config import EmbeddingConfig
from .vectors import read_vectors, similarities

if TYPE_CHECKING:
    from .local import EmbeddingKey, LocalEncoder
    from .remote import RemoteEncoder

logger = logging.getLogger("rerankit.embedding")


class ApartWords(rerankit.LengthMeasure):
    """Whitespace words, the query taking none of the window (a bi-encoder encodes it apart)."""

    def reserved(self, query: str) -> int:
        return 0


class EmbeddingScorer(rerankit.Scorer):
    """Bi-encoder scoring: similarity of the query's and each document's embedding."""

    Config = EmbeddingConfig
    config: EmbeddingConfig

    def __init__(self, config: EmbeddingConfig) -> None:
        super().__init__(config)
        self._key: Optional[EmbeddingKey] = None
        self.truncations = Truncations(logger, "embedding")
        self._remote: Optional[RemoteEncoder] = None
        if config.remote:
            from .remote import RemoteEncoder  # the HTTP layer only; httpx loads on the first request

            self._remote = RemoteEncoder(config)
            self._remote.meter = self.meter  # its requests count in this reranker's usage

    def __repr__(self) -> str:
        where = f"base_url={mask_urls(self.config.base_url or '')!r}" if self.config.remote else "local"
        return f"EmbeddingScorer(model_name={self.config.model_name!r}, {where})"

    # -- the local model, and what length-aware callers need ------------------------------------
    @property
    def model(self) -> LocalEncoder:
        """The loaded local model (loads it on first access); an error with ``base_url`` set."""
        if self.config.remote:
            raise rerankit.ConfigError(
                f"embedding: base_url={self.config.base_url!r} is set, so the server holds the model"
            )
        from .local import load, load_key

        if self._key is None:
            self._key = load_key(self.config)
        return load(self._key)

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer texts are cut with (local model); None with ``base_url``."""
        return None if self.config.remote else self.model.tokenizer

    @property
    def max_length(self) -> Optional[int]:
        """The token limit each text is truncated at (local model); None with ``base_url``."""
        return None if self.config.remote else self.model.max_length

    @property
    def truncated_total(self) -> int:
        """How many queries and texts this scorer truncated so far (each call also logs a warning)."""
        return self.truncations.total

    def length_measure(self) -> rerankit.LengthMeasure:
        """For ``passages``: the local model's tokens up to its ``max_length``, less the special
        tokens and the document prompt (the query is encoded apart, so it takes no room), so that
        no passage is truncated; whitespace words with ``base_url`` (the server's tokenizer is not
        known here), all of ``max_length`` the passage's."""
        if self.config.remote:
            return ApartWords()
        model = self.model
        prompt = model.document_prompt(self.config.document_prompt)
        extra = 0
        if prompt:
            with model.lock:
                extra = len(model.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return TokenLength(model.tokenizer, model.max_length, query_in_window=False, extra=extra, lock=model.lock)

    def export(self, out: str | os.PathLike[str], *, weights: bool = False, overwrite: bool = False) -> Path:
        """Write this scorer's model as a self-contained folder ``out`` that scores without torch
        (its ``backend`` must be ``"onnx"`` or ``"openvino"``): the model's files (weights only
        with ``weights=True``) plus the exported graph; ``rerankit export`` calls this."""
        from .local import write_folder

        return write_folder(self.model, out, weights=weights, overwrite=overwrite)

    # -- what the rate limit charges -------------------------------------------------------------
    def requests_for(self, query: str, texts: Sequence[Any]) -> int:
        """With ``base_url``: the requests embedding the query and ``texts`` takes."""
        return self.requests_for_batch([query], [texts])

    def requests_for_batch(self, queries: Sequence[str], texts: Sequence[Sequence[Any]]) -> int:
        """With ``base_url``: the requests of one call, which embeds every distinct query and
        every text (none with ``vector_column``) in common batches of ``batch_size`` inputs."""
        if self._remote is None:
            return super().requests_for_batch(queries, texts)
        todo = [(q, t) for q, t in zip(queries, texts) if len(t)]
        stored = any(isinstance(t, (pa.Array, pa.ChunkedArray)) for _, t in todo)
        queries_sent = len(dict.fromkeys(q for q, _ in todo))
        texts_sent = 0 if stored else len(dict.fromkeys(t for _, docs in todo for t in docs))
        return self._remote.requests_for_inputs(queries_sent + texts_sent)

    # -- which values rows are scored by -------------------------------------------------------
    def select_inputs(self, table: pa.Table) -> Optional[Union[pa.Array, pa.ChunkedArray]]:
        """The ``vector_column`` when set (rows scored from stored vectors), else None (text)."""
        column = self.config.vector_column
        if column is None:
            return None
        if table.schema.get_field_index(column) < 0:
            raise rerankit.MissingColumnError(
                f"results have no column '{column}' (columns: {', '.join(table.column_names)}); "
                "vector_column names the column holding each document's vector: select it in the "
                "search, or unset vector_column to encode the text",
                column=column,
                argument="vector_column",
            )
        return table[column]

    # -- embeddings ----------------------------------------------------------------------------
    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """float32 ``[len(queries), dim]``: the queries as this scorer encodes them (prompt applied)."""
        if self._remote is not None:
            return self._remote.embed(self._prompted(queries, self.config.query_prompt))
        model = self.model
        vectors, cut = model.encode(list(queries), model.query_prompt(self.config.query_prompt), self._batch())
        self._report(cut, len(queries), "queries", model)
        return self._cut(vectors)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]``: the documents as this scorer encodes them (prompt
        applied): what a ``vector_column`` should hold."""
        if self._remote is not None:
            return self._remote.embed(self._prompted(texts, self.config.document_prompt))
        model = self.model
        vectors, cut = model.encode(list(texts), model.document_prompt(self.config.document_prompt), self._batch())
        self._report(cut, len(texts), "texts", model)
        return self._cut(vectors)

    def _batch(self) -> int:
        return self.config.texts_per_batch()

    def _cut(self, vectors: np.ndarray) -> np.ndarray:
        dims = self.config.dimensions
        if dims is None:
            return vectors
        if dims > vectors.shape[1]:
            raise rerankit.ConfigError(
                f"dimensions={dims} is more than model {self.config.model_name!r} makes ({vectors.shape[1]})"
            )
        return vectors[:, :dims]

    @staticmethod
    def _prompted(texts: Sequence[str], prompt: Optional[str]) -> list[str]:
        return [prompt + t for t in texts] if prompt else list(texts)

    def _report(self, count: int, of: int, what: str, model: LocalEncoder) -> None:
        self.truncations.report(
            count, of, what=what, limit="max_length", length=model.max_length, model=self.config.model_name,
            fix="raise max_length up to the model's limit, or split long texts",
        )

    # -- scoring -------------------------------------------------------------------------------
    def score(self, query: str, texts: Sequence[Any]) -> list[float]:
        return self.score_batch([query], [texts], self.config.max_concurrency)[0]

    async def ascore(self, query: str, texts: Sequence[Any]) -> list[float]:
        return (await self.ascore_batch([query], [texts], self.config.max_concurrency))[0]

    def score_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[Any]], max_concurrency: int = 16
    ) -> list[list[float]]:
        """Every distinct query encoded once, every distinct document once (a document in many
        queries' lists, as in an evaluation run, is not encoded again), then one similarity per pair."""
        if not any(len(t) for t in texts):
            return [[] for _ in texts]
        distinct, stored, flat = self._plan(queries, texts)
        if self._remote is not None:
            prompted = self._prompted(distinct, self.config.query_prompt)
            prompted += self._prompted(flat, self.config.document_prompt)
            vectors = self._remote.embed(prompted, max_concurrency)
            q_vectors, d_vectors = vectors[: len(distinct)], vectors[len(distinct) :]
        else:
            q_vectors = self.embed_queries(distinct)
            d_vectors = self.embed_documents(flat) if flat else None
        return self._similarities(queries, texts, distinct, flat, q_vectors, d_vectors, stored)

    async def ascore_batch(
        self, queries: Sequence[str], texts: Sequence[Sequence[Any]], max_concurrency: int = 16
    ) -> list[list[float]]:
        if self._remote is None:
            return await asyncio.to_thread(self.score_batch, queries, texts, max_concurrency)
        if not any(len(t) for t in texts):
            return [[] for _ in texts]
        distinct, stored, flat = self._plan(queries, texts)
        prompted = self._prompted(distinct, self.config.query_prompt)
        prompted += self._prompted(flat, self.config.document_prompt)
        vectors = await self._remote.aembed(prompted, max_concurrency)
        q_vectors, d_vectors = vectors[: len(distinct)], vectors[len(distinct) :]
        return self._similarities(queries, texts, distinct, flat, q_vectors, d_vectors, stored)

    def _plan(
        self, queries: Sequence[str], texts: Sequence[Sequence[Any]]
    ) -> tuple[list[str], Optional[list[np.ndarray]], list[str]]:
        """The distinct queries, the stored vectors per query (vector_column) or the distinct texts
        in first-seen order (:meth:`_similarities` finds each row's vector by its text)."""
        if len(queries) != len(texts):
            raise rerankit.InputError(f"{len(queries)} queries but {len(texts)} text lists; pass one list per query")
        distinct = list(dict.fromkeys(queries))
        if any(isinstance(t, (pa.Array, pa.ChunkedArray)) for t in texts):
            column = self.config.vector_column or "vector"
            return distinct, [read_vectors(t, column) for t in texts], []
        return distinct, None, list(dict.fromkeys(t for docs in texts for t in docs))

    def _similarities(
        self,
        queries: Sequence[str],
        texts: Sequence[Sequence[Any]],
        distinct: list[str],
        flat: list[str],
        q_vectors: np.ndarray,
        d_vectors: Optional[np.ndarray],
        stored: Optional[list[np.ndarray]],
    ) -> list[list[float]]:
        where = {q: i for i, q in enumerate(distinct)}
        row_of = {t: i for i, t in enumerate(flat)}
        out: list[list[float]] = []
        for query, docs in zip(queries, texts, strict=True):
            q = q_vectors[where[query]]
            if stored is not None:
                d = stored[len(out)]
                if len(d) and d.shape[1] != q.shape[0]:
                    raise rerankit.InputError(
                        f"column '{self.config.vector_column}' holds {d.shape[1]}-dimensional vectors but "
                        f"model {self.config.model_name!r} makes {q.shape[0]}-dimensional ones; fill it with "
                        "the same model's vectors (reranker.scorer.embed_documents(texts)), or unset "
                        "vector_column to encode the text"
                    )
            else:
                assert d_vectors is not None
                d = d_vectors[[row_of[t] for t in docs]]
            out.append(similarities(q, d, self.config.similarity, self.config.normalize).tolist())
        return out

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()

    async def aclose(self) -> None:
        if self._remote is not None:
            await self._remote.aclose()
