"""OpenAI's chat-completions wire format (``POST /v1/chat/completions``), answered by a fake model.

:class:`ChatDialect` checks requests as OpenAI does (unknown fields, strict ``json_schema`` rules,
``temperature`` / ``top_logprobs`` ranges, a context window) and answers in the real shape:
``choices[0].message.content`` / ``refusal``, ``finish_reason``, ``logprobs`` and ``usage``, errors
as ``{"error": {...}}``. What the "model" says is a function of the request body that a test
supplies; :mod:`rerankit.testing.chat` re-exports all of this with the mutators that turn an
answer bad on demand. Token counts are a stand-in (one per word or punctuation mark, see
:func:`count_tokens`). Wording marked *uncertain* is a plausible stand-in where OpenAI's is not
documented.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .openai import OpenAIDialect
from .openai import bad_request as _bad

PATH = "/v1/chat/completions"

#: Request fields OpenAI's chat completions accept (anything else is a 400).
FIELDS = frozenset({
    "model", "messages", "response_format", "temperature", "top_p", "seed", "max_tokens",
    "max_completion_tokens", "logprobs", "top_logprobs", "n", "stop", "stream", "stream_options",
    "user", "reasoning_effort", "verbosity", "frequency_penalty", "presence_penalty", "logit_bias",
    "metadata", "store", "service_tier", "parallel_tool_calls", "tools", "tool_choice", "prediction",
    "modalities", "audio", "web_search_options", "prompt_cache_key", "safety_identifier",
})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
#: JSON Schema keywords strict mode accepts.
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
    "$ref", "$defs", "definitions", "description", "title", "pattern", "format", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
})
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: words and punctuation marks."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class ChatReply:
    """What the fake model says: the message text (or a refusal), why it stopped, and optionally
    the first tokens' logprobs (``[{"token", "logprob", "top_logprobs": [...]}]``)."""

    content: Optional[str] = None
    refusal: Optional[str] = None
    finish_reason: str = "stop"
    logprobs: Optional[list[dict[str, Any]]] = None


ChatModel = Callable[[dict[str, Any]], ChatReply]


class ChatDialect(OpenAIDialect):
    """OpenAI ``POST /v1/chat/completions``, answering with ``model(body)``.

    ``context_window``: most prompt tokens (by :func:`count_tokens`) a request may carry; more is
    OpenAI's 400 ``context_length_exceeded``.
    """

    name = "openai-chat"
    path = PATH
    max_documents = None

    def __init__(self, model: ChatModel, *, context_window: Optional[int] = None) -> None:
        self.model = model
        self.context_window = context_window

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")  # (uncertain wording)
        for key in body:
            if key not in FIELDS:
                raise _bad(f"Unrecognized request argument supplied: {key}")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _bad("you must provide a model parameter", "model")
        self._check_messages(body.get("messages"))
        self._check_numbers(body)
        fmt = body.get("response_format")
        if fmt is not None:
            self._check_format(fmt, body["messages"])
        if self.context_window is not None:
            used = _prompt_tokens(body["messages"])
            if used > self.context_window:
                raise _bad(
                    f"This model's maximum context length is {self.context_window} tokens. However, your "
                    f"messages resulted in {used} tokens. Please reduce the length of the messages.",
                    "messages", "context_length_exceeded",
                )
        return "", [], None

    @staticmethod
    def _check_messages(messages: Any) -> None:
        if not isinstance(messages, list) or not messages:
            raise _bad("Missing required parameter: 'messages'.", "messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise _bad(f"Invalid value for 'messages[{i}].role'.", f"messages[{i}].role")  # (uncertain)
            if not isinstance(message.get("content"), (str, list)):
                raise _bad(
                    f"Invalid type for 'messages[{i}].content': expected a string or an array.",
                    f"messages[{i}].content",
                )

    @staticmethod
    def _check_numbers(body: Mapping[str, Any]) -> None:
        temperature = body.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2
        ):
            raise _bad(f"Invalid 'temperature': expected a number from 0 to 2, got {temperature!r}.", "temperature")
        top = body.get("top_logprobs")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20:
                raise _bad(f"Invalid 'top_logprobs': expected an integer from 0 to 20, got {top!r}.", "top_logprobs")
            if body.get("logprobs") is not True:
                raise _bad("Invalid 'top_logprobs': 'logprobs' must be true to use it.", "top_logprobs")  # (uncertain)
        for field in ("max_completion_tokens", "max_tokens", "seed"):
            value = body.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _bad(f"Invalid type for '{field}': expected an integer.", field)
        if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
            raise _bad("max_tokens and max_completion_tokens cannot both be set.", "max_tokens")  # (uncertain)
        if body.get("n", 1) != 1:
            raise _bad("This fake answers n=1 only.", "n")

    @staticmethod
    def _check_format(fmt: Any, messages: list[Any]) -> None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            raise _bad(f"Invalid value for 'response_format.type': {kind!r}.", "response_format.type")
        if kind == "json_object":
            if not any("json" in json.dumps(m.get("content")).lower() for m in messages):
                raise _bad(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of "
                    "type 'json_object'.", "messages",
                )
            return
        if kind != "json_schema":
            return
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
            raise _bad(
                "Invalid 'response_format.json_schema.name': must be 1-64 characters of a-z, A-Z, 0-9, _ or -.",
                "response_format.json_schema.name",
            )
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise _bad("Missing required parameter: 'response_format.json_schema.schema'.")
        if spec.get("strict") is True:
            problem = strict_schema_problem(schema)
            if problem:
                raise _bad(
                    f"Invalid schema for response_format '{spec['name']}': {problem}",
                    "response_format", "invalid_json_schema",
                )

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        reply = self.model(body)
        logprobs = None
        if body.get("logprobs"):
            content = reply.logprobs if reply.logprobs is not None else [
                {"token": t, "logprob": 0.0, "bytes": list(t.encode()), "top_logprobs": []}
                for t in _TOKEN.findall(reply.content or "")
            ]
            logprobs = {"content": content, "refusal": None}
        prompt = _prompt_tokens(body["messages"])
        completion = count_tokens(reply.content or reply.refusal or "")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant", "content": reply.content, "refusal": reply.refusal, "annotations": [],
                },
                "logprobs": logprobs,
                "finish_reason": reply.finish_reason,
            }],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_rerankit_fake",
        }


def _prompt_tokens(messages: Sequence[Any]) -> int:
    """Content tokens plus 3 per message and 3 to prime the reply, as OpenAI's chat format counts."""
    return sum(count_tokens(json.dumps(m.get("content")) if not isinstance(m.get("content"), str)
                            else m["content"]) + 3 for m in messages) + 3


def strict_schema_problem(schema: Any, where: tuple[str, ...] = ()) -> Optional[str]:
    """Why ``schema`` breaks Structured Outputs' strict rules, or None (wording *uncertain*)."""
    if not isinstance(schema, dict):
        return f"In context={where}, a schema must be an object."
    if not where and (schema.get("type") != "object" or "anyOf" in schema):
        return "In context=(), the root schema must be an object and not use anyOf."
    for key in schema:
        if key not in STRICT_KEYWORDS:
            return f"In context={where}, '{key}' is not permitted."
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
        required = schema.get("required")
        missing = [k for k in properties if not isinstance(required, list) or k not in required]
        if missing or not isinstance(required, list) or len(required) != len(properties):
            return (f"In context={where}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0] if missing else '?'}'.")
        for name, sub in properties.items():
            problem = strict_schema_problem(sub, (*where, "properties", name))
            if problem:
                return problem
    if "items" in schema:
        return strict_schema_problem(schema["items"], (*where, "items"))
    return None


__all__ = [
    "FIELDS", "PATH", "ROLES", "STRICT_KEYWORDS", "ChatDialect", "ChatModel", "ChatReply", "count_tokens",
    "strict_schema_problem",
]
