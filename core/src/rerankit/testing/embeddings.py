"""A local fake of the OpenAI-compatible embeddings API (``POST /v1/embeddings``), for tests.

:class:`EmbeddingsDialect` plugs into :class:`~rerankit.testing.FakeRerankServer`, so keys,
recorded requests, latency and scripted faults (``Fault.error(429, headers={"retry-after": "0"})``,
``Fault.slow``, ``Fault.drop``, ``Fault.raw``) work as for the rerank APIs. It checks requests as
OpenAI documents them (``model`` and ``input`` required, ``input`` a string or a list of at most
2,048 non-empty strings, ``encoding_format`` ``float`` or ``base64``, ``dimensions`` only for
models that support it, unknown fields refused) and answers in the real shape::

    {"object": "list", "model": ..., "usage": {"prompt_tokens": n, "total_tokens": n},
     "data": [{"object": "embedding", "index": 0, "embedding": [...]}, ...]}

Errors are OpenAI's ``{"error": {"message", "type", "param", "code"}}``; vLLM, Infinity, TEI and
Ollama answer the same success shape. The vectors are :func:`fake_embedding`: deterministic,
unit length, and similar for texts that share words, so a test can compute the expected
similarity itself. The mutators below turn one answer bad on demand::

    server = FakeRerankServer(EmbeddingsDialect(), api_key="k")
    server.script(Fault.change(drop_vector()),          # the next answer lacks a vector,
                  Fault.change(resize_vector(0, 3)))    # the one after has a 3-dimensional one

Wording marked *uncertain* is a plausible stand-in where OpenAI's is not documented. The wire
format itself lives beside the other dialects, in :mod:`rerankit._dialects.openai_embeddings`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._dialects.openai_embeddings import (
    DEFAULT_DIMENSIONS,
    FIELDS,
    FIXED_SIZE_MODELS,
    MAX_INPUTS,
    PATH,
    EmbeddingsDialect,
    fake_embedding,
)

# -- misbehaviour on demand: mutators for Fault.change ------------------------------------------
Answer = dict[str, Any]


def drop_vector(index: int = -1) -> Callable[[Answer], Answer]:
    """One vector fewer than inputs (the ``index``-th item removed)."""
    def mutate(answer: Answer) -> Answer:
        answer["data"].pop(index)
        return answer
    return mutate


def extra_vector() -> Callable[[Answer], Answer]:
    """One vector more than inputs (the last one repeated under a new index)."""
    def mutate(answer: Answer) -> Answer:
        last = dict(answer["data"][-1])
        last["index"] = len(answer["data"])
        answer["data"].append(last)
        return answer
    return mutate


def resize_vector(index: int, dimensions: int) -> Callable[[Answer], Answer]:
    """The ``index``-th vector cut (or zero-padded) to ``dimensions`` components."""
    def mutate(answer: Answer) -> Answer:
        item = answer["data"][index]
        vector = list(item["embedding"])[:dimensions]
        item["embedding"] = vector + [0.0] * (dimensions - len(vector))
        return answer
    return mutate


def set_index(position: int, index: Any) -> Callable[[Answer], Answer]:
    """The item at ``position`` claims ``index`` (a duplicate, out of range or not a number)."""
    def mutate(answer: Answer) -> Answer:
        answer["data"][position]["index"] = index
        return answer
    return mutate


def set_value(position: int, value: Any) -> Callable[[Answer], Answer]:
    """The first component of the vector at ``position`` becomes ``value`` (NaN, a string, None)."""
    def mutate(answer: Answer) -> Answer:
        answer["data"][position]["embedding"][0] = value
        return answer
    return mutate


def shuffle() -> Callable[[Answer], Answer]:
    """The items in reverse order, each keeping its ``index`` (a valid answer: order is by index)."""
    def mutate(answer: Answer) -> Answer:
        answer["data"].reverse()
        return answer
    return mutate


__all__ = [
    "DEFAULT_DIMENSIONS", "FIELDS", "FIXED_SIZE_MODELS", "MAX_INPUTS", "PATH", "EmbeddingsDialect",
    "drop_vector", "extra_vector", "fake_embedding", "resize_vector", "set_index", "set_value", "shuffle",
]
