"""rerankit-cohere under the plugin conformance suite (rerankit.testing), against a local server."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance
from rerankit.testing.hosted import KEY


@pytest.fixture(scope="module")
def cohere_server():
    with FakeRerankServer("cohere", api_key=KEY) as server:
        yield server


class TestCohereConformance(RerankerConformance):
    name = "cohere"
    distribution = "rerankit-cohere"
    env: ClassVar[dict] = {"CO_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, cohere_server):
        return {"base_url": cohere_server.url}
