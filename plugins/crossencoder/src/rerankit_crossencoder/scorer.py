"""The ``crossencoder`` scorer: query-text pairs through a sentence-transformers CrossEncoder.

The model is loaded on the first score, not when the reranker is built, and is shared by every
scorer with the same load options (see :mod:`.loading`). Pairs longer than the model's token
limit are truncated by the model, as in sentence-transformers and LanceDB, but never silently:
each call that truncates logs one warning with the count on the ``rerankit.crossencoder``
logger (a child of ``rerankit``), and :attr:`CrossEncoderScorer.truncated_total` keeps the tally.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import rerankit
from rerankit.local import TokenLength, Truncations

from .config import CrossEncoderConfig
from .loading import CrossEncoderKey, load, load_key

if TYPE_CHECKING:
    from .generative import GenerativeModel
    from .inference import LoadedModel

logger = logging.getLogger("rerankit.crossencoder")


class CrossEncoderScorer(rerankit.Scorer):
    """Scores each text by a cross-encoder's relevance logit for ``(query, text)``."""

    Config = CrossEncoderConfig
    config: CrossEncoderConfig

    def __init__(self, config: CrossEncoderConfig) -> None:
        super().__init__(config)
        self._key: CrossEncoderKey | None = None
        self.truncations = Truncations(logger, "crossencoder")

    @property
    def truncated_total(self) -> int:
        """How many query-text pairs this scorer truncated so far (each call also logs a warning)."""
        return self.truncations.total

    @property
    def model(self) -> LoadedModel | GenerativeModel:
        """The loaded model (loads it on first access): a cross-encoder, or an LLM reranker with
        its recipe (:attr:`recipe`)."""
        if self._key is None:
            self._key = load_key(self.config)
        model = load(self._key)
        if self.config.instruction is not None and not model.takes_instruction:
            recipe = getattr(model, "recipe", None)
            raise rerankit.ConfigError(
                f"instruction is read by the recipes qwen3 and mxbai-v2, but model_name="
                f"{self.config.model_name!r} is scored "
                + (f"by recipe={recipe.name!r}" if recipe else "as a cross-encoder")
                + "; drop instruction"
            )
        return model

    def export(self, out: str | os.PathLike[str], *, weights: bool = False, overwrite: bool = False) -> Path:
        """Write this scorer's model as a self-contained folder ``out`` that scores without torch
        (its ``backend`` must be ``"onnx"`` or ``"openvino"``): the model's files (weights only
        with ``weights=True``) plus the exported graph; ``rerankit export`` calls this."""
        from .loading import write_folder

        return write_folder(self.model, out, weights=weights, overwrite=overwrite)

    @property
    def recipe(self) -> str:
        """The recipe that scores this model (loads it): 'qwen3', 'mxbai-v2', 'bge-gemma',
        'monot5', or 'sequence-classification' for a cross-encoder."""
        recipe = getattr(self.model, "recipe", None)
        return recipe.name if recipe is not None else "sequence-classification"

    def document_room(self, query: str) -> int | None:
        """How many tokens of document text fit beside ``query`` in one model input (template,
        query and special tokens taken out); None where the model's template is not known
        (a sentence-transformers model with its own chat template)."""
        return self.model.document_room(query, self.config.instruction)

    def length_measure(self) -> TokenLength:
        """Tokens of this model, the query and the pair's special tokens sharing ``max_length``,
        so that with ``passages`` every (query, passage) pair fits the model untruncated. For an
        LLM recipe the query's share is what its prompt template and query take
        (:meth:`document_room`)."""
        model = self.model
        if getattr(model, "recipe", None) is not None:
            return PromptLength(model, self.config.instruction)
        return TokenLength(model.tokenizer, model.max_length, lock=model.lock)

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        return self._score_pairs([query] * len(texts), texts)

    def score_batch(
        self,
        queries: Sequence[str],
        texts: Sequence[Sequence[str]],
        max_concurrency: int = 8,
    ) -> list[Sequence[float]]:
        """All queries' pairs sorted and batched together (fuller batches), then split per query."""
        flat_queries = [q for q, docs in zip(queries, texts, strict=True) for _ in docs]
        flat_texts = [t for docs in texts for t in docs]
        scores = self._score_pairs(flat_queries, flat_texts)
        bounds = np.cumsum([0, *(len(docs) for docs in texts)])
        return [scores[bounds[i] : bounds[i + 1]] for i in range(len(texts))]

    async def ascore_batch(
        self,
        queries: Sequence[str],
        texts: Sequence[Sequence[str]],
        max_concurrency: int = 8,
    ) -> list[Sequence[float]]:
        return await asyncio.to_thread(self.score_batch, queries, texts, max_concurrency)

    def _score_pairs(self, queries: Sequence[str], texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        model = self.model
        scores, truncated = model.score(
            queries, texts, self.config.batch_size, self.config.activation, self.config.instruction
        )
        self.truncations.report(
            truncated,
            len(texts),
            what="query-text pairs",
            limit="max_length",
            length=model.max_length,
            model=self.config.model_name,
            fix="raise max_length up to the model's limit or split long texts",
        )
        return scores.tolist()


class PromptLength(TokenLength):
    """An LLM recipe's tokens: the prompt (prefix, instruction, query, labels, suffix) reserves
    what :meth:`GenerativeModel.document_room` does not leave to the document."""

    def __init__(self, model: GenerativeModel, instruction: str | None) -> None:
        super().__init__(model.tokenizer, model.max_length, lock=model.lock)
        self._model = model
        self._instruction = instruction

    def reserved(self, query: str) -> int:
        return self.window - self._model.document_room(query, self._instruction)
