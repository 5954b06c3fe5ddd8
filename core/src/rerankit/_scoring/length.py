"""How a scorer measures text, for the ``passages`` option: units, where they sit, and the window.

Splitting a long document into passages that fit a scorer needs three answers from the scorer,
which :meth:`rerankit.Scorer.length_measure` gives as a :class:`LengthMeasure`:

- ``spans(texts)``: where each unit (a word, a token) of each text starts and ends, as character
  offsets, so passages are cut between units and their offsets point into the row's text;
- ``reserved(query)``: how many units of the window the query and the scorer's template (special
  tokens, markers, a prompt) take, so the passage gets the rest;
- ``window``: how many units the scorer reads at most, or None when it has no fixed limit.

The base class counts words, the query sharing the window: what a scorer without a tokenizer
gets for free. A word is a run of text between whitespace (or zero-width spaces); text that has
no spaces to count is counted by characters instead, so that it is cut too (:func:`word_spans`).
Local models count tokens with their own tokenizer (:class:`rerankit.local.TokenLength`);
a hosted scorer may return a measure in its provider's unit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Optional

import numpy as np

#: U+200B, an invisible word break (Thai, Khmer, Myanmar text; joined identifiers): it separates words.
ZERO_WIDTH_SPACE = "\u200b"
#: A word: a run of characters that are neither whitespace nor a zero-width space.
_WORD = re.compile(r"[^\s\u200b]+")
#: Scripts written without spaces between words, whose every character is one unit: CJK
#: ideographs and their punctuation, kana, Thai, Lao, Tibetan, Myanmar, Khmer.
_NO_SPACE = (
    "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f"
)
NO_SPACE_CHAR = re.compile(f"[{_NO_SPACE}]")
#: A word longer than this many characters (a URL, a hash, a long token) is counted by characters.
LONG_WORD = 24
#: Characters per unit in such a word (about one subword token of Latin-script text).
CHARS_PER_UNIT = 3


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
        return [word_spans(t) for t in texts]

    def counts(self, texts: Sequence[str]) -> list[int]:
        """How many units each text has as the scorer will read it (checks that passages fit)."""
        return [len(s) for s in self.spans(texts)]

    def reserved(self, query: str) -> int:
        """Units of the window that ``query`` and the scorer's template take (here: its words)."""
        return len(word_spans(query))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(unit={self.unit!r}, window={self.window})"


def word_spans(text: str) -> np.ndarray:
    """The ``[units, 2]`` character spans of ``text``'s words, as :class:`LengthMeasure` counts them.

    A word is a run between whitespace or zero-width spaces. Inside a word, each character of a
    script written without spaces (Chinese, Japanese, Thai, ...) is a unit of its own, and a run of
    other characters longer than :data:`LONG_WORD` counts one unit per :data:`CHARS_PER_UNIT`
    characters: so 1,000 Chinese characters or a 3,000-character token are long texts, which
    ``passages`` cuts, not one word. A unit never ends before a combining mark or around a
    zero-width joiner, so a cut never splits what reads as one character.
    """
    found: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        a, b = match.span()
        if b - a <= LONG_WORD and not NO_SPACE_CHAR.search(text, a, b):
            found.append((a, b))
        else:
            _units_of_word(text, a, b, found)
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


def _units_of_word(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    i = a
    while i < b:
        if NO_SPACE_CHAR.match(text, i):
            j = _whole_character(text, i + 1, b)
            out.append((i, j))
            i = j
            continue
        found = NO_SPACE_CHAR.search(text, i, b)
        j = found.start() if found else b
        if j - i <= LONG_WORD:
            out.append((i, j))
        else:
            k = i
            while k < j:
                end = _whole_character(text, min(k + CHARS_PER_UNIT, j), j)
                out.append((k, end))
                k = end
        i = j


def _whole_character(text: str, i: int, stop: int) -> int:
    """The first position from ``i`` (at most ``stop``) where a cut does not split a character:
    not before a combining mark, an emoji modifier or a zero-width joiner, nor after a joiner or a
    virama (which joins the consonants around it into one conjunct: Devanagari, Bengali, ...)."""
    while i < stop and (_joins(text[i]) or text[i - 1] == "\u200d" or unicodedata.combining(text[i - 1]) == 9):
        i += 1
    return i


def _joins(char: str) -> bool:
    return char == "\u200d" or "\U0001f3fb" <= char <= "\U0001f3ff" or unicodedata.category(char) in ("Mn", "Mc", "Me")


def no_space_boundary(text: str, at: int) -> bool:
    """Whether a cut at ``at`` (0 < at < len(text)) falls between two characters of which one
    belongs to a script written without spaces (a place to cut such text, as a space is)."""
    return bool(NO_SPACE_CHAR.match(text, at - 1) or NO_SPACE_CHAR.match(text, at))
