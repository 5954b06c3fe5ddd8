"""OpenAI's embeddings wire format (``POST /v1/embeddings``), answered with :func:`fake_embedding` vectors.

:class:`EmbeddingsDialect` checks requests as OpenAI documents them (``model`` and ``input``
required, ``input`` a string or a list of at most 2,048 non-empty strings, ``encoding_format``
``float`` or ``base64``, ``dimensions`` only for models that support it, unknown fields refused)
and answers in the real shape (vLLM, Infinity, TEI and Ollama answer the same). The vectors are
deterministic, unit length, and similar for texts that share words. :mod:`rerankit.testing.embeddings`
re-exports all of this with the mutators that turn an answer bad on demand. Wording marked
*uncertain* is a plausible stand-in where OpenAI's is not documented.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from typing import Any, Optional

from .base import Reject
from .openai import OpenAIDialect
from .openai import bad_request as _bad

PATH = "/v1/embeddings"
#: Request fields the embeddings API accepts (anything else is a 400).
FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
#: Most inputs in one request (OpenAI's documented limit).
MAX_INPUTS = 2048
#: Vector size of the fake models, unless ``dimensions`` asks for fewer.
DEFAULT_DIMENSIONS = 64
#: Models that refuse ``dimensions`` (OpenAI: only text-embedding-3 and later accept it).
FIXED_SIZE_MODELS = frozenset({"text-embedding-ada-002"})

_WORD = re.compile(r"\w+")


def fake_embedding(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A deterministic unit vector for ``text``: hashed bag of words plus a small per-text part.

    Texts sharing words point in similar directions, so similarities rank like word overlap; a
    shorter ``dimensions`` keeps the first components and rescales them to unit length, as
    OpenAI's text-embedding-3 models shorten theirs.
    """
    full = [0.0] * DEFAULT_DIMENSIONS
    for word in _WORD.findall(text.lower()):
        h = zlib.crc32(word.encode())
        full[h % DEFAULT_DIMENSIONS] += 1.0 if (h >> 16) & 1 else -1.0
    h = zlib.crc32(text.encode())
    full[h % DEFAULT_DIMENSIONS] += 0.25
    vector = full[:dimensions]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 7) for v in vector]


class EmbeddingsDialect(OpenAIDialect):
    """OpenAI ``POST /v1/embeddings`` answering :func:`fake_embedding` vectors.

    ``path``: where the server listens (``"/v1/embeddings"``; a ``base_url`` of ``server.url +
    "/v1"`` reaches it). ``max_documents``: most inputs per request (2,048).
    """

    name = "openai-embeddings"
    path = PATH
    max_documents: Optional[int] = MAX_INPUTS

    def bad_json(self) -> Reject:
        return _bad("We could not parse the JSON body of your request.")

    def too_many(self, count: int) -> Reject:
        return _bad(f"'$.input' is invalid: at most {self.max_documents} inputs per request, got {count}.", "input")

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")  # (uncertain wording)
        for key in body:
            if key not in FIELDS:
                raise _bad(f"Unrecognized request argument supplied: {key}")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _bad("you must provide a model parameter", "model")
        if "input" not in body:
            raise _bad("Missing required parameter: 'input'.", "input")
        inputs = body["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise _bad("'$.input' is invalid. Please check the API reference.", "input")
        for i, item in enumerate(inputs):
            if not isinstance(item, str) or not item:
                raise _bad(f"'$.input[{i}]' is invalid: expected a non-empty string.", "input")  # (uncertain)
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _bad(f"Invalid value for 'encoding_format': {fmt!r}.", "encoding_format")  # (uncertain)
        dims = body.get("dimensions")
        if dims is not None:
            if body["model"] in FIXED_SIZE_MODELS:
                raise _bad("This model does not support specifying dimensions.", "dimensions")
            if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= DEFAULT_DIMENSIONS:
                raise _bad(f"Invalid 'dimensions': expected an integer from 1 to {DEFAULT_DIMENSIONS}.", "dimensions")
        return "", inputs, None

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        dims = body.get("dimensions") or DEFAULT_DIMENSIONS
        data = []
        for i, text in enumerate(documents):
            vector = fake_embedding(text, dims)
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(len(_WORD.findall(t)) for t in documents)
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


__all__ = [
    "DEFAULT_DIMENSIONS", "FIELDS", "FIXED_SIZE_MODELS", "MAX_INPUTS", "PATH", "EmbeddingsDialect", "fake_embedding",
]
