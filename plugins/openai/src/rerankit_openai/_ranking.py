"""Reading a listwise answer: an ordering of a window's labels, repaired where it can be.

The answer is ``{"ranking": ["[3]", "[1]", ...]}`` (strict schema) or the classic text
``[3] > [1] > [2]``, possibly with chatter around it. Either way the labels are read as whole
numbers (``[11]`` is eleven, never one), reasoning up to the last ``</think>`` is skipped, and in
text the longest ``>``-joined chain of labels is the ranking, so numbers in the chatter around it
are not. Then the ordering is repaired as RankGPT and rank_llm do, each repair counted:

- a label outside the window is dropped (``unknown``);
- a label given again keeps its first place (``duplicates``);
- a label never given is appended after the others, in the window's previous order (``missing``).

An answer with no label of the window at all (or a refusal, a filtered or empty answer) is
*unusable*: :func:`read_ranking` raises :class:`~rerankit.ProviderResponseError` and the caller
asks once more. A cut-off answer (``finish_reason: "length"``) is read like any other: its
labels come first and the rest are appended as missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rerankit import ProviderResponseError

from ._answers import choice_of, short

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
# A sign is read with the number, so ``[-1]`` is the unknown label -1, never ``[1]``.
_ID = r"(?:\[\s*[dD]?(-?\d+)\s*\]|(?<![\w-])[dD]?(-?\d+)\b)"
_CHAIN = re.compile(_ID + r"(?:\s*>\s*" + _ID + r")+")
_BRACKETED = re.compile(r"\[\s*[dD]?(-?\d+)\s*\]")
_NUMBER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Repairs:
    """What was repaired in listwise answers: labels dropped as ``unknown`` or as ``duplicates``,
    labels ``missing`` and appended, ``answers`` that needed any of these; windows ``asked_again``
    because the answer was unusable, and windows that ``kept`` their previous order after two
    unusable answers."""

    answers: int = 0
    unknown: int = 0
    duplicates: int = 0
    missing: int = 0
    asked_again: int = 0
    kept: int = 0

    def __add__(self, other: Repairs) -> Repairs:
        return Repairs(*(a + b for a, b in zip(self._values(), other._values())))

    def _values(self) -> tuple[int, ...]:
        return (self.answers, self.unknown, self.duplicates, self.missing, self.asked_again, self.kept)

    def __bool__(self) -> bool:
        return any(self._values())

    def describe(self) -> str:
        """One line for the log, e.g. ``2 unknown labels dropped, 3 missing labels appended``."""
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.unknown, "unknown labels dropped"),
                (self.duplicates, "repeated labels dropped"),
                (self.missing, "missing labels appended"),
                (self.asked_again, "unusable answers asked again"),
                (self.kept, "windows kept their previous order"),
            )
            if n
        ]
        return ", ".join(parts) or "nothing repaired"


def read_ranking(data: Any, count: int) -> tuple[list[int], Repairs]:
    """The window's new order (a permutation of ``range(count)``) and what was repaired."""
    choice = choice_of(data)
    content = choice["message"].get("content")
    if not isinstance(content, str) or not content.strip():
        raise ProviderResponseError("the answer has no content (choices[0].message.content is empty)")
    text = content.rsplit("</think>", 1)[-1].strip()
    numbers = _from_json(text)
    if numbers is None:
        numbers = _from_text(text)
    order: list[int] = []
    seen: set[int] = set()
    unknown = duplicates = 0
    for number in numbers:
        index = number - 1
        if not 0 <= index < count:
            unknown += 1
        elif index in seen:
            duplicates += 1
        else:
            seen.add(index)
            order.append(index)
    if not order:
        raise ProviderResponseError(
            f"no label of this window ([1]..[{count}]) in the answer; it starts {short(text)}"
        )
    missing = [i for i in range(count) if i not in seen]
    repaired = bool(unknown or duplicates or missing)
    return order + missing, Repairs(int(repaired), unknown, duplicates, len(missing))


def _from_json(text: str) -> list[int] | None:
    """The numbers of a JSON answer's labels, or None when the text is not the JSON asked for."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not text.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # a cut-off or malformed JSON answer: its labels are read as text
    if isinstance(value, dict):
        value = value.get("ranking")
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return None
    numbers = []
    for item in value:
        if isinstance(item, int):
            numbers.append(item)
            continue
        found = _NUMBER.findall(item)
        numbers.append(int(found[0]) if len(found) == 1 else 0)  # 0: not one of our labels
    return numbers


def _from_text(text: str) -> list[int]:
    """The labels of the longest ``a > b > c`` chain in the text, else every bracketed label."""
    chains = [m.group(0) for m in _CHAIN.finditer(text)]
    if chains:
        best = max(chains, key=lambda c: c.count(">"))  # the first of the longest
        return [int(a or b) for a, b in re.findall(_ID, best)]
    return [int(n) for n in _BRACKETED.findall(text)]


def windows(count: int, size: int, step: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each window, from the end of the list to the front.

    The last window of the list comes first; each next one starts ``step`` earlier, clamped at 0,
    and the one that reaches position 0 is the last. So every position, the first included, is
    in a window for any ``count`` (RankGPT's loop skips the head when ``count - size`` is not a
    multiple of ``step``), a list no longer than ``size`` is one window, and a single document
    needs none. Because consecutive windows overlap by ``size - step``, one pass leaves the best
    ``size - step`` documents at the front, in order.
    """
    if count < 2:
        return []
    out = []
    end = count
    while True:
        start = max(0, end - size)
        out.append((start, end))
        if start == 0:
            return out
        end -= step


def rank_scores(order: Sequence[int]) -> list[float]:
    """``_relevance_score`` from the final order: position ``p`` of ``n`` scores ``(n - p) / n``.

    Strictly decreasing from 1.0 (the first) to ``1/n`` (the last), in (0, 1], distinct in float32
    for any realistic ``n``; returned in the documents' input order.
    """
    n = len(order)
    scores = [0.0] * n
    for position, index in enumerate(order):
        scores[index] = (n - position) / n
    return scores


__all__ = ["Repairs", "rank_scores", "read_ranking", "windows"]
