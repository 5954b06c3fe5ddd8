"""Scoring with a loaded cross-encoder: tokenize once, sort by length, batch, put back in order.

Pairs are tokenized in one call (truncated at the model's ``max_length``), ordered by token
length so each batch pads as little as possible, scored batch by batch, and the scores are
scattered back to input order. Tokenizing once is what keeps the overhead over a bare
``CrossEncoder.predict`` small on fast GPUs, where tokenization costs as much as the model: the
same token ids give both the batches and the truncation count (a row at the length cap is
checked against its character offsets to tell a cut text from one that fits exactly).

A plain sequence-classification cross-encoder runs through its transformers model directly
(exactly what ``predict`` computes); anything else sentence-transformers supports (prompts,
causal-LM rerankers with a logit-score module) goes through ``predict`` one sorted batch at a time.

Thread safety: each loaded model has one lock, held while tokenizing and during each batch.
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

_PAD_VALUES = {"attention_mask": 0}


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
        with self.lock:
            enc = self.tokenizer(
                list(queries), list(texts), truncation="longest_first", max_length=self.max_length
            )
        ids = enc["input_ids"]
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=n)
        truncated = self._count_truncated(enc, lengths, queries, texts)
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            if self.direct:
                scores = self._forward(enc, rows, int(lengths[rows[0]]), activation)
            else:
                scores = self._predict([[queries[i], texts[i]] for i in rows], activation)
            out[rows] = scores
        return out, truncated

    # -- batches -------------------------------------------------------------------------------
    def _forward(self, enc: Any, rows: np.ndarray, width: int, activation: str) -> np.ndarray:
        features = {}
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        for name, column in enc.items():
            if name == "input_ids":
                pad = self.tokenizer.pad_token_id or 0
            elif name == "token_type_ids":
                pad = getattr(self.tokenizer, "pad_token_type_id", 0)
            else:
                pad = _PAD_VALUES.get(name, 0)
            batch = np.full((len(rows), width), pad, dtype=np.int64)
            for j, i in enumerate(rows):
                row = column[i]
                if left:
                    batch[j, width - len(row) :] = row
                else:
                    batch[j, : len(row)] = row
            features[name] = torch.from_numpy(batch).to(self.device)
        with self.lock, torch.inference_mode():
            output = self.hf(**features)
            logits = output.logits if hasattr(output, "logits") else output[0]
            logits = logits.float()
            if activation == "auto":
                fn = getattr(self.model, "activation_fn", None)
                if fn is not None:
                    logits = fn(logits)
            elif activation == "sigmoid":
                logits = torch.sigmoid(logits)
            return logits.reshape(-1).cpu().numpy()

    def _predict(self, pairs: list[list[str]], activation: str) -> np.ndarray:
        fn = {"auto": None, "raw": torch.nn.Identity(), "sigmoid": torch.nn.Sigmoid()}[activation]
        with self.lock:
            scores = self.model.predict(
                pairs, batch_size=len(pairs), activation_fn=fn, show_progress_bar=False, convert_to_numpy=True
            )
        return np.asarray(scores, dtype=np.float32).reshape(-1)

    # -- truncation ----------------------------------------------------------------------------
    def _count_truncated(
        self, enc: Any, lengths: np.ndarray, queries: Sequence[str], texts: Sequence[str]
    ) -> int:
        """How many pairs lost tokens; only rows exactly at the cap can have."""
        at_cap = np.flatnonzero(lengths >= self.max_length)
        if len(at_cap) == 0:
            return 0
        encodings = getattr(enc, "encodings", None)
        if encodings:  # fast tokenizer: character offsets say whether text was left over
            return sum(_cut(encodings[i], queries[i], texts[i]) for i in at_cap)
        # slow tokenizer: tokenize the capped rows once more with one token of headroom
        with self.lock:
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
