"""rerankit-jina under the plugin conformance suite (rerankit.testing), against a local server."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance
from rerankit.testing.hosted import KEY


@pytest.fixture(scope="module")
def jina_server():
    with FakeRerankServer("jina", api_key=KEY) as server:
        yield server


class TestJinaConformance(RerankerConformance):
    name = "jina"
    distribution = "rerankit-jina"
    env: ClassVar[dict] = {"JINA_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, jina_server):
        return {"base_url": jina_server.url}
