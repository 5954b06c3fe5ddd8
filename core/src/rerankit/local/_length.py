"""Length in a model's own tokens, for the ``passages`` option: one measure for every local model.

:class:`TokenLength` wraps a Hugging Face tokenizer. Each text is tokenized once without special
tokens; a fast tokenizer's character offsets say where each token sits, so passages are cut
between tokens, at spaces, and their offsets point into the row's text. A slow tokenizer (no
offsets) is handled unit by unit, the units :class:`rerankit.LengthMeasure` counts as words (a
word; a character of a script written without spaces; a few characters of a run too long to be
one word): each unit's span repeated once per token it makes, so a huge word or a long run of
Chinese is cut inside like any other text, never inside what reads as one character. What the
query and the template take is counted the same way: the query's tokens (when the model reads
query and text together, as a cross-encoder does) plus the special tokens the tokenizer adds
around the pair, plus any markers the plugin inserts itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from .._scoring.length import LengthMeasure, word_spans


class TokenLength(LengthMeasure):
    """A local model's tokens as the unit of ``passages``.

    ``window``: the model's token limit for what it reads at once (``max_length``).
    ``query_in_window``: True when the query is read in the same sequence as the text (a
    cross-encoder, an LLM prompt); False when the text is encoded alone (ColBERT documents).
    ``extra``: tokens the plugin adds itself beyond the tokenizer's special tokens (a marker, a
    prompt template). ``lock``: held while tokenizing (fast tokenizers fail under two threads),
    usually the model's lock. ``prepare``: the plugin's own text preparation (lower-casing, ...),
    applied before the check that each passage fits.
    """

    unit = "tokens"

    def __init__(
        self,
        tokenizer: Any,
        window: int,
        *,
        query_in_window: bool = True,
        extra: int = 0,
        lock: Any = None,
        prepare: Optional[Callable[[list[str]], list[str]]] = None,
    ) -> None:
        super().__init__(window)
        self.tokenizer = tokenizer
        self.query_in_window = query_in_window
        self.extra = extra
        self._lock = lock if lock is not None else contextlib.nullcontext()
        self._prepare = prepare

    def spans(self, texts: Sequence[str]) -> list[np.ndarray]:
        texts = list(texts)
        if not texts:
            return []
        if getattr(self.tokenizer, "is_fast", False):
            with self._lock:
                enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
            return [np.asarray(o, dtype=np.int64).reshape(-1, 2) for o in enc["offset_mapping"]]
        return [self._unit_spans(t) for t in texts]

    def _unit_spans(self, text: str) -> np.ndarray:
        out: list[tuple[int, int]] = []
        with self._lock:
            for a, b in word_spans(text).tolist():
                out.extend([(a, b)] * max(1, len(self.tokenizer.tokenize(text[a:b]))))
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)

    def counts(self, texts: Sequence[str]) -> list[int]:
        texts = list(texts)
        if not texts:
            return []
        if self._prepare is not None:
            texts = self._prepare(texts)
        with self._lock:
            enc = self.tokenizer(texts, add_special_tokens=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]

    def reserved(self, query: str) -> int:
        with self._lock:
            special = self.tokenizer.num_special_tokens_to_add(pair=self.query_in_window)
        if not self.query_in_window:
            return special + self.extra
        (count,) = self.counts([query])
        return count + special + self.extra
