"""Reading and checking a provider's ranking: ``(index, score)`` pairs, each document exactly once.

:func:`ranked` pulls the pairs out of the usual answer shapes; :func:`check_ranking` is applied by
:class:`~rerankit.http.HTTPScorer` to every answer, so a wrong index, a repeated or missing row or a
NaN score is a :class:`~rerankit.ProviderResponseError` and never a misaligned table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import numpy as np

from .._errors import ProviderResponseError


def ranked(
    data: Any,
    list_key: Optional[str] = "results",
    *,
    index_key: str = "index",
    score_key: str = "relevance_score",
) -> list[tuple[Any, Any]]:
    """``(index, score)`` from ``data[list_key]`` (or from ``data`` itself, a bare list, when None).

    Covers Cohere/Jina/Infinity (``results`` + ``relevance_score``), Voyage (``data``) and
    text-embeddings-inference (a bare list with ``score``). Values are checked by :func:`check_ranking`.
    """
    if list_key is None:
        items = data
        where = "the answer"
    else:
        if not isinstance(data, Mapping):
            raise ProviderResponseError(
                f"expected a JSON object with '{list_key}', got {type(data).__name__}"
            )
        if list_key not in data:
            raise ProviderResponseError(
                f"the answer has no '{list_key}' list (keys: {', '.join(map(str, data))})"
            )
        items = data[list_key]
        where = f"'{list_key}'"
    if not isinstance(items, list):
        raise ProviderResponseError(f"{where} must be a list of results, got {type(items).__name__}")
    pairs = []
    for pos, item in enumerate(items):
        if not isinstance(item, Mapping) or index_key not in item or score_key not in item:
            raise ProviderResponseError(
                f"result {pos} of {where} lacks '{index_key}' or '{score_key}': {str(item)[:80]}"
            )
        pairs.append((item[index_key], item[score_key]))
    return pairs


def _as_index(value: Any, pos: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
        isinstance(value, float) and not value.is_integer()
    ):
        raise ProviderResponseError(f"result {pos} has index {value!r}, which is not an integer")
    return int(value)


def _as_score(value: Any, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderResponseError(f"the score for document {index} is {value!r}, not a number")
    score = float(value)
    if not math.isfinite(score):
        raise ProviderResponseError(f"the score for document {index} is {score}, not a finite number")
    return score


def check_ranking(
    pairs: Iterable[tuple[Any, Any]], size: int, expected: Optional[int] = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate pairs for ``size`` documents; return (indices, scores) as arrays.

    Every index must be an integer in ``[0, size)`` and appear at most once, every score a finite
    number; and there must be at least ``expected`` results (default ``size``: all of them) — a
    provider asked for its top k returns ``min(k, size)`` or more.
    """
    want = size if expected is None else min(expected, size)
    indices: list[int] = []
    scores: list[float] = []
    seen = np.zeros(size, dtype=bool)
    for pos, (raw_index, raw_score) in enumerate(pairs):
        index = _as_index(raw_index, pos)
        if not 0 <= index < size:
            raise ProviderResponseError(
                f"result {pos} has index {index}, out of range for {size} documents (0..{size - 1})"
            )
        if seen[index]:
            raise ProviderResponseError(f"document {index} is ranked more than once")
        seen[index] = True
        indices.append(index)
        scores.append(_as_score(raw_score, index))
    if len(indices) < want:
        missing = np.flatnonzero(~seen)[:5].tolist()
        asked = "all of them" if expected is None or expected >= size else f"the top {expected}"
        raise ProviderResponseError(
            f"{len(indices)} results for {size} documents, expected {want} ({asked}); "
            f"unscored documents include {missing}"
        )
    return np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float64)


__all__ = ["check_ranking", "ranked"]
