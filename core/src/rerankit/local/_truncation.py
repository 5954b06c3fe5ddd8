"""Truncation is never silent: count the inputs a tokenizer cut, and say so once per call.

:func:`count_truncated` reads the count off the encoding that feeds the model, so it costs no
second tokenization with a fast tokenizer: only rows exactly at the length cap can have lost
tokens, and their character offsets tell a cut text from one that fits exactly.
:class:`Truncations` keeps a scorer's running total and logs one ``WARNING`` per call that
truncated, on the plugin's logger (logging, not ``warnings.warn``: it shows once per call, goes
wherever the application's logging goes and never becomes an exception under ``-W error``).
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np


def count_truncated(
    encoding: Any,
    max_length: int,
    texts: Sequence[str],
    text_pairs: Optional[Sequence[str]] = None,
    *,
    tokenizer: Any = None,
) -> int:
    """How many rows of a Hugging Face tokenizer call lost tokens to truncation at ``max_length``.

    ``encoding`` is what ``tokenizer(texts, text_pairs, truncation=..., max_length=max_length)``
    returned (tensors or lists, padded or not); ``texts``/``text_pairs`` are what it was given.
    A slow tokenizer has no offsets: pass ``tokenizer`` and the capped rows are tokenized once
    more with one token of headroom.
    """
    mask = encoding.get("attention_mask")
    if mask is not None:
        lengths = np.asarray([int(sum(row)) for row in mask] if isinstance(mask, list) else mask.sum(1))
    else:
        lengths = np.asarray([len(row) for row in encoding["input_ids"]])
    at_cap = np.flatnonzero(lengths >= max_length)
    if len(at_cap) == 0:
        return 0
    encodings = getattr(encoding, "encodings", None)
    if encodings:  # fast tokenizer: character offsets say whether text was left over
        return sum(
            _cut(encodings[i], texts[i], None if text_pairs is None else text_pairs[i]) for i in at_cap
        )
    if tokenizer is None:
        raise ValueError("count_truncated needs tokenizer= for a slow tokenizer's encoding (no offsets)")
    first = [texts[i] for i in at_cap]
    second = None if text_pairs is None else [text_pairs[i] for i in at_cap]
    again = tokenizer(first, second, truncation="longest_first", max_length=max_length + 1)
    return sum(len(row) > max_length for row in again["input_ids"])


def _cut(encoding: Any, text: str, pair: Optional[str]) -> bool:
    """True if either text of the row has content past its last kept token."""
    ends = [0, 0]
    for seq, (_start, end) in zip(encoding.sequence_ids, encoding.offsets, strict=True):
        if seq is not None and end > ends[seq]:
            ends[seq] = end
    return _left_over(text[ends[0] :]) or (pair is not None and _left_over(pair[ends[1] :]))


def _left_over(rest: str) -> bool:
    # whitespace and control/format characters are dropped by tokenizers, so they are not content
    return any(not (c.isspace() or unicodedata.category(c).startswith("C")) for c in rest)


class Truncations:
    """A scorer's truncation tally (``total``) and its one-line warning per call that truncated."""

    def __init__(self, logger: logging.Logger, reranker: str) -> None:
        self.logger = logger
        self.reranker = reranker
        self.total = 0
        self._lock = threading.Lock()

    def report(
        self,
        count: int,
        of: int,
        *,
        what: str,
        limit: str,
        length: int,
        model: str,
        fix: str,
        passages: bool = True,
    ) -> None:
        """Add ``count`` to the total and, if it is not 0, log ``count of `of` <what> were longer
        than <limit>=<length> tokens and were truncated (model <model>); <fix>``, followed by a
        pointer to the ``passages`` option when splitting the texts would have avoided the cut
        (``passages=False`` for what passages do not split, such as queries)."""
        if not count:
            return
        with self._lock:
            self.total += count
        if passages:
            fix += "; or set passages=True to score long texts in passages that fit, not cut"
        self.logger.warning(
            "%s: %d of %d %s were longer than %s=%d tokens and were truncated (model %s); %s",
            self.reranker,
            count,
            of,
            what,
            limit,
            length,
            model,
            fix,
        )
