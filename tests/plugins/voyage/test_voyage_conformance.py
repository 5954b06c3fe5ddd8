"""rerankit-voyage under the plugin conformance suite (rerankit.testing), against a local server."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance
from rerankit.testing.hosted import KEY


@pytest.fixture(scope="module")
def voyage_server():
    with FakeRerankServer("voyage", api_key=KEY) as server:
        yield server


class TestVoyageConformance(RerankerConformance):
    name = "voyage"
    distribution = "rerankit-voyage"
    env: ClassVar[dict] = {"VOYAGE_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, voyage_server):
        return {"base_url": voyage_server.url, "model_name": "rerank-2.5"}
