"""Cutting one text into passages of at most ``room`` units, at the best boundary near each cut.

The text arrives with its units' character spans (words or tokens, see
:class:`rerankit.LengthMeasure`). A text of at most ``room`` units is one passage, the text
unchanged. A longer one is cut into windows of ``room`` units; each cut moves back to the
strongest boundary in the last quarter of its window (a paragraph break, then a sentence end,
then any space between words, then a place between two characters of a script written without
spaces) and is never made inside a word, unless one word alone is longer than a window.
Consecutive passages share up to ``overlap`` units, the next one starting at a word.
Passages are character ranges into the text, with surrounding whitespace left out.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..length import ZERO_WIDTH_SPACE, no_space_boundary

#: Cut strengths, weakest first: none (inside a word), between two characters of a script written
#: without spaces (Chinese, Thai, ...), between words, after a sentence, at a paragraph break.
NONE, CHARACTER, WORD, SENTENCE, PARAGRAPH = 0, 1, 2, 3, 4
_SENTENCE_END = ".!?\u3002\uff01\uff1f"
_CLOSERS = "\"')]}\u201d\u2019\u00bb"


class Splitter:
    """The passages of one text; ``strength(k)`` rates a cut just before unit ``k``."""

    def __init__(self, text: str, spans: np.ndarray) -> None:
        self.text = text
        self.starts = spans[:, 0].tolist() if len(spans) else []
        self.ends = spans[:, 1].tolist() if len(spans) else []
        self._strength: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.starts)

    def strength(self, k: int) -> int:
        """How good a place for a cut the gap before unit ``k`` (0 < k < units) is."""
        known = self._strength.get(k)
        if known is None:
            known = self._strength[k] = self._rate(k)
        return known

    def _rate(self, k: int) -> int:
        text, prev_end, start = self.text, self.ends[k - 1], self.starts[k]
        gap = text[prev_end:start] if start > prev_end else ""
        # a unit may carry its leading space (sentencepiece, byte-level BPE): count it as gap
        lead = start
        while lead < len(text) and lead < self.ends[k] and text[lead].isspace():
            lead += 1
        gap += text[start:lead]
        spaced = any(c.isspace() or c == ZERO_WIDTH_SPACE for c in gap)
        if not spaced and not (0 < start < len(text) and no_space_boundary(text, start)):
            return NONE
        if "\n" in gap:
            return PARAGRAPH
        tail = text[:prev_end].rstrip(_CLOSERS)
        if tail and tail[-1] in _SENTENCE_END:
            return SENTENCE
        return WORD if spaced else CHARACTER

    def units(self, room: int, overlap: int) -> list[tuple[int, int]]:
        """Unit ranges ``[first, last)`` of each passage, in order; ``overlap`` < ``room``."""
        n = len(self)
        out: list[tuple[int, int]] = []
        start = 0
        while True:
            end = start + room
            if end >= n:
                out.append((start, n))
                return out
            cut = self._cut(start, end, room)
            out.append((start, cut))
            start = self._next_start(start, cut, overlap)

    def _cut(self, start: int, end: int, room: int) -> int:
        """Where the passage starting at ``start`` ends: the strongest boundary in the last quarter
        of the window (latest among equals), else the last word boundary, else ``end``."""
        tail = max(start + 1, end - max(1, room // 4))
        best, best_strength = end, NONE
        for k in range(end, tail - 1, -1):
            s = self.strength(k)
            if s > best_strength:
                best, best_strength = k, s
                if s == PARAGRAPH:
                    break
        if best_strength > NONE:
            return best
        for k in range(tail - 1, start, -1):
            if self.strength(k) > NONE:
                return k
        return end  # one word longer than the window: the only cut made inside a word

    def _next_start(self, start: int, cut: int, overlap: int) -> int:
        if overlap <= 0:
            return cut
        for k in range(max(cut - overlap, start + 1), cut):
            if self.strength(k) > NONE:
                return k
        return cut

    def chars(self, first: int, last: int) -> tuple[int, int]:
        """Character range of units ``[first, last)``, without surrounding whitespace."""
        a, b = self.starts[first], self.ends[last - 1]
        while a < b and self.text[a].isspace():
            a += 1
        while b > a and self.text[b - 1].isspace():
            b -= 1
        return a, b


def split(
    text: str, spans: np.ndarray, room: int, overlap: int, limit: Optional[int] = None
) -> tuple[list[tuple[int, int]], int]:
    """Character ranges of ``text``'s passages (at most ``limit``) and how many more there were.

    ``spans`` are the text's units (``[units, 2]`` character offsets); a text of at most ``room``
    units, or of none (empty, whitespace), is one passage: ``(0, len(text))``.
    """
    if len(spans) <= room:
        return [(0, len(text))], 0
    splitter = Splitter(text, spans)
    ranges = [splitter.chars(a, b) for a, b in splitter.units(room, min(overlap, room // 2))]
    if limit is not None and len(ranges) > limit:
        return ranges[:limit], len(ranges) - limit
    return ranges, 0
