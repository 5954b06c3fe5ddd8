"""rerankit-pinecone under the plugin conformance suite (rerankit.testing), against a local server."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance
from rerankit.testing.hosted import KEY


@pytest.fixture(scope="module")
def pinecone_server():
    with FakeRerankServer("pinecone", api_key=KEY) as server:
        yield server


class TestPineconeConformance(RerankerConformance):
    name = "pinecone"
    distribution = "rerankit-pinecone"
    env: ClassVar[dict] = {"PINECONE_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, pinecone_server):
        return {"base_url": pinecone_server.url}
