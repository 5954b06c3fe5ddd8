"""The listwise sliding window over one query's candidates, written once for sync and async.

:func:`slide` is a generator: it yields each request it needs (the body and how many documents
it carries) and is sent the answer, so the same loop runs on threads (``post``) and on an event
loop (``apost``). Windows go from the end of the list to the front (see
:func:`~rerankit_openai._ranking.windows`), one at a time: each window's request is built from
the order the previous window left. A window's answer is read and repaired by
:func:`~rerankit_openai._ranking.read_ranking`; an unusable one is asked once more, then the
window keeps its previous order (``on_bad_answer="keep"``, with a WARNING) or a
ProviderResponseError is raised (``"raise"``).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from typing import Any

from rerankit import ProviderResponseError

from ._config import OpenAIConfig
from ._prompt import request_body
from ._ranking import Repairs, rank_scores, read_ranking, windows

logger = logging.getLogger("rerankit")

#: What :func:`slide` yields (a request body and its document count), is sent (the parsed
#: answer) and returns (the scores in input order, and what was repaired).
Slide = Generator[tuple[dict[str, Any], int], Any, tuple[list[float], Repairs]]


def slide(config: OpenAIConfig, query: str, texts: Sequence[str], item: int, where: str) -> Slide:
    """Rank ``texts`` for ``query`` window by window; returns ``(scores, repairs)``.

    ``item`` is the query's number in its call, ``where`` names the server in messages.
    """
    order = list(range(len(texts)))
    repairs = Repairs()
    spans = windows(len(texts), config.window_size, config.listwise_step)
    for number, (start, end) in enumerate(spans, 1):
        ids = order[start:end]
        span = f"window {number} of {len(spans)} (positions {start}-{end - 1}) of query {item}"
        body = request_body(config, query, [texts[i] for i in ids])
        first = None
        while True:
            answer = yield body, len(ids)
            try:
                new, fixed = _read(answer, len(ids))
                break
            except ProviderResponseError as exc:
                if first is None:
                    first = exc
                    repairs += Repairs(asked_again=1)
                    logger.warning("%s%s (%s); asking again", where, exc, span)
                    continue
                if config.on_bad_answer == "raise":
                    raise ProviderResponseError(
                        f"{where}{first} ({span}); asked again, the answer was still unusable: {exc}",
                        provider="openai",
                    ) from None
                logger.warning(
                    "%s%s (%s); asked again: %s; the window keeps its previous order (on_bad_answer='keep')",
                    where, first, span, exc,
                )
                new, fixed = list(range(len(ids))), Repairs(kept=1)
                break
        repairs += fixed
        order[start:end] = [ids[j] for j in new]
    return rank_scores(order), repairs


def _read(answer: Any, count: int) -> tuple[list[int], Repairs]:
    try:
        return read_ranking(answer, count)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ProviderResponseError(f"unexpected answer shape: {type(exc).__name__}: {exc}") from None


__all__ = ["Slide", "slide"]
