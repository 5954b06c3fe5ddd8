"""Local fake rerank servers that speak real providers' wire formats, for tests and benchmarks.

:class:`FakeRerankServer` listens on 127.0.0.1 (standard library only), checks the Bearer key,
answers with a provider's own request validation errors and response shape (a *dialect*:
``"cohere"``, ``"jina"``, ``"voyage"``, ``"mixedbread"``, ``"pinecone"``, ``"together"``, and the
self-hosted servers ``"tei"`` (text-embeddings-inference), ``"infinity"`` and ``"vllm"``), scores with
the deterministic :func:`fake_score`, and injects faults on demand: error statuses with
``retry-after`` headers, dropped connections, slow answers, malformed or wrong bodies. It records
every request it saw and shuts itself down after ``max_lifetime`` seconds at the latest::

    with FakeRerankServer("cohere", api_key="k") as server:
        server.script(Fault.status(429, headers={"retry-after": "0"}))
        reranker = rerankit.get_reranker("cohere", api_key="k", base_url=server.url)
        reranker.rerank("query", ["doc a", "doc b"])
        assert server.attempts == 2

Formats follow the providers' public API references; where those are silent (marked
*uncertain* in the comments) the messages are plausible stand-ins.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Optional

_WORD = re.compile(r"\w+")


def fake_score(query: str, text: str) -> float:
    """Deterministic relevance in [0, 1): share of query words in the text, plus a tiny tie-break."""
    q = {w.lower() for w in _WORD.findall(query)}
    t = {w.lower() for w in _WORD.findall(text)}
    overlap = len(q & t) / max(1, len(q))
    tiebreak = (zlib.crc32(f"{query}\x00{text}".encode()) % 100_000) / 10_000_000
    return round(0.99 * overlap + tiebreak, 7)


# -- dialects -----------------------------------------------------------------------------------
class Reject(Exception):
    """A request the provider would refuse: HTTP ``status`` with the provider's error body.

    ``body`` is sent as JSON, or as is when it is ``bytes`` (a plain-text or empty answer, as
    some servers' frameworks give); ``headers`` go with it (e.g. ``WWW-Authenticate``).
    """

    def __init__(self, status: int, body: Any, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class Dialect:
    """One provider's wire format: the path, request checks, answer shape and error bodies."""

    name = "generic"
    path = "/rerank"
    max_documents: Optional[int] = None
    #: Largest request body accepted, in bytes (None: no limit).
    max_body_bytes: Optional[int] = None

    def accepts(self, path: str) -> bool:
        """Whether the server routes ``path`` to its rerank endpoint."""
        return path == self.path

    def needs_auth(self, path: str) -> bool:
        """Whether a request to ``path`` must carry the key (when the server has one)."""
        return True

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        """Whether the request carries ``api_key`` the way this provider expects it."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return lowered.get("authorization") == f"Bearer {api_key}"

    def error(self, status: int, message: str) -> Any:
        return {"message": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "invalid api token"))

    def bad_json(self) -> Reject:
        """The refusal of a body that is not JSON."""
        return Reject(400, self.error(400, "invalid request: body must be JSON"))

    def too_large(self, size: int) -> Reject:
        """The refusal of a body over ``max_body_bytes``."""
        return Reject(413, self.error(413, f"request body of {size} bytes is too large"))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        """``(query, documents, top_k)`` from a request body, or raise :class:`Reject`."""
        raise NotImplementedError

    def too_many(self, count: int) -> Reject:
        """The refusal of a request with more than ``max_documents`` documents."""
        return Reject(400, self.error(400, f"too many documents: {count} > {self.max_documents}"))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        raise NotImplementedError


def _uid() -> str:
    return str(uuid.uuid4())


class CohereDialect(Dialect):
    """Cohere ``POST /v2/rerank``: unknown fields are a 422, documents must be non-empty strings.

    The chunk limit ("number of total max chunks ... must be less than 10000") is checked as
    documents x max chunks per document, each document counted at ``max_tokens_per_doc`` (4,096
    by default) cut into chunks of the context (4,096; 32,768 for rerank-v4.0) less the query and
    4 reserved tokens; tokens are counted as words. (uncertain: Cohere's exact rule is not
    published for v2.)
    """

    name = "cohere"
    path = "/v2/rerank"
    max_documents = 10_000
    max_chunks = 10_000
    fields = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"})

    def error(self, status: int, message: str) -> Any:
        return {"id": _uid(), "message": message}

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "invalid request: body must be a JSON object"))
        for key in body:
            if key not in self.fields:
                raise Reject(422, self.error(422, f"unknown field: parameter '{key}' is not a valid field"))
        if not body.get("model"):
            raise Reject(400, self.error(400, "invalid request: model is required"))  # (uncertain)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise Reject(400, self.error(400, "query must not be empty or be only whitespace"))
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs:
            raise Reject(400, self.error(400, "list of documents must not be empty"))
        for i, doc in enumerate(docs):
            if not isinstance(doc, str):
                raise Reject(400, self.error(400, f"invalid request: document at index {i} must be a string"))
            if not doc.strip():
                raise Reject(400, self.error(400, f"document at index {i} cannot be empty"))
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise Reject(400, self.error(400, "invalid request: top_n must be at least 1"))
        mtpd = body.get("max_tokens_per_doc")
        if mtpd is not None and (not isinstance(mtpd, int) or mtpd < 1):
            raise Reject(400, self.error(400, "invalid request: max_tokens_per_doc must be positive"))
        context = 32_768 if str(body["model"]).startswith("rerank-v4") else 4096
        chunk = max(1, context - len(query.split()) - 4)
        chunks = len(docs) * -(-(mtpd or 4096) // chunk)
        if chunks >= self.max_chunks:
            raise Reject(400, self.error(
                400, f"invalid request: number of total max chunks ({chunks}) must be less than {self.max_chunks}"
            ))
        return query, docs, top_n

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"invalid request: too many documents, got {count}, maximum is {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        return {
            "id": _uid(),
            "results": [{"index": i, "relevance_score": s} for i, s in ranking],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }


class JinaDialect(Dialect):
    """Jina ``POST /v1/rerank``: FastAPI-style 422s; documents echoed unless return_documents=false."""

    name = "jina"
    path = "/v1/rerank"

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Unauthorized. Please provide a valid API key."))  # (uncertain)

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        missing = [k for k in ("model", "query", "documents") if not isinstance(body, dict) or k not in body]
        if missing:
            raise Reject(422, {"detail": [
                {"type": "missing", "loc": ["body", k], "msg": "Field required"} for k in missing
            ]})
        docs = body["documents"]
        if not isinstance(docs, list) or not all(isinstance(d, (str, dict)) for d in docs):
            raise Reject(422, {"detail": [
                {"type": "list_type", "loc": ["body", "documents"], "msg": "Input should be a valid list"}
            ]})
        texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in docs]
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            raise Reject(422, {"detail": [
                {"type": "greater_than", "loc": ["body", "top_n"], "msg": "Input should be greater than 0"}
            ]})
        return str(body["query"]), texts, top_n

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", True)
        results = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if echo:
                item["document"] = {"text": documents[i]}
            results.append(item)
        return {
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
            "results": results,
        }


class VoyageDialect(Dialect):
    """Voyage ``POST /v1/rerank``: ``top_k``, ``truncation``, results under ``data``, ``detail`` errors.

    The total-token limit of Voyage's reference (query tokens x documents + document tokens at
    most 600K for rerank-2.x, 300K for rerank-1 and rerank-lite-1) is checked with words as
    tokens; ``total_tokens`` overrides it for every model. (uncertain: the refusal's wording.)
    """

    name = "voyage"
    path = "/v1/rerank"
    max_documents = 1000
    total_tokens: Optional[int] = None
    model_total_tokens: ClassVar[dict[str, int]] = {"rerank-1": 300_000, "rerank-lite-1": 300_000}

    def error(self, status: int, message: str) -> Any:
        return {"detail": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Provided API key is invalid."))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict) or not body.get("model"):
            raise Reject(400, self.error(400, "Model is required."))  # (uncertain wording)
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise Reject(400, self.error(400, "Query cannot be an empty string."))  # (uncertain)
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
            raise Reject(400, self.error(400, "Documents should be a non-empty list of strings."))
        top_k = body.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise Reject(400, self.error(400, "top_k should be a positive integer."))
        if "truncation" in body and not isinstance(body["truncation"], bool):
            raise Reject(400, self.error(400, "truncation should be a boolean."))
        limit = self.total_tokens or self.model_total_tokens.get(body["model"], 600_000)
        total = len(query.split()) * len(docs) + sum(len(d.split()) for d in docs)
        if total > limit:
            raise Reject(400, self.error(400, (
                f"Request to model '{body['model']}' failed. The max allowed tokens per submitted batch is "
                f"{limit}. Your batch has {total} tokens. Please lower the number of tokens in the batch."
            )))
        return query, docs, top_k

    def too_many(self, count: int) -> Reject:  # (uncertain wording)
        return Reject(400, self.error(
            400, f"The number of documents ({count}) exceeds the limit of {self.max_documents}."
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        data = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "relevance_score": s}
            if body.get("return_documents"):
                item["document"] = documents[i]
            data.append(item)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"total_tokens": sum(len(d.split()) for d in documents)},
        }


class TEIDialect(Dialect):
    """Hugging Face text-embeddings-inference ``POST /rerank``: ``texts``, bare-array answer.

    From the router's source (router/src/http/server.rs, types.rs): axum's JSON extractor answers
    a missing or mistyped field with a plain-text 422 and unparsable JSON with a plain-text 400;
    ``--api-key`` makes a wrong key a bare 401 (no body); ``--max-client-batch-size`` (32) is a
    JSON 422 ``Validation`` error; bodies over ``--payload-limit`` (2 MB) get axum's plain 413.
    ``error_type`` serializes as the enum variant's name (``"Validation"``).
    """

    name = "tei"
    path = "/rerank"
    max_documents = 32
    max_body_bytes = 2_000_000
    _kinds: ClassVar[dict[Any, Any]] = {
        400: "Empty", 413: "Validation", 422: "Validation", 424: "Backend", 429: "Overloaded", 503: "Unhealthy",
    }
    _fields: ClassVar[dict[Any, Any]] = {
        "query": str, "texts": list, "truncate": (bool, type(None)), "raw_scores": bool, "return_text": bool,
        "truncation_direction": str,
    }

    def error(self, status: int, message: str) -> Any:
        return {"error": message, "error_type": self._kinds.get(status, "Backend")}

    def auth_error(self) -> Reject:
        return Reject(401, b"")

    def bad_json(self) -> Reject:
        return Reject(400, b"Failed to parse the request body as JSON: expected value at line 1 column 1")

    def too_large(self, size: int) -> Reject:
        return Reject(413, b"Failed to buffer the request body: length limit exceeded")

    @staticmethod
    def _deserialize(detail: str) -> Reject:
        return Reject(422, f"Failed to deserialize the JSON body into the target type: {detail}".encode())

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise self._deserialize("invalid type: expected struct RerankRequest at line 1 column 1")
        for name in ("query", "texts"):
            if name not in body:
                raise self._deserialize(f"missing field `{name}` at line 1 column {len(json.dumps(body))}")
        for name, kind in self._fields.items():
            if name in body and not isinstance(body[name], kind):
                raise self._deserialize(f"{name}: invalid type: {type(body[name]).__name__} at line 1 column 2")
        texts = body["texts"]
        if not all(isinstance(t, str) for t in texts):
            raise self._deserialize("texts: invalid type: expected a string at line 1 column 2")
        if body.get("truncation_direction", "right") not in ("left", "right", "Left", "Right"):
            raise self._deserialize("truncation_direction: unknown variant, expected `Left` or `Right`")
        if not texts:
            raise Reject(400, self.error(400, "`texts` cannot be empty"))
        return body["query"], list(texts), None

    def too_many(self, count: int) -> Reject:
        return Reject(422, self.error(
            422, f"batch size {count} > maximum allowed batch size {self.max_documents}"
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        if body.get("return_text"):
            return [{"index": i, "text": documents[i], "score": s} for i, s in ranking]
        return [{"index": i, "score": s} for i, s in ranking]


def _pydantic_error(kind: str, loc: Sequence[Any], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    """One entry of a FastAPI/pydantic v2 validation error list (``{"detail": [...]}``)."""
    item: dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


class InfinityDialect(Dialect):
    """michaelfeil/infinity ``POST /rerank`` (its "Cohere-aligned" endpoint; FastAPI + pydantic).

    From infinity_server.py and fastapi_schemas: ``documents`` 1..2,048 strings (the default
    ``INFINITY_MAX_CLIENT_BATCH_SIZE``), each at most 122,880 characters and whitespace-stripped;
    ``top_n`` > 0, ``return_documents``, ``raw_scores``, ``model``; unknown fields ignored.
    Validation fails with FastAPI's ``{"detail": [...]}`` 422; a wrong ``--api-key`` with
    ``{"detail": "Unauthorized"}``; other errors are OpenAI-style ``{"error": {...}}`` (429 when
    the engine is overloaded, 400 for an unknown model). ``document`` is a plain string, or null.
    """

    name = "infinity"
    path = "/rerank"
    max_documents = 2048
    max_chars = 8192 * 15

    def __init__(self, served_model: str = "mixedbread-ai/mxbai-rerank-xsmall-v1") -> None:
        self.served_model = served_model

    def error(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": None, "param": None, "code": status}}

    def auth_error(self) -> Reject:
        return Reject(401, {"detail": "Unauthorized"}, {"WWW-Authenticate": "Bearer"})

    def bad_json(self) -> Reject:
        return Reject(422, {"detail": [_pydantic_error(
            "json_invalid", ["body", 0], "JSON decode error", {}, error="Expecting value"
        )]})

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(422, {"detail": [_pydantic_error(
                "model_attributes_type", ["body"],
                "Input should be a valid dictionary or object to extract fields from", body,
            )]})
        errors = []
        query, docs = body.get("query"), body.get("documents")
        if "query" not in body:
            errors.append(_pydantic_error("missing", ["body", "query"], "Field required", body))
        elif not isinstance(query, str):
            errors.append(
                _pydantic_error("string_type", ["body", "query"], "Input should be a valid string", query)
            )
        if "documents" not in body:
            errors.append(_pydantic_error("missing", ["body", "documents"], "Field required", body))
        elif not isinstance(docs, list):
            errors.append(_pydantic_error("list_type", ["body", "documents"], "Input should be a valid list", docs))
        else:
            if not docs:
                errors.append(_pydantic_error(
                    "too_short", ["body", "documents"], "List should have at least 1 item after validation, not 0",
                    docs, field_type="List", min_length=1, actual_length=0,
                ))
            for i, doc in enumerate(docs):
                if not isinstance(doc, str):
                    errors.append(_pydantic_error(
                        "string_type", ["body", "documents", i], "Input should be a valid string", doc
                    ))
                elif len(doc) > self.max_chars:
                    errors.append(_pydantic_error(
                        "string_too_long", ["body", "documents", i],
                        f"String should have at most {self.max_chars} characters", doc, max_length=self.max_chars,
                    ))
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n <= 0):
            errors.append(_pydantic_error(
                "greater_than", ["body", "top_n"], "Input should be greater than 0", top_n, gt=0
            ))
        for flag in ("return_documents", "raw_scores"):
            if flag in body and not isinstance(body[flag], bool):
                errors.append(
                    _pydantic_error("bool_type", ["body", flag], "Input should be a valid boolean", body[flag])
                )
        if errors:
            raise Reject(422, {"detail": errors})
        return query.strip(), [d.strip() for d in docs], top_n

    def too_many(self, count: int) -> Reject:
        return Reject(422, {"detail": [_pydantic_error(
            "too_long", ["body", "documents"],
            f"List should have at most {self.max_documents} items after validation, not {count}",
            f"<{count} documents>", field_type="List", max_length=self.max_documents, actual_length=count,
        )]})

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "object": "rerank",
            "results": [
                {"relevance_score": s, "index": i, "document": documents[i] if echo else None}
                for i, s in ranking
            ],
            "model": self.served_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "id": f"infinity-{_uid()}",
            "created": int(time.time()),
        }


class VLLMDialect(Dialect):
    """vLLM's ``/rerank``, ``/v1/rerank`` (Jina-shaped) and ``/v2/rerank`` (Cohere-shaped) routes.

    From vllm/entrypoints (pooling/score, serve/middleware/authenticate.py, exception handlers):
    ``--api-key`` guards only paths under ``/v1``, ``/v2`` (so ``/rerank`` is open) and answers
    ``{"error": "Unauthorized"}``; request validation fails with 400 and an OpenAI-style
    ``{"error": {"message", "type", "param", "code"}}``; a ``model`` other than the served one is a
    404; ``top_n`` defaults to 0, meaning every document; unknown fields (``return_documents``,
    ``max_tokens_per_doc``) are ignored; every result carries ``document: {"text"}``.
    """

    name = "vllm"
    path = "/v1/rerank"
    paths = ("/rerank", "/v1/rerank", "/v2/rerank")
    _types: ClassVar[dict[Any, Any]] = {
        400: "BadRequestError", 404: "NotFoundError", 422: "UnprocessableEntityError",
        500: "InternalServerError", 501: "NotImplementedError",
    }

    def __init__(self, served_model: str = "BAAI/bge-reranker-v2-m3") -> None:
        self.served_model = served_model

    def accepts(self, path: str) -> bool:
        return path in self.paths

    def needs_auth(self, path: str) -> bool:
        return path.startswith(("/v1", "/v2", "/inference", "/cohere"))

    def error(self, status: int, message: str) -> Any:
        kind = self._types.get(status) or HTTPStatus(status).phrase
        return {"error": {"message": message, "type": kind, "param": None, "code": status}}

    def auth_error(self) -> Reject:
        return Reject(401, {"error": "Unauthorized"})

    @staticmethod
    def _invalid(errors: list[dict[str, Any]]) -> Reject:
        label = "error" if len(errors) == 1 else "errors"
        lines = "".join(f"\n  {dict(e, loc='.'.join(map(str, e['loc'])))}" for e in errors)
        return Reject(400, {"error": {
            "message": f"{len(errors)} validation {label}:{lines}", "type": "Bad Request",
            "param": ".".join(map(str, errors[0]["loc"])), "code": 400,
        }})

    def bad_json(self) -> Reject:
        return self._invalid([_pydantic_error("json_invalid", ["body", 0], "JSON decode error", {})])

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise self._invalid([_pydantic_error(
                "model_attributes_type", ["body"], "Input should be a valid dictionary", body
            )])
        errors = [
            _pydantic_error("missing", ["body", k], "Field required", body)
            for k in ("query", "documents") if k not in body
        ]
        if "query" in body and not isinstance(body["query"], str):
            errors.append(
                _pydantic_error("string_type", ["body", "query"], "Input should be a valid string", body["query"])
            )
        docs = body.get("documents")
        if "documents" in body and not (isinstance(docs, list) and all(isinstance(d, str) for d in docs)):
            errors.append(_pydantic_error("list_type", ["body", "documents"], "Input should be a valid list", docs))
        top_n = body.get("top_n", 0)
        if isinstance(top_n, bool) or not isinstance(top_n, int):
            errors.append(_pydantic_error("int_type", ["body", "top_n"], "Input should be a valid integer", top_n))
        if errors:
            raise self._invalid(errors)
        model = body.get("model")
        if model is not None and model != self.served_model:
            raise Reject(404, {"error": {
                "message": f"The model `{model}` does not exist.", "type": "NotFoundError",
                "param": "model", "code": 404,
            }})
        if not docs:
            raise Reject(400, self.error(400, "At least one text element must be given"))
        return body["query"], docs, top_n if top_n > 0 else None

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        tokens = sum(len(d.split()) + len(body["query"].split()) for d in documents)
        return {
            "id": f"rerank-{uuid.uuid4().hex}",
            "model": self.served_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "results": [
                {"index": i, "document": {"text": documents[i], "multi_modal": None}, "relevance_score": s}
                for i, s in ranking
            ],
        }


class TogetherDialect(Dialect):
    """Together AI ``POST /v1/rerank`` ("Cohere compatible"; Jina-shaped: ``top_n``, ``results``).

    From together-python (types/rerank.py, types/error.py): ``model``, ``query``, ``documents``
    (strings or objects), ``top_n``, ``return_documents``, ``rank_fields``; the answer has
    ``object: "rerank"``, ``results[].document`` (an object or null) and ``usage``; errors are
    ``{"error": {"message", "type", "param", "code"}}``. Messages below are (uncertain) stand-ins.
    """

    name = "together"
    path = "/v1/rerank"

    def error(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}

    def auth_error(self) -> Reject:
        return Reject(401, {"error": {
            "message": "Invalid API key provided.", "type": "invalid_request_error",
            "param": None, "code": "invalid_api_key",
        }})

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "request body must be a JSON object"))
        for key in ("model", "query", "documents"):
            if key not in body:
                raise Reject(400, self.error(400, f"'{key}' is a required property"))
        docs = body["documents"]
        if not isinstance(docs, list) or not docs or not all(isinstance(d, (str, dict)) for d in docs):
            raise Reject(400, self.error(400, "'documents' must be a non-empty list of strings or objects"))
        fields = body.get("rank_fields") or ["text"]
        texts = [d if isinstance(d, str) else " ".join(str(d.get(f, "")) for f in fields) for d in docs]
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise Reject(400, self.error(400, "'top_n' must be a positive integer"))
        return str(body["query"]), texts, top_n

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "object": "rerank",
            "id": _uid(),
            "model": body["model"],
            "results": [
                {"index": i, "relevance_score": s, "document": {"text": documents[i]} if echo else None}
                for i, s in ranking
            ],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }


class MixedbreadDialect(Dialect):
    """Mixedbread ``POST /v1/reranking``: ``input``, ``top_k``, ``return_input``; results in ``data``.

    From Mixedbread's API reference and SDK (mixedbread-python): ``model`` (default
    ``mixedbread-ai/mxbai-rerank-large-v2``), ``query`` (1..32,000 characters), ``input``
    (1..1,000 strings or objects), ``top_k``, ``return_input``, ``rank_fields``; the answer is
    ``{"usage", "model", "data": [{"index", "score", "input", "object": "rank_result"}], "object":
    "list", "top_k", "return_input"}``. Errors are ``{"type", "message", ...}`` with
    ``Retry-After`` on 429 (documented); the 401/422 wording is an (uncertain) stand-in.
    """

    name = "mixedbread"
    path = "/v1/reranking"
    max_documents = 1000
    max_query_chars = 32_000
    default_model = "mixedbread-ai/mxbai-rerank-large-v2"
    _types: ClassVar[dict[Any, Any]] = {
        400: "bad_request_error", 401: "unauthorized_error", 402: "payment_required_error",
        403: "forbidden_error", 404: "not_found_error", 422: "validation_error", 429: "too_many_requests_error",
        500: "internal_server_error", 503: "service_unavailable_error",
    }

    def error(self, status: int, message: str) -> Any:
        return {"type": self._types.get(status, "api_error"), "message": message}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Invalid API key."))

    def _invalid(self, field_: str, message: str) -> Reject:
        body = self.error(422, f"{field_}: {message}")
        body["details"] = [{"loc": ["body", field_], "msg": message}]
        return Reject(422, body)

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict):
            raise Reject(400, self.error(400, "Request body must be a JSON object"))
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise self._invalid("query", "String should have at least 1 character")
        if len(query) > self.max_query_chars:
            raise self._invalid("query", f"String should have at most {self.max_query_chars} characters")
        docs = body.get("input")
        if not isinstance(docs, list) or not docs:
            raise self._invalid("input", "List should have at least 1 item")
        if not all(isinstance(d, (str, dict)) for d in docs):
            raise self._invalid("input", "Input should be a valid string or object")
        model = body.get("model", self.default_model)
        if not isinstance(model, str) or not 1 <= len(model) <= 500:
            raise self._invalid("model", "String should have between 1 and 500 characters")
        top_k = body.get("top_k")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise self._invalid("top_k", "Input should be greater than or equal to 1")
        if "return_input" in body and not isinstance(body["return_input"], bool):
            raise self._invalid("return_input", "Input should be a valid boolean")
        fields = body.get("rank_fields") or ["text"]
        texts = [d if isinstance(d, str) else " ".join(str(d.get(f, "")) for f in fields) for d in docs]
        return query, texts, top_k

    def too_many(self, count: int) -> Reject:
        return self._invalid("input", f"List should have at most {self.max_documents} items, not {count}")

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_input", False)
        tokens = sum(len(d.split()) for d in documents)
        return {
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
            "model": body.get("model", self.default_model),
            "data": [
                {"index": i, "score": s, "input": body["input"][i] if echo else None, "object": "rank_result"}
                for i, s in ranking
            ],
            "object": "list",
            "top_k": body.get("top_k", len(documents)),
            "return_input": echo,
        }


class PineconeDialect(Dialect):
    """Pinecone inference ``POST /rerank``: ``Api-Key`` header, dated ``X-Pinecone-Api-Version``.

    From Pinecone's OpenAPI specs (pinecone-io/pinecone-api, inference_2025-10 / 2026-04):
    ``model``, ``query``, ``documents`` (objects, ranked on ``rank_fields``, default ``["text"]``),
    ``top_n``, ``return_documents`` (default true), ``parameters`` (``truncate``: ``END`` or
    ``NONE``); the answer is ``{"model", "data": [{"index", "score", "document"?}], "usage":
    {"rerank_units"}}``; errors ``{"error": {"code", "message"}, "status"}``. Per-model document
    caps follow Pinecone's model guide (bge-reranker-v2-m3 and pinecone-rerank-v0: 100,
    cohere-rerank-3.5: 200); their refusal wording is an (uncertain) stand-in.
    """

    name = "pinecone"
    path = "/rerank"
    model_documents: ClassVar[dict[Any, Any]] = {
        "bge-reranker-v2-m3": 100, "pinecone-rerank-v0": 100, "cohere-rerank-3.5": 200,
    }
    _codes: ClassVar[dict[Any, Any]] = {
        400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
        422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "UNKNOWN", 503: "UNAVAILABLE",
    }

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return {k.lower(): v for k, v in headers.items()}.get("api-key") == api_key

    def error(self, status: int, message: str) -> Any:
        return {"error": {"code": self._codes.get(status, "UNKNOWN"), "message": message}, "status": status}

    def auth_error(self) -> Reject:
        return Reject(401, self.error(401, "Invalid API key."))

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        bad = lambda message: Reject(400, self.error(400, message))  # noqa: E731
        if not isinstance(body, dict):
            raise bad("Bad request. The request body included invalid request parameters.")
        for key in ("model", "query", "documents"):
            if key not in body:
                raise bad(f"Missing required field '{key}'.")
        model, query, docs = body["model"], body["query"], body["documents"]
        if not isinstance(query, str) or not query:
            raise bad("'query' must be a non-empty string.")
        if not isinstance(docs, list) or not docs:
            raise bad("'documents' must be a non-empty list.")
        fields = body.get("rank_fields") or ["text"]
        texts = []
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) for f in fields):
                raise bad(f"Document at index {i} is missing the rank field(s) {fields}.")
            texts.append(" ".join(doc[f] for f in fields))
        limit = self.max_documents or self.model_documents.get(model, 100)
        if len(docs) > limit:
            raise bad(f"The number of documents ({len(docs)}) exceeds the maximum of {limit} for model {model}.")
        truncate = (body.get("parameters") or {}).get("truncate")
        if truncate is not None and truncate not in ("END", "NONE"):
            raise bad(f"Invalid value for parameter 'truncate': {truncate!r}; use 'END' or 'NONE'.")
        top_n = body.get("top_n")
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise bad("'top_n' must be a positive integer.")
        return query, texts, top_n

    def too_many(self, count: int) -> Reject:
        return Reject(400, self.error(
            400, f"The number of documents ({count}) exceeds the maximum of {self.max_documents}."
        ))

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        echo = body.get("return_documents", True)
        data = []
        for i, s in ranking:
            item: dict[str, Any] = {"index": i, "score": s}
            if echo:
                item["document"] = body["documents"][i]
            data.append(item)
        return {"model": body["model"], "data": data, "usage": {"rerank_units": 1}}


DIALECTS: dict[str, type[Dialect]] = {
    d.name: d
    for d in (
        CohereDialect, JinaDialect, VoyageDialect, TEIDialect, InfinityDialect, VLLMDialect,
        TogetherDialect, MixedbreadDialect, PineconeDialect,
    )
}


# -- faults -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """What the server does instead of (or besides) a normal answer for one request."""

    kind: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    message: Optional[str] = None
    body: Optional[bytes] = None
    delay: float = 0.0
    mutate: Optional[Callable[[Any], Any]] = None

    @classmethod
    def error(cls, status: int, message: Optional[str] = None, headers: Optional[Mapping[str, str]] = None):
        """Answer ``status`` with the provider's error body (and e.g. a ``retry-after`` header)."""
        return cls("status", status=status, message=message, headers=dict(headers or {}))

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without answering."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before the normal answer."""
        return cls("slow", delay=seconds)

    @classmethod
    def raw(cls, body: bytes, status: int = 200, content_type: str = "application/json") -> Fault:
        """Answer these exact bytes (e.g. malformed JSON)."""
        return cls("raw", status=status, body=body, headers={"Content-Type": content_type})

    @classmethod
    def change(cls, mutate: Callable[[Any], Any]) -> Fault:
        """Answer ``mutate(normal answer)``: duplicate, drop or corrupt rows."""
        return cls("change", mutate=mutate)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any


# -- the server ---------------------------------------------------------------------------------
class FakeRerankServer:
    """A threaded HTTP server on 127.0.0.1 speaking ``dialect``; use as a context manager.

    ``api_key``: the Bearer key it accepts (None: no auth). ``latency``: seconds added to every
    answer. ``fault_rate`` / ``fault_statuses`` / ``fault_headers``: answer that share of requests
    (chosen by a seeded random generator) with one of those statuses. :meth:`script` queues
    faults for the next requests, in arrival order. ``max_lifetime``: seconds after which the
    server stops by itself, so a hung test cannot keep it alive.
    """

    def __init__(
        self,
        dialect: str | Dialect = "cohere",
        *,
        api_key: Optional[str] = "test-key",
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_statuses: Sequence[int] = (429, 503),
        fault_headers: Optional[Mapping[str, str]] = None,
        seed: int = 0,
        max_documents: Optional[int] = -1,
        max_lifetime: float = 120.0,
    ) -> None:
        self.dialect = DIALECTS[dialect]() if isinstance(dialect, str) else dialect
        if max_documents != -1:
            self.dialect.max_documents = max_documents
        self.api_key = api_key
        self.latency = latency
        self.fault_rate = fault_rate
        self.fault_statuses = tuple(fault_statuses)
        self.fault_headers = dict(fault_headers or {})
        self.max_lifetime = max_lifetime
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._script: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.faults_injected = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._timer: Optional[threading.Timer] = None

    # -- control -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to give a plugin as ``base_url``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def attempts(self) -> int:
        """How many requests arrived (every retry counts)."""
        with self._lock:
            return len(self.seen)

    def script(self, *faults: Fault) -> None:
        """Apply these faults to the next requests, one each, in arrival order."""
        with self._lock:
            self._script.extend(faults)

    def reset(self) -> None:
        """Forget recorded requests and queued faults."""
        with self._lock:
            self.seen.clear()
            self._script.clear()
            self.faults_injected = 0
            self.max_in_flight = 0

    def start(self) -> FakeRerankServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-rerank", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if self._timer is not None:
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> FakeRerankServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- request handling ----------------------------------------------------------------------
    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            if self._script:
                self.faults_injected += 1
                return self._script.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                self.faults_injected += 1
                return Fault.error(self._rng.choice(self.fault_statuses), headers=self.fault_headers)
        return None

    def _record(self, path: str, headers: dict[str, str], body: Any) -> None:
        with self._lock:
            self.seen.append(Seen(time.monotonic(), path, headers, body))

    def handle(self, path: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Decide the answer to one request: (status, headers, body); ``status == 0`` means drop."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._handle(path, headers, raw)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle(self, path: str, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._record(path, dict(headers), body)
        fault = self._next_fault()
        if self.latency:
            time.sleep(self.latency)
        if fault is not None and fault.kind == "drop":
            return 0, {}, b""
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "raw":
            return fault.status, dict(fault.headers), fault.body or b""
        if fault is not None and fault.kind == "status":
            message = fault.message or {429: "rate limit exceeded", 503: "service unavailable"}.get(
                fault.status, f"error {fault.status}"
            )
            return self._json(fault.status, self.dialect.error(fault.status, message), fault.headers)
        dialect = self.dialect
        if not dialect.accepts(path):
            return self._json(404, dialect.error(404, f"no route for {path}"))
        try:
            if self.api_key is not None and dialect.needs_auth(path):
                if not dialect.authorized(headers, self.api_key):
                    raise dialect.auth_error()
            if dialect.max_body_bytes is not None and len(raw) > dialect.max_body_bytes:
                raise dialect.too_large(len(raw))
            if body is None:
                raise dialect.bad_json()
            query, docs, top_k = dialect.parse(body)
            if dialect.max_documents is not None and len(docs) > dialect.max_documents:
                raise dialect.too_many(len(docs))
        except Reject as reject:
            return self._reply(reject)
        ranking = sorted(
            ((i, fake_score(query, d)) for i, d in enumerate(docs)), key=lambda p: (-p[1], p[0])
        )
        if top_k is not None:
            ranking = ranking[:top_k]
        answer = self.dialect.answer(body, ranking, docs)
        if fault is not None and fault.kind == "change" and fault.mutate is not None:
            answer = fault.mutate(answer)
        return self._json(200, answer)

    @staticmethod
    def _json(status: int, payload: Any, headers: Optional[Mapping[str, str]] = None):
        out = {"Content-Type": "application/json", **dict(headers or {})}
        return status, out, json.dumps(payload).encode()

    @classmethod
    def _reply(cls, reject: Reject) -> tuple[int, dict[str, str], bytes]:
        if isinstance(reject.body, bytes):
            headers = {**(_TEXT if reject.body else {}), **reject.headers}
            return reject.status, headers, reject.body
        return cls._json(reject.status, reject.body, reject.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connecting at once must not be refused


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # idle keep-alive connections end, so no handler thread lingers
    fake: FakeRerankServer

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            status, headers, body = self.fake.handle(self.path, dict(self.headers.items()), raw)
        except Exception as exc:  # a bug in a test's mutate function: answer 500, keep serving
            status, headers, body = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
        if status == 0:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. its timeout passed)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


__all__ = [
    "DIALECTS",
    "CohereDialect",
    "Dialect",
    "FakeRerankServer",
    "Fault",
    "InfinityDialect",
    "JinaDialect",
    "MixedbreadDialect",
    "PineconeDialect",
    "Reject",
    "Seen",
    "TEIDialect",
    "TogetherDialect",
    "VLLMDialect",
    "VoyageDialect",
    "fake_score",
]
