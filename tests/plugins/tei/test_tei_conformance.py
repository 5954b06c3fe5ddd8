"""rerankit-tei under the plugin conformance suite (rerankit.testing), against a local TEI fake."""

from __future__ import annotations

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance


@pytest.fixture(scope="module")
def tei_server():
    with FakeRerankServer("tei", api_key=None) as server:
        yield server


class TestTEIConformance(RerankerConformance):
    name = "tei"
    distribution = "rerankit-tei"

    @pytest.fixture
    def conformance_config(self, tei_server):
        return {"base_url": tei_server.url}
