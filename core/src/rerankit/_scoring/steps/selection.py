"""Which of a row's passages the scorer sees when the row has more than ``max_passages``.

Capping the passages a row costs is what keeps ``passages`` affordable; which passages fill the
cap decides what the cap costs in quality. ``head`` keeps the first ones (the part of a long
document after them is never read); ``spread`` keeps passages spread evenly over the whole text,
the first and the last included; ``lexical`` ranks every passage of the row by BM25 against the
query's terms, computed over the row's own passages (a cheap first pass that reads the whole
text: the intra-document cascade of IDCM, Hofstätter et al., SIGIR 2021), and keeps the best.
Each returns passage indices in text order, so aggregates and offsets read them as before.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from ..length import NO_SPACE_CHAR

Select = Literal["head", "spread", "lexical"]
SELECTS: tuple[str, ...] = ("head", "spread", "lexical")

#: A term: a character of a script written without spaces, or a run of other letters and digits.
_TERM = re.compile(f"{NO_SPACE_CHAR.pattern}|[^\\W_{NO_SPACE_CHAR.pattern[1:-1]}]+")
#: BM25's parameters, at their usual values.
K1, B = 1.2, 0.75


def terms(text: str) -> list[str]:
    """``text``'s terms, case-folded."""
    return _TERM.findall(text.casefold())


def select(how: str, query: str, passages: Sequence[str], limit: int) -> list[int]:
    """Indices of the ``limit`` passages to score (all of them when there are no more), in order."""
    n = len(passages)
    if n <= limit:
        return list(range(n))
    if how == "spread":
        return spread(n, limit)
    if how == "lexical":
        return lexical(query, passages, limit)
    return list(range(limit))


def spread(n: int, limit: int) -> list[int]:
    """``limit`` of ``n`` indices evenly spaced from the first to the last (the first alone for 1)."""
    if limit == 1:
        return [0]
    return [round(i * (n - 1) / (limit - 1)) for i in range(limit)]


def lexical(query: str, passages: Sequence[str], limit: int) -> list[int]:
    """The ``limit`` passages with the highest BM25 score for ``query``'s terms, the statistics
    (document frequency, average length) taken over these passages; ties go to the earlier one."""
    wanted = set(terms(query))
    counts = []
    lengths = []
    for passage in passages:
        found = terms(passage)
        lengths.append(len(found))
        counts.append(Counter(t for t in found if t in wanted))
    n = len(passages)
    average = max(sum(lengths) / n, 1.0)
    frequency = Counter(t for c in counts for t in c)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
    scores = []
    for count, length in zip(counts, lengths):
        norm = K1 * (1 - B + B * length / average)
        scores.append(sum(idf[t] * tf * (K1 + 1) / (tf + norm) for t, tf in count.items()))
    best = sorted(range(n), key=lambda i: (-scores[i], i))[:limit]
    return sorted(best)
