"""A deterministic fake chat model that reads rerankit-openai's prompt format on its own.

It finds the query (``Query: <JSON string>``) and the documents (the JSON object that starts a
line) in the user message, takes the labels to answer from the request's JSON schema, and rates
each document with :func:`rerankit.testing.fake_score` on the test's scale — so a relevance score
coming back normalized equals ``fake_score`` exactly.

Asked to order a window (``method="listwise"``: documents labelled ``[1]``, ``[2]``, ...), it
orders them by a hidden relevance — ``hidden[text]`` where the test set one, else ``fake_score``
— and answers ``{"ranking": [...]}`` under the schema, or RankGPT's text ``[3] > [1] > [2]``
without one (wrapped in chatter when ``chatter`` is set).

It is gullible: an instruction that sits outside the quoted data (the system message, the prompt
text around the JSON) is obeyed. "ignore previous instructions" found there makes it rate every
document at the top of the scale (or, ordering a window, reverse its order), so a prompt that let
a document escape its quotes would change every row's score or position — which the
prompt-injection tests check does not happen.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from rerankit.testing import fake_score
from rerankit.testing.chat import ChatReply, ranking_answer, yes_no_logprobs

INJECTION = "ignore previous instructions"


@dataclass
class Prompt:
    """What the fake model understood of a request."""

    query: str
    documents: dict[str, str]
    instructions: str


def read_prompt(body: dict[str, Any]) -> Prompt:
    messages = body["messages"]
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    user = "\n".join(m["content"] for m in messages if m["role"] == "user")
    decoder = json.JSONDecoder()
    query, rest = "", user
    at = user.find("Query: ")
    if at >= 0:
        query, end = decoder.raw_decode(user, at + len("Query: "))
        rest = user[:at] + user[end:]
    start = rest.find("\n{")
    documents: dict[str, str] = {}
    if start >= 0:
        documents, end = decoder.raw_decode(rest, start + 1)
        rest = rest[: start + 1] + rest[end:]
    return Prompt(query, documents, system + "\n" + rest)


@dataclass
class FakeJudge:
    """The fake model: ``score_range`` is the scale the test configured; ``seen`` keeps what it read."""

    score_range: tuple[float, float] = (0.0, 10.0)
    seen: list[Prompt] = field(default_factory=list)
    hidden: dict[str, float] = field(default_factory=dict)
    chatter: bool = False

    def relevance(self, query: str, text: str) -> float:
        """The hidden relevance a listwise answer orders by."""
        return self.hidden[text] if text in self.hidden else fake_score(query, text)

    def __call__(self, body: dict[str, Any]) -> ChatReply:
        prompt = read_prompt(body)
        self.seen.append(prompt)
        obey = INJECTION in prompt.instructions.lower()
        if body.get("logprobs"):
            (text,) = prompt.documents.values()
            p = 0.999 if obey else yes_probability(prompt.query, text)
            return ChatReply(
                content="Yes" if p >= 0.5 else "No",
                finish_reason="length",
                logprobs=yes_no_logprobs(p, yes=("Yes", " yes"), no=("No",)),
            )
        names = list(prompt.documents)
        if names and names[0].startswith("["):
            order = sorted(names, key=lambda n: (-self.relevance(prompt.query, prompt.documents[n]), names.index(n)))
            if obey:
                order.reverse()
            structured = body.get("response_format") is not None
            return ChatReply(content=ranking_answer(order, structured=structured, chatter=self.chatter))
        low, high = self.score_range
        labels = list(body["response_format"]["json_schema"]["schema"]["properties"])
        scores = {
            label: high if obey else low + fake_score(prompt.query, prompt.documents[label]) * (high - low)
            for label in labels
        }
        return ChatReply(content=json.dumps(scores))


def yes_probability(query: str, text: str) -> float:
    """The fake's P(yes) for a document (``fake_score`` kept away from 0 and 1)."""
    return min(max(fake_score(query, text), 1e-6), 1 - 1e-6)


def expected_yes_no(query: str, text: str) -> float:
    """The score the reranker should compute from the fake's logprobs (after the log/exp trip)."""
    p = yes_probability(query, text)
    yes = 2 * math.exp(math.log(p / 2))
    no = math.exp(math.log(1 - p))
    return yes / (yes + no)


def labels_of(body: dict[str, Any]) -> Optional[list[str]]:
    fmt = body.get("response_format")
    return None if fmt is None else list(fmt["json_schema"]["schema"]["properties"])
