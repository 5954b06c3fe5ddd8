"""A local fake of OpenAI's chat-completions API, for testing LLM reranker plugins.

:class:`ChatDialect` plugs into :class:`~rerankit.testing.FakeRerankServer`, so keys, recorded
requests, latency and scripted faults (``Fault.error(429, headers={"retry-after": "0"})``,
``Fault.slow``, ``Fault.drop``, ``Fault.raw``) work as for the rerank APIs. It checks requests as
OpenAI does (unknown fields, strict ``json_schema`` rules, ``temperature`` / ``top_logprobs``
ranges, a context window) and answers in the real shape: ``choices[0].message.content`` /
``refusal``, ``finish_reason``, ``logprobs`` and ``usage``, errors as ``{"error": {...}}``.

What the "model" answers is a function of the request body that the test supplies (a plugin's
fake model reads its own prompt format); the mutators below turn one answer bad on demand::

    server = FakeRerankServer(ChatDialect(my_fake_model), api_key="k")
    server.script(Fault.change(refuse()),                       # the next answer refuses,
                  Fault.change(edit_json(lambda o: {**o, "d9": 1})))  # the one after adds a label

Listwise rerankers (the model orders a window of labelled documents) get
:func:`ranking_answer`, which writes an ordering as a strict-schema object
(``{"ranking": ["[3]", "[1]", ...]}``) or as RankGPT's text (``[3] > [1] > [2]``, optionally
wrapped in chatter), and :func:`edit_ranking`, a mutator that rewrites the ordering of an answer
in either form (to repeat, drop or invent labels)::

    server.script(Fault.change(edit_ranking(lambda labels: labels[:-2] + ["[42]"])))

Token counts are a stand-in (one per word or punctuation mark, see :func:`count_tokens`), not a
real tokenizer. Wording marked *uncertain* is a plausible stand-in where OpenAI's is not documented.
The wire format itself lives beside the other dialects, in :mod:`rerankit._dialects.openai_chat`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

from .._dialects.openai_chat import (
    FIELDS,
    PATH,
    ChatDialect,
    ChatModel,
    ChatReply,
    count_tokens,
    strict_schema_problem,
)

# -- misbehaviour on demand: mutators for Fault.change ------------------------------------------
Answer = dict[str, Any]


def _message(answer: Answer) -> dict[str, Any]:
    return answer["choices"][0]["message"]


def refuse(text: str = "I'm sorry, but I can't help with that.") -> Callable[[Answer], Answer]:
    """The model refuses: ``content`` null, ``refusal`` set."""
    def mutate(answer: Answer) -> Answer:
        _message(answer).update(content=None, refusal=text)
        return answer
    return mutate


def truncate(keep: float = 0.5) -> Callable[[Answer], Answer]:
    """The answer is cut off: the first ``keep`` share of ``content``, ``finish_reason: "length"``."""
    def mutate(answer: Answer) -> Answer:
        message = _message(answer)
        text = message.get("content") or ""
        message["content"] = text[: int(len(text) * keep)]
        answer["choices"][0]["finish_reason"] = "length"
        return answer
    return mutate


def finish(reason: str) -> Callable[[Answer], Answer]:
    """Set ``finish_reason`` (e.g. ``"content_filter"``)."""
    def mutate(answer: Answer) -> Answer:
        answer["choices"][0]["finish_reason"] = reason
        return answer
    return mutate


def replace_content(text: Optional[str]) -> Callable[[Answer], Answer]:
    """Answer ``text`` as the message content (invalid JSON, prose, nothing)."""
    def mutate(answer: Answer) -> Answer:
        _message(answer)["content"] = text
        return answer
    return mutate


JSONEdit = Callable[[dict[str, Any]], Union[dict[str, Any], Sequence[tuple[str, Any]]]]


def edit_json(edit: JSONEdit) -> Callable[[Answer], Answer]:
    """Rewrite the JSON object in ``content``: ``edit`` returns a dict, or ``(key, value)`` pairs
    when the answer should repeat a key."""
    def mutate(answer: Answer) -> Answer:
        message = _message(answer)
        result = edit(json.loads(message["content"]))
        pairs = result.items() if isinstance(result, dict) else result
        message["content"] = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
        return answer
    return mutate


#: Chatter around a text-form ranking: numbers and labels that are not the ranking.
CHATTER = (
    "Sure! I read all {count} passages; {first} and {last} were close calls, {count} in total.\n\n"
    "Ranking: {ranking}\n\nPassage {first} answers the query best (score 10 of 10)."
)
_RANKED = re.compile(r"\[\d+\](?:\s*>\s*\[\d+\])*")


def ranking_answer(labels: Sequence[str], *, structured: bool = True, chatter: bool = False) -> str:
    """An ordering as a listwise model writes it: ``{"ranking": [...]}`` when ``structured``,
    else ``[3] > [1] > [2]``, inside :data:`CHATTER` when ``chatter``."""
    labels = list(labels)
    if structured:
        return json.dumps({"ranking": labels})
    ranking = " > ".join(labels)
    if not chatter or not labels:
        return ranking
    return CHATTER.format(count=len(labels), first=labels[-1], last=labels[0], ranking=ranking)


def edit_ranking(edit: Callable[[list[str]], Sequence[str]], *, chatter: bool = False) -> Callable[[Answer], Answer]:
    """Rewrite the ordering in a listwise answer, in the form it came in (a ``{"ranking": [...]}``
    object, or the longest ``[a] > [b]`` chain of a text answer); ``chatter`` wraps a text answer
    in :data:`CHATTER`."""
    def mutate(answer: Answer) -> Answer:
        message = _message(answer)
        content = message["content"]
        try:
            value = json.loads(content)
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("ranking"), list):
            message["content"] = ranking_answer(edit(list(value["ranking"])))
            return answer
        chains = _RANKED.findall(content)
        labels = re.findall(r"\[\d+\]", max(chains, key=len)) if chains else []
        message["content"] = ranking_answer(edit(labels), structured=False, chatter=chatter)
        return answer
    return mutate


def yes_no_logprobs(p_yes: float, yes: Sequence[str] = ("Yes",), no: Sequence[str] = ("No",)) -> list[dict[str, Any]]:
    """Logprobs of a one-token yes/no answer: P(yes) spread evenly over the ``yes`` spellings."""
    p_yes = min(max(p_yes, 1e-9), 1 - 1e-9)
    top = [(t, math.log(p_yes / len(yes))) for t in yes] + [(t, math.log((1 - p_yes) / len(no))) for t in no]
    top.sort(key=lambda item: -item[1])
    items = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
    return [{**items[0], "top_logprobs": items}]


__all__ = [
    "CHATTER", "FIELDS", "PATH", "ChatDialect", "ChatModel", "ChatReply", "count_tokens", "edit_json",
    "edit_ranking", "finish", "ranking_answer", "refuse", "replace_content", "strict_schema_problem", "truncate",
    "yes_no_logprobs",
]
