"""Reading a chat completion: every way an answer can be wrong is a ProviderResponseError.

``scores`` answers must be one JSON object holding each label of the request exactly once, every
score a finite number inside ``score_range``. ``yes_no`` answers must carry the first token's top
logprobs with "yes" or "no" among them. A refusal, a truncated or filtered answer, invalid JSON or
a missing, repeated or unknown label is never guessed around: the HTTP layer asks once more with
the window split in half, then raises.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rerankit import ProviderResponseError

from ._prompt import labels

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_WORD = re.compile(r"[^a-z]")


def choice_of(data: Any) -> Mapping[str, Any]:
    """``choices[0]`` of a chat completion; a refusal or a filtered answer is a ProviderResponseError."""
    if not isinstance(data, Mapping):
        raise ProviderResponseError(f"expected a chat completion object, got {type(data).__name__}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise ProviderResponseError("the answer has no choices[0]")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise ProviderResponseError("the answer has no choices[0].message")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        raise ProviderResponseError(f"the model refused: {short(refusal)}")
    if choice.get("finish_reason") == "content_filter":
        raise ProviderResponseError("the answer was withheld by the content filter (finish_reason 'content_filter')")
    return choice


def read_scores(data: Any, count: int, score_range: tuple[float, float]) -> list[tuple[int, float]]:
    """``(index, score in [0, 1])`` for each of the ``count`` documents of a ``scores`` request."""
    choice = choice_of(data)
    content = choice["message"].get("content")
    if choice.get("finish_reason") == "length":
        raise ProviderResponseError(
            "the answer was cut off (finish_reason 'length'); raise max_completion_tokens or lower "
            f"window_size; it ends {short(str(content or ''), tail=True)}"
        )
    if not isinstance(content, str) or not content.strip():
        raise ProviderResponseError("the answer has no content (choices[0].message.content is empty)")
    text = content.strip()
    fenced = _FENCE.match(text)  # servers without strict schemas sometimes wrap JSON in a fence
    if fenced:
        text = fenced.group(1)
    try:
        pairs = json.loads(text, object_pairs_hook=list)
    except ValueError as exc:
        raise ProviderResponseError(f"the answer is not valid JSON ({exc}); it starts {short(text)}") from None
    if not isinstance(pairs, list) or not all(isinstance(p, tuple) for p in pairs):
        raise ProviderResponseError(f"expected a JSON object of label: score, got {short(text)}")
    names = {name: i for i, name in enumerate(labels(count))}
    low, high = score_range
    found: dict[int, float] = {}
    unknown, twice, bad = [], [], []
    for name, value in pairs:
        index = names.get(name)
        if index is None:
            unknown.append(name)
        elif index in found:
            twice.append(name)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            bad.append(f"{name}={value!r} (not a number)")
            found[index] = math.nan
        elif not (math.isfinite(value) and low <= value <= high):
            bad.append(f"{name}={value!r} (outside {low:g}..{high:g})")
            found[index] = math.nan
        else:
            found[index] = (float(value) - low) / (high - low)
    missing = [name for name, i in names.items() if i not in found]
    problems = []
    if missing:
        problems.append(f"missing labels {_names(missing)}")
    if twice:
        problems.append(f"labels given more than once {_names(sorted(set(twice)))}")
    if unknown:
        problems.append(f"unknown labels {_names(unknown)} (this request has {_span(count)})")
    if bad:
        problems.append("bad scores " + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else ""))
    if problems:
        raise ProviderResponseError("; ".join(problems))
    return sorted(found.items())


def read_yes_no(data: Any) -> list[tuple[int, float]]:
    """``[(0, P(yes) / (P(yes) + P(no)))]`` from the first answer token's top logprobs."""
    choice = choice_of(data)
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], Mapping):
        raise ProviderResponseError(
            "the answer has no logprobs; method='yes_no' needs a server that returns them "
            "(logprobs=true with top_logprobs), else use method='scores'"
        )
    first = content[0]
    candidates: dict[str, float] = {}
    for item in [first, *(first.get("top_logprobs") or [])]:
        if isinstance(item, Mapping) and isinstance(item.get("token"), str):
            logprob = item.get("logprob")
            if isinstance(logprob, (int, float)) and not isinstance(logprob, bool) and logprob <= 0:
                candidates.setdefault(item["token"], float(logprob))
    p_yes = sum(math.exp(lp) for token, lp in candidates.items() if _WORD.sub("", token.lower()) == "yes")
    p_no = sum(math.exp(lp) for token, lp in candidates.items() if _WORD.sub("", token.lower()) == "no")
    if p_yes + p_no <= 0:
        shown = ", ".join(repr(t) for t in list(candidates)[:5]) or "none"
        raise ProviderResponseError(f"neither 'yes' nor 'no' among the answer's top tokens ({shown})")
    return [(0, p_yes / (p_yes + p_no))]


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:8])
    return f"[{shown}{', ...' if len(names) > 8 else ''}]"


def _span(count: int) -> str:
    return "the label d1" if count == 1 else f"labels d1..d{count}"


def short(text: str, tail: bool = False, limit: int = 80) -> str:
    """``text`` quoted for an error message, its start (or end) only when it is long."""
    if len(text) <= limit:
        return repr(text)
    return repr("..." + text[-limit:]) if tail else repr(text[:limit] + "...")


__all__ = ["choice_of", "read_scores", "read_yes_no", "short"]
