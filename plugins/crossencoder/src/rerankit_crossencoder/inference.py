"""Scoring with a loaded cross-encoder: sort by length, batch, put the scores back in order.

Pairs are ordered by length (characters, a close proxy for tokens that costs nothing to compute)
so each batch pads as little as possible; each batch is tokenized (truncated at the model's
``max_length``), scored, and its scores stay on the device until the last batch is done, so on a
GPU the tokenizing of one batch overlaps the model running on the previous one, as in
sentence-transformers' own ``predict``. The token ids that feed the model also give the
truncation count: a row at the length cap is checked against its character offsets to tell a cut
text from one that fits exactly, so counting costs no second tokenization.

A plain sequence-classification cross-encoder runs through its transformers model directly
(exactly what ``predict`` computes); anything else sentence-transformers supports (prompts,
causal-LM rerankers with a logit-score module) goes through ``predict`` one sorted batch at a time.

The ordering, the restoring and the truncation count are rerankit's shared local-model layer
(:mod:`rerankit.local`). Thread safety: each loaded model has one lock (the cache's lock for its
key), held while a batch is tokenized and run. Hugging Face fast tokenizers fail ("Already
borrowed") when two threads use one tokenizer at once, and one forward pass already uses every
intra-op CPU thread (or the GPU's one stream), so serializing per batch costs no throughput while
letting concurrent callers interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rerankit import ConfigError
from rerankit.local import (
    Export,
    LengthSortedBatches,
    LoadKey,
    Runtime,
    count_truncated,
    models,
    open_runtime,
    shipped_file,
)


class LoadedModel:
    """A sentence-transformers ``CrossEncoder`` plus what scoring needs: lock, limits, fast path."""

    #: Cross-encoders take no instruction (their prompt, if any, is saved with them).
    takes_instruction = False

    def __init__(self, model: Any, key: LoadKey) -> None:
        self.model = model
        self.key = key
        self.lock = models.lock(key)
        self.tokenizer = model.tokenizer
        self.hf = getattr(model, "model", None)
        self.max_length = _max_length(model, self.tokenizer, self.hf)
        children = list(model.children()) if isinstance(model, torch.nn.Module) else []
        self.direct = (
            len(children) == 1
            and self.hf is not None
            and getattr(model, "default_prompt_name", None) is None
            and hasattr(self.hf, "config")
        )
        labels = self.hf.config.num_labels if self.direct else getattr(model, "num_labels", 1)
        if labels != 1:
            raise ConfigError(
                f"model_name={key.model_name!r} has {labels} output labels; the crossencoder reranker "
                "needs a relevance cross-encoder with a single logit (num_labels=1)"
            )
        if isinstance(self.hf, torch.nn.Module):
            self.hf.eval()
        self.device = torch.device(str(getattr(model, "device", key.device)))
        #: The onnx or openvino runtime that runs the forward pass; None on torch.
        self.runtime: Runtime | None = None
        if key.backend != "torch":
            if not self.direct:
                raise ConfigError(
                    f"backend='{key.backend}' scores sequence-classification cross-encoders; model_name="
                    f"{key.model_name!r} is scored through sentence-transformers' predict: use backend='torch'"
                )
            names = tuple(self.tokenizer.model_input_names)
            export = Export(lambda: _Logits(self.hf, names), names, ("logits",), "sequence-classification")
            self.runtime = open_runtime(key, export, shipped=shipped_file(key.model_name, key.backend))

    # -- public --------------------------------------------------------------------------------
    def score(
        self,
        queries: Sequence[str],
        texts: Sequence[str],
        batch_size: int,
        activation: str,
        instruction: str | None = None,
    ) -> tuple[np.ndarray, int]:
        """Scores of the ``(queries[i], texts[i])`` pairs in input order, and how many were truncated."""
        n = len(texts)
        if n == 0:
            return np.empty(0, dtype=np.float32), 0
        lengths = np.fromiter((len(q) + len(t) for q, t in zip(queries, texts, strict=True)), np.int64, n)
        batches = LengthSortedBatches(lengths, batch_size)
        truncated = 0
        parts = []
        for rows in batches:
            batch_queries = [queries[i] for i in rows]
            batch_texts = [texts[i] for i in rows]
            if self.direct:
                scores, cut = self._forward(batch_queries, batch_texts, activation)
            else:
                scores, cut = self._predict(batch_queries, batch_texts, activation)
            parts.append(scores)
            truncated += cut
        # one device-to-host copy at the end: a GPU never waits for the host between batches
        scores = torch.cat(parts).cpu().numpy() if self.direct else np.concatenate(parts)
        return batches.restore(scores).astype(np.float32, copy=False), truncated

    def document_room(self, query: str, instruction: str | None = None) -> int | None:
        """Tokens left for a text beside ``query`` (the pair's special tokens and the query taken
        out); None for a model whose prompt sentence-transformers builds (a chat template)."""
        if not self.direct:
            return None
        with self.lock:
            used = len(self.tokenizer(query, "")["input_ids"])
        return max(0, self.max_length - used)

    # -- batches -------------------------------------------------------------------------------
    def _tokenize(self, queries: list[str], texts: list[str], tensors: bool) -> Any:
        return self.tokenizer(
            queries,
            texts,
            truncation="longest_first",
            max_length=self.max_length,
            padding=tensors,
            return_tensors=("np" if self.runtime is not None else "pt") if tensors else None,
        )

    def _forward(self, queries: list[str], texts: list[str], activation: str) -> tuple[torch.Tensor, int]:
        with self.lock, torch.inference_mode():
            enc = self._tokenize(queries, texts, tensors=True)
            cut = self._count_truncated(enc, queries, texts)
            if self.runtime is not None:  # only the forward pass changes
                logits = torch.from_numpy(self.runtime.run(enc, limit=self.max_length)[0])
            else:
                features = {name: value.to(self.device) for name, value in enc.items()}
                output = self.hf(**features)
                logits = output.logits if hasattr(output, "logits") else output[0]
            logits = logits.float()
            if activation == "auto":
                fn = getattr(self.model, "activation_fn", None)
                if fn is not None:
                    logits = fn(logits)
            elif activation == "sigmoid":
                logits = torch.sigmoid(logits)
            return logits.reshape(-1), cut

    def _predict(self, queries: list[str], texts: list[str], activation: str) -> tuple[np.ndarray, int]:
        fn = {"auto": None, "raw": torch.nn.Identity(), "sigmoid": torch.nn.Sigmoid()}[activation]
        pairs = [[q, t] for q, t in zip(queries, texts, strict=True)]
        with self.lock:
            cut = self._count_truncated(self._tokenize(queries, texts, tensors=False), queries, texts)
            scores = self.model.predict(
                pairs, batch_size=len(pairs), activation_fn=fn, show_progress_bar=False, convert_to_numpy=True
            )
        return np.asarray(scores, dtype=np.float32).reshape(-1), cut

    # -- truncation ---------------------------------------------------------------------------
    def _count_truncated(self, enc: Any, queries: Sequence[str], texts: Sequence[str]) -> int:
        """How many pairs lost tokens (see :func:`rerankit.local.count_truncated`); lock held."""
        return count_truncated(enc, self.max_length, queries, texts, tokenizer=self.tokenizer)


class _Logits(torch.nn.Module):
    """The classifier as an exportable module: the tokenizer's inputs, positionally, to logits."""

    def __init__(self, hf: torch.nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.hf = hf
        self.names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.hf(**dict(zip(self.names, inputs, strict=True)))
        return output.logits if hasattr(output, "logits") else output[0]


def _max_length(model: Any, tokenizer: Any, hf: Any) -> int:
    """The token limit the model truncates at (sentence-transformers caps it at the positions)."""
    for value in (getattr(model, "max_seq_length", None), getattr(tokenizer, "model_max_length", None)):
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    positions = getattr(getattr(hf, "config", None), "max_position_embeddings", None)
    return positions if isinstance(positions, int) and positions > 0 else 512
