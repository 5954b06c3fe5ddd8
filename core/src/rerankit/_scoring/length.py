"""How a scorer measures text, for the ``passages`` option: units, where they sit, and the window.

Splitting a long document into passages that fit a scorer needs three answers from the scorer,
which :meth:`rerankit.Scorer.length_measure` gives as a :class:`LengthMeasure`:

- ``spans(texts)``: where each unit (a word, a token) of each text starts and ends, as character
  offsets, so passages are cut between units and their offsets point into the row's text;
- ``reserved(query)``: how many units of the window the query and the scorer's template (special
  tokens, markers, a prompt) take, so the passage gets the rest;
- ``window``: how many units the scorer reads at most, or None when it has no fixed limit.

The base class counts whitespace-separated words, the query sharing the window: what a scorer
without a tokenizer gets for free. Local models count tokens with their own tokenizer
(:class:`rerankit.local.TokenLength`); a hosted scorer may return a measure in its provider's unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

import numpy as np

_WORD = re.compile(r"\S+")


class LengthMeasure:
    """Whitespace-separated words; the query shares the window. Subclass it for another unit.

    ``unit`` names the unit in messages ("words", "tokens"); ``window`` is the scorer's limit for
    a query and a text together, in that unit, or None when it has none (then ``passages`` needs
    its own ``max_length``, or uses 256).
    """

    unit: str = "words"

    def __init__(self, window: Optional[int] = None) -> None:
        self.window = window

    def spans(self, texts: Sequence[str]) -> list[np.ndarray]:
        """For each text, an int array ``[units, 2]`` of each unit's (start, end) character offsets,
        in text order. Units may share a span (the tokens of one word): cuts fall only where the
        text has whitespace between two units."""
        return [_word_spans(t) for t in texts]

    def counts(self, texts: Sequence[str]) -> list[int]:
        """How many units each text has as the scorer will read it (checks that passages fit)."""
        return [len(s) for s in self.spans(texts)]

    def reserved(self, query: str) -> int:
        """Units of the window that ``query`` and the scorer's template take (here: its words)."""
        return len(_WORD.findall(query))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(unit={self.unit!r}, window={self.window})"


def _word_spans(text: str) -> np.ndarray:
    found = [m.span() for m in _WORD.finditer(text)]
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)
