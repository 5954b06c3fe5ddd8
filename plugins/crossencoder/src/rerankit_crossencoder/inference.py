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

Thread safety: each loaded model has one lock, held while a batch is tokenized and run.
Hugging Face fast tokenizers fail ("Already borrowed") when two threads use one tokenizer at
once, and one forward pass already uses every intra-op CPU thread (or the GPU's one stream), so
serializing per batch costs no throughput while letting concurrent callers interleave.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rerankit import ConfigError

from .loading import LoadKey


class LoadedModel:
    """A sentence-transformers ``CrossEncoder`` plus what scoring needs: lock, limits, fast path."""

    def __init__(self, model: Any, key: LoadKey) -> None:
        self.model = model
        self.key = key
        self.lock = threading.Lock()
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

    # -- public --------------------------------------------------------------------------------
    def score(
        self, queries: Sequence[str], texts: Sequence[str], batch_size: int, activation: str
    ) -> tuple[np.ndarray, int]:
        """Scores of the ``(queries[i], texts[i])`` pairs in input order, and how many were truncated."""
        n = len(texts)
        out = np.empty(n, dtype=np.float32)
        if n == 0:
            return out, 0
        lengths = np.fromiter((len(q) + len(t) for q, t in zip(queries, texts, strict=True)), np.int64, n)
        order = np.argsort(-lengths, kind="stable")
        truncated = 0
        parts = []
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            batch_queries = [queries[i] for i in rows]
            batch_texts = [texts[i] for i in rows]
            if self.direct:
                scores, cut = self._forward(batch_queries, batch_texts, activation)
            else:
                scores, cut = self._predict(batch_queries, batch_texts, activation)
            parts.append(scores)
            truncated += cut
        # one device-to-host copy at the end: a GPU never waits for the host between batches
        out[order] = torch.cat(parts).cpu().numpy() if self.direct else np.concatenate(parts)
        return out, truncated

    # -- batches -------------------------------------------------------------------------------
    def _tokenize(self, queries: list[str], texts: list[str], tensors: bool) -> Any:
        return self.tokenizer(
            queries,
            texts,
            truncation="longest_first",
            max_length=self.max_length,
            padding=tensors,
            return_tensors="pt" if tensors else None,
        )

    def _forward(self, queries: list[str], texts: list[str], activation: str) -> tuple[torch.Tensor, int]:
        with self.lock, torch.inference_mode():
            enc = self._tokenize(queries, texts, tensors=True)
            cut = self._count_truncated(enc, queries, texts)
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

    # -- truncation ----------------------------------------------------------------------------
    def _count_truncated(self, enc: Any, queries: Sequence[str], texts: Sequence[str]) -> int:
        """How many pairs lost tokens; only rows exactly at the cap can have. Call with the lock held."""
        mask = enc.get("attention_mask")
        if mask is not None:
            lengths = np.asarray([int(sum(row)) for row in mask] if isinstance(mask, list) else mask.sum(1))
        else:
            lengths = np.asarray([len(row) for row in enc["input_ids"]])
        at_cap = np.flatnonzero(lengths >= self.max_length)
        if len(at_cap) == 0:
            return 0
        encodings = getattr(enc, "encodings", None)
        if encodings:  # fast tokenizer: character offsets say whether text was left over
            return sum(_cut(encodings[i], queries[i], texts[i]) for i in at_cap)
        # slow tokenizer: tokenize the capped rows once more with one token of headroom
        again = self.tokenizer(
            [queries[i] for i in at_cap],
            [texts[i] for i in at_cap],
            truncation="longest_first",
            max_length=self.max_length + 1,
        )
        return sum(len(row) > self.max_length for row in again["input_ids"])


def _cut(encoding: Any, query: str, text: str) -> bool:
    """True if either side of the pair has content past its last kept token."""
    ends = [0, 0]
    for seq, (_start, end) in zip(encoding.sequence_ids, encoding.offsets, strict=True):
        if seq is not None and end > ends[seq]:
            ends[seq] = end
    return _left_over(query[ends[0] :]) or _left_over(text[ends[1] :])


def _left_over(rest: str) -> bool:
    # whitespace and control/format characters are dropped by tokenizers, so they are not content
    return any(not (c.isspace() or unicodedata.category(c).startswith("C")) for c in rest)


def _max_length(model: Any, tokenizer: Any, hf: Any) -> int:
    """The token limit the model truncates at (sentence-transformers caps it at the positions)."""
    for value in (getattr(model, "max_seq_length", None), getattr(tokenizer, "model_max_length", None)):
        if isinstance(value, int) and 0 < value < 1_000_000:
            return value
    positions = getattr(getattr(hf, "config", None), "max_position_embeddings", None)
    return positions if isinstance(positions, int) and positions > 0 else 512
