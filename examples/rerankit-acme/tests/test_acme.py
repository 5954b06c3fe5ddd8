"""rerankit-acme against a local server that speaks the Acme Rank API, under both suites."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import pytest

from rerankit.testing import Dialect, FakeRerankServer, HostedRerankerConformance, Reject, RerankerConformance
from rerankit.testing.hosted import KEY


class AcmeDialect(Dialect):
    """Acme's wire format: what the server accepts, how it answers, how it refuses."""

    name = "acme"
    path = "/v1/rank"
    max_documents = 100

    def error(self, status: int, message: str) -> Any:
        return {"error": {"type": "invalid_request" if status < 500 else "server_error", "message": message}}

    def parse(self, body: Any) -> tuple[str, list[str], Optional[int]]:
        if not isinstance(body, dict) or not body.get("model"):
            raise Reject(400, self.error(400, "model is required"))
        query, passages, limit = body.get("query"), body.get("passages"), body.get("limit")
        if not isinstance(query, str) or not query.strip():
            raise Reject(400, self.error(400, "query must be a non-empty string"))
        if not isinstance(passages, list) or not passages or not all(isinstance(p, str) for p in passages):
            raise Reject(400, self.error(400, "passages must be a non-empty list of strings"))
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise Reject(400, self.error(400, "limit must be a positive integer"))
        return query, passages, limit

    def answer(self, body: Any, ranking: list[tuple[int, float]], documents: list[str]) -> Any:
        return {"model": body["model"], "ranking": [{"index": i, "score": s} for i, s in ranking]}


class TestAcmeHosted(HostedRerankerConformance):
    """Retries, 429s, timeouts, malformed answers, splitting, key handling: against AcmeDialect."""

    name = "acme"
    dialect = AcmeDialect
    env_vars = ("ACME_API_KEY",)
    top_n_field = "limit"
    results_key = "ranking"


@pytest.fixture(scope="module")
def acme_server():
    with FakeRerankServer(AcmeDialect(), api_key=KEY) as server:
        yield server


class TestAcmeConformance(RerankerConformance):
    """The rules every rerankit reranker follows (rows, order, top_n, errors, secrets)."""

    name = "acme"
    distribution = "rerankit-acme"
    env: ClassVar[dict] = {"ACME_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, acme_server):
        return {"base_url": acme_server.url}
