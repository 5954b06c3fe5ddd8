"""rerankit serve's input rules: every malformed body and wrong type, on every rerank route, is
answered in that API's own status and error shape (never a plain-text 500, never a traceback in
the body or an ERROR log line), and every 200 answers for exactly the documents sent.

One module-scoped server (start-ups are slow) serves a word scorer, the ``rrf`` fusion, a word
scorer reading a template column, and two hosted models pointed at a fake Cohere: one with
``passages`` and one whose ``base_url`` carries credentials.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

import rerankit
from rerankit import RerankerConfig, ScoringReranker
from rerankit.serve import Limits, ServeSettings, create_app
from rerankit.testing import FakeRerankServer, Fault, fake_score
from tests.serve.serve_support import LiveServer, WordScorer, word_reranker

KEY = "serve-key-5d1e"
AUTH = {"Authorization": f"Bearer {KEY}"}
UPSTREAM_KEY = "sk-upstream-KEY-91c3"
URL_PASSWORD = "url-PASSWORD-0f7a"
TEMPLATE = "{title}: {text}"


@pytest.fixture(scope="module")
def upstream():
    with FakeRerankServer("cohere", api_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeRerankServer):
    port = upstream.url.rsplit(":", 1)[1]
    hosted = {"api_key": UPSTREAM_KEY, "max_retries": 0}
    config = RerankerConfig(column=TEMPLATE)
    models = {
        "words": word_reranker(),
        "rrf": rerankit.get_reranker("rrf"),
        "tmpl": ScoringReranker("tmpl", config, WordScorer(config)),
        "hosted": rerankit.get_reranker("cohere", base_url=upstream.url, passages={"max_length": 8}, **hosted),
        "userinfo": rerankit.get_reranker("cohere", base_url=f"http://admin:{URL_PASSWORD}@127.0.0.1:{port}", **hosted),
    }
    settings = ServeSettings(limits=Limits(max_documents=40, max_body_bytes=200_000), api_keys=(KEY,))
    live = LiveServer(create_app(models, settings)).start()
    live.wait_ready()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def _errors_logged(caplog: pytest.LogCaptureFixture):
    """Collects the server's log; each test says what it allows at ERROR."""
    caplog.set_level(logging.DEBUG, logger="rerankit")
    yield


# -- each API's own error shape ---------------------------------------------------------------------
def cohere_shape(response: httpx.Response) -> bool:
    body = response.json()
    return set(body) == {"id", "message"} and isinstance(body["message"], str)


def jina_shape(response: httpx.Response) -> bool:
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return True
    return all({"type", "loc", "msg"} <= set(item) and item["loc"][0] == "body" for item in detail)


def tei_shape(response: httpx.Response) -> bool:
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return set(body) == {"error", "error_type"}
    return response.text.startswith("Failed to")


SHAPES = {"/v2/rerank": cohere_shape, "/v1/rerank": jina_shape, "/rerank": tei_shape}
DEEP = b"[" * 30_000 + b"]" * 30_000
SURROGATE_QUERY = '{"model": "words", "query": "wing \\ud800", "documents": ["a"]}'
SURROGATE_DOC = '{"model": "words", "query": "wing", "documents": ["a", "b \\udfff c"]}'

#: (route, raw body, expected status): the body's fields each wrong in one way.
MALFORMED: list[tuple[str, Any, int]] = []
for path, good in [
    ("/v2/rerank", {"model": "words", "query": "wing", "documents": ["a", "b"]}),
    ("/v1/rerank", {"model": "words", "query": "wing", "documents": ["a", {"text": "b"}]}),
    ("/rerank", {"query": "wing", "texts": ["a", "b"]}),
]:
    cohere, jina = path == "/v2/rerank", path == "/v1/rerank"
    texts = "texts" if path == "/rerank" else "documents"
    type_status = 400 if cohere else 422
    cases: list[tuple[Any, int]] = [
        (b"{nope", 400), (b"", 400), (DEEP, 400), (b"[]", type_status), (b'"x"', type_status), (b"null", type_status),
        (SURROGATE_QUERY.replace('"documents"', f'"{texts}"').encode(), 400),
        (SURROGATE_DOC.replace('"documents"', f'"{texts}"').encode(), 400),
        ({**good, "query": None}, type_status), ({**good, "query": 42}, type_status),
        ({**good, "query": ["x"]}, type_status), ({**good, "query": {"text": "x"}}, type_status),
        ({**good, texts: "a b"}, type_status), ({**good, texts: None}, type_status),
        ({**good, texts: [None]}, type_status), ({**good, texts: [42]}, type_status),
        ({**good, texts: [["a"]]}, type_status),
    ]
    if path != "/rerank":
        cases += [
            ({**good, "model": ["words"]}, type_status), ({**good, "model": {}}, type_status),
            ({**good, "model": 42}, type_status), ({**good, "top_n": True}, type_status),
            ({**good, "top_n": "3"}, type_status), ({**good, "top_n": 0}, type_status),
            ({**good, "top_n": 1.5}, type_status),
        ]
    if jina:
        cases += [
            ({**good, "documents": [{"text": None}]}, 422), ({**good, "documents": [{"text": 42}]}, 422),
            ({**good, "documents": [{"title": "no text"}]}, 422), ({**good, "return_documents": "no"}, 422),
            ({**good, "model": None}, 422),
        ]
    if cohere:
        cases += [
            ({**good, "max_tokens_per_doc": True}, 400), ({**good, "relevant_spans": {"mode": "sometimes"}}, 400),
            ({**good, "relevant_spans": "disabled"}, 400), ({**good, "priority": True}, 400),
        ]
    if path == "/rerank":
        cases += [({**good, "raw_scores": 1}, 422), ({**good, "return_text": "yes"}, 422)]
    MALFORMED += [(path, body, status) for body, status in cases]


def post(server: LiveServer, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.url}{path}", content=content, headers={**AUTH, "content-type": "application/json",
                                                                         **headers}, timeout=60)


def no_traceback(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in response.text and "File \"" not in response.text, response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.mark.parametrize(("path", "body", "status"), MALFORMED, ids=[f"{p}-{i}" for i, (p, *_) in enumerate(MALFORMED)])
def test_malformed_bodies_get_their_apis_error(server: LiveServer, caplog, path: str, body: Any, status: int) -> None:
    response = post(server, path, body)
    assert response.status_code == status, (body if not isinstance(body, bytes) else body[:80], response.text[:300])
    assert SHAPES[path](response), response.text[:300]
    no_traceback(response, caplog)


# -- every 200 answers for every document ------------------------------------------------------------
WELL_FORMED: list[tuple[str, dict[str, Any], int]] = [
    ("/v2/rerank", {"model": "words", "query": "wing lift", "documents": ["wing", "lift", "tail"]}, 3),
    ("/v2/rerank", {"model": "words", "query": "wing", "documents": ["a", "b"], "top_n": 5}, 2),
    ("/v2/rerank", {"model": "words", "query": "wing", "documents": ["a", "b", "c"], "top_n": 2}, 2),
    ("/v2/rerank", {"model": "words", "query": "wing", "documents": ["a"], "relevant_spans": {"mode": "disabled"},
                    "priority": 3}, 1),
    # Cohere's chunk rule (documents x max chunks < 10,000) is the provider's, not this server's
    ("/v2/rerank", {"model": "words", "query": "wing", "documents": ["a", "b"], "max_tokens_per_doc": 10**9}, 2),
    ("/v1/rerank", {"model": "words", "query": "wing", "documents": []}, 0),
    ("/v1/rerank", {"model": "words", "query": "wing", "documents": ["a", {"text": "b", "extra": 1}]}, 2),
    ("/v1/rerank", {"model": "rrf", "query": "q", "documents": [
        {"text": "a", "_distance": 0.1}, {"text": "b", "_score": 2.0},
        {"text": "c", "_distance": 0.3, "_score": 1.0}]}, 3),
    ("/v1/rerank", {"model": "tmpl", "query": "wing", "documents": [
        {"title": "Wing", "text": "lift"}, "plain text", {"text": "no title"}]}, 3),
    ("/rerank", {"query": "wing", "texts": ["wing", "tail", "wing tail"], "return_text": True}, 3),
]


@pytest.mark.parametrize(("path", "body", "count"), WELL_FORMED, ids=[f"{w[0]}-{i}" for i, w in enumerate(WELL_FORMED)])
def test_documents_in_equal_documents_out(server: LiveServer, caplog, path: str, body: dict, count: int) -> None:
    response = post(server, path, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    results = answer if isinstance(answer, list) else answer["results"]
    assert len(results) == count
    assert len({r["index"] for r in results}) == count  # each document once
    no_traceback(response, caplog)


def test_a_template_column_is_served_from_the_documents_fields(server: LiveServer) -> None:
    docs = [{"title": "Wing", "text": "lift"}, "wing tail", {"text": "wing", "title": None}]
    answer = post(server, "/v1/rerank", {"model": "tmpl", "query": "wing lift", "documents": docs}).json()
    scores = {r["index"]: r["relevance_score"] for r in answer["results"]}
    rendered = ["Wing: lift", ": wing tail", ": wing"]  # a field a document lacks reads as empty
    assert scores == pytest.approx({i: fake_score("wing lift", t) for i, t in enumerate(rendered)})
    assert [r["document"]["text"] for r in answer["results"] if r["index"] == 0] == ["lift"]  # the text, as sent


# -- nothing a client sent is lost -----------------------------------------------------------------
@pytest.mark.parametrize(
    "docs",
    [
        [{"text": "a"}, {"text": "b", "_distance": 0.1}],  # the request: no score at all
        [{"text": "a", "_distance": None}, {"text": "b", "_distance": 0.1}],  # a null score
        [{"text": "a", "_score": None, "_distance": None}, {"text": "b", "_score": 3.0}],
        ["a", {"text": "b", "_distance": 0.1}],
    ],
)
def test_a_fusion_document_without_a_score_is_a_400(server: LiveServer, caplog, docs: list) -> None:
    response = post(server, "/v1/rerank", {"model": "rrf", "query": "q", "documents": docs})
    assert response.status_code == 400, response.text
    assert "index 0" in response.json()["detail"] and "'_distance'" in response.json()["detail"]
    no_traceback(response, caplog)


# -- a client's mistake is a 4xx ---------------------------------------------------------------------
def test_a_query_too_long_for_the_passages_window_is_a_400(server: LiveServer, caplog) -> None:
    query = " ".join(["wing"] * 12)  # more words than passages.max_length = 8
    response = post(server, "/v2/rerank", {"model": "hosted", "query": query, "documents": ["a b c"]})
    assert response.status_code == 400 and cohere_shape(response), response.text
    assert "shorten the query" in response.json()["message"]
    no_traceback(response, caplog)


# -- upstream failures: no key, no URL, no credentials ------------------------------------------------
def test_a_502_shows_neither_key_nor_upstream_url(server: LiveServer, upstream: FakeRerankServer, caplog) -> None:
    upstream.script(Fault.error(500, f"internal error for key {UPSTREAM_KEY}"))
    response = post(server, "/v2/rerank", {"model": "hosted", "query": "wing", "documents": ["a b"]})
    assert response.status_code == 502 and cohere_shape(response), response.text
    assert "hosted" in response.json()["message"] and "HTTP 500" in response.json()["message"]
    assert UPSTREAM_KEY not in response.text and upstream.url not in response.text and "127.0.0.1" not in response.text
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert UPSTREAM_KEY not in logged and "500" in logged  # the whole story is in the server's log


def test_url_credentials_never_reach_a_body_or_the_log(server: LiveServer, caplog) -> None:
    for path, body in [("/v2/rerank", {"model": "userinfo", "query": "wing", "documents": ["a"]}),
                       ("/v1/rerank", {"model": "userinfo", "query": "wing", "documents": ["a"]})]:
        response = post(server, path, body)
        assert response.status_code == 502 and SHAPES[path](response), response.text
        assert URL_PASSWORD not in response.text and "admin" not in response.text
    models = httpx.get(f"{server.url}/v1/models", headers=AUTH).text
    assert URL_PASSWORD not in models
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert URL_PASSWORD not in logged and "**********@127.0.0.1" in logged


def test_ready_without_the_key_shows_no_models(server: LiveServer) -> None:
    bare = httpx.get(f"{server.url}/ready")
    assert bare.status_code == 200 and bare.json() == {"status": "ready"}
    full = httpx.get(f"{server.url}/ready", headers=AUTH).json()
    assert set(full["models"]) == {"words", "rrf", "tmpl", "hosted", "userinfo"}

    def model_field(headers: dict) -> dict:
        doc = httpx.get(f"{server.url}/openapi.json", headers=headers).json()
        return doc["paths"]["/v2/rerank"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"]["model"]

    assert "enum" not in model_field({}) and "hosted" in model_field(AUTH)["enum"]
