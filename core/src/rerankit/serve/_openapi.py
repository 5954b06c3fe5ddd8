"""The OpenAPI document of ``rerankit serve`` (``GET /openapi.json``, and the docs' serve API page).

Built from the service's ``ROUTES`` (which rerank route speaks which wire format), passed in, so a
route added there without a description here fails the test that compares the document with the
app's routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from .._version import __version__


def _obj(props: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _s(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


_TEXTS = {"type": "array", "items": {"type": "string"}}
_DOCS = {"type": "array", "description": "The documents: strings, or objects with `text` (and `_distance` / "
         "`_score` for a fusion reranker).", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}}
_MODEL = "A served model's name (its table name in the config); 404 naming the served models when unknown."

_BODIES: dict[str, dict[str, Any]] = {
    "cohere": _obj({
        "model": _s("string", _MODEL),
        "query": _s("string", "The query."),
        "documents": {**_TEXTS, "description": "The documents' texts."},
        "top_n": _s("integer", "Keep the best n results."),
        "max_tokens_per_doc": _s("integer", "Cut each document to this many words before scoring."),
    }, ["model", "query", "documents"]),
    "jina": _obj({
        "model": _s("string", _MODEL),
        "query": _s("string", "The query."),
        "documents": _DOCS,
        "top_n": _s("integer", "Keep the best n results."),
        "return_documents": _s("boolean", "Echo each document's text in its result (default true)."),
    }, ["model", "query", "documents"]),
    "tei": _obj({
        "query": _s("string", "The query (the config's first model scores it: TEI has no model field)."),
        "texts": {**_TEXTS, "description": "The documents' texts."},
        "return_text": _s("boolean", "Echo each text in its result."),
        "raw_scores": _s("boolean", "Accepted; scores are the reranker's own either way."),
        "truncate": _s("boolean", "Accepted; a local model truncates at its max_length and logs the count."),
    }, ["query", "texts"]),
}

_ANSWERS: dict[str, dict[str, Any]] = {
    "cohere": _obj({"id": _s("string", "Request id."), "results": {"type": "array", "items": _obj(
        {"index": _s("integer", "Position in `documents`."), "relevance_score": _s("number", "Best first.")})},
        "meta": _s("object", "Billed units.")}),
    "jina": _obj({"model": _s("string", "The served model."), "usage": _s("object", "Tokens counted."),
                  "results": {"type": "array", "items": _obj({"index": _s("integer", "Position in `documents`."),
                              "relevance_score": _s("number", "Best first."),
                              "document": _s("object", "`{\"text\"}` unless return_documents is false.")})}}),
    "tei": {"type": "array", "items": _obj({"index": _s("integer", "Position in `texts`."),
                                           "score": _s("number", "Best first."),
                                           "text": _s("string", "With return_text.")})},
}

_SUMMARY = {
    "cohere": ("Rerank, Cohere v2 wire format", "Cohere's `/v2/rerank`; the Cohere SDK and rerankit's `cohere` "
               "plugin call it with `base_url`. Errors are `{\"message\"}` bodies."),
    "jina": ("Rerank, Jina / vLLM / Infinity wire format", "Jina's `/v1/rerank` (also vLLM's and Infinity's); "
             "errors are `{\"detail\"}` bodies, field errors FastAPI-style lists."),
    "tei": ("Rerank, text-embeddings-inference wire format", "TEI's `/rerank`: a bare array answer; errors as TEI "
            "sends them (plain text or `{\"error\", \"error_type\"}`)."),
}

_ERRORS = {
    "400": {"description": "Bad request (body not JSON, too many documents, rows the reranker refuses)."},
    "401": {"description": "Missing or wrong API key (when the server has --api-key)."},
    "404": {"description": "Unknown model."},
    "413": {"description": "Body over --max-body-bytes."},
    "422": {"description": "A field fails validation."},
    "429": {"description": "Queue full (TEI's shape), with retry-after."},
    "500": {"description": "The reranker raised (its error type named; the server logs the traceback)."},
    "502": {"description": "A hosted provider behind the reranker failed."},
    "503": {"description": "Queue full or the provider rate-limited, with retry-after."},
    "504": {"description": "Over --timeout."},
}


def _get(summary: str, description: str, answer: Optional[dict[str, Any]] = None,
         content: str = "application/json", extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if answer is not None:
        ok["content"] = {content: {"schema": answer}}
    return {"get": {"summary": summary, "description": description, "responses": {"200": ok, **(extra or {})}}}


def openapi_document(routes: Mapping[str, str], models: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the server: ``routes`` maps each rerank path to its wire format
    (``_service.ROUTES``); ``models`` (the served names) become the enum of ``model``."""
    paths: dict[str, Any] = {}
    for path, dialect in routes.items():
        body = _BODIES[dialect]
        if models and "model" in body["properties"]:
            body = {**body, "properties": {**body["properties"], "model": {**body["properties"]["model"],
                                                                           "enum": list(models)}}}
        summary, description = _SUMMARY[dialect]
        paths[path] = {"post": {
            "summary": summary,
            "description": description,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "Results, best first.",
                                  "content": {"application/json": {"schema": _ANSWERS[dialect]}}}, **_ERRORS},
        }}
    paths["/v1/models"] = _get("Served models", "OpenAI-style list of the served models.", _obj(
        {"object": _s("string", "`list`"), "data": {"type": "array", "items": _obj(
            {"id": _s("string", "Served name."), "reranker": _s("string", "Reranker name."),
             "kind": _s("string", "`scorer` or `fusion`."), "batched": _s("boolean", "Batched across requests.")})}}),
        extra={"401": _ERRORS["401"]})
    paths["/health"] = _get("Liveness", "200 while the process answers.", _obj({"status": _s("string", "`ok`")}))
    paths["/ready"] = _get("Readiness", "200 once every local model is loaded; 503 while loading, after a failed "
                           "load, or when shutting down.", extra={"503": {"description": "Not ready."}})
    paths["/metrics"] = _get("Prometheus metrics", "Requests, errors, latency, batch sizes, queue depth, usage.",
                             {"type": "string"}, content="text/plain")
    paths["/openapi.json"] = _get("This document", "The OpenAPI document of this server.", {"type": "object"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "rerankit serve", "version": __version__,
                 "description": "Any rerankit reranker behind the rerank APIs clients already speak."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}, {}],
        "paths": paths,
    }
