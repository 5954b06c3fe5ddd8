"""`rerankit serve` answers GET /openapi.json with the document the site's serve API page renders,
and the document describes exactly the routes the app has."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

import rerankit
from rerankit.serve import create_app
from rerankit.serve._openapi import openapi_document
from rerankit.serve._service import ROUTES


def test_the_server_answers_its_openapi_document() -> None:
    app = create_app({"hybrid": rerankit.get_reranker("rrf")}, warm_up=False)
    routes = {(r.path, m.lower()) for r in app.routes if isinstance(r, Route) for m in r.methods if m != "HEAD"}
    with TestClient(app) as client:
        answer = client.get("/openapi.json")
        assert answer.status_code == 200
        doc = answer.json()
        # the served names are the `model` enum; the rest is the document the site renders
        assert doc["paths"]["/v2/rerank"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"]["model"]["enum"] == ["hybrid"]
        assert {(p, m) for p, ops in doc["paths"].items() for m in ops} == routes
        assert doc["openapi"].startswith("3.") and doc["info"]["version"] == rerankit.__version__
        # a route the document describes answers as it says
        documents = [{"text": "a", "_distance": 0.2}, {"text": "b", "_score": 1.0}]
        ok = client.post("/v1/rerank", json={"model": "hybrid", "query": "q", "documents": documents})
        assert ok.status_code == 200 and set(ok.json()["results"][0]) >= {"index", "relevance_score"}


def test_the_site_renders_the_same_document() -> None:
    from docs._site.generate import serve_api_page

    page = serve_api_page()
    for path, ops in openapi_document(ROUTES)["paths"].items():
        for method in ops:
            assert f"## `{method.upper()} {path}`" in page
