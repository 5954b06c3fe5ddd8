"""rerankit-mixedbread under the plugin conformance suite (rerankit.testing), against a local server."""

from __future__ import annotations

from typing import ClassVar

import pytest

from rerankit.testing import FakeRerankServer, RerankerConformance
from rerankit.testing.hosted import KEY


@pytest.fixture(scope="module")
def mixedbread_server():
    with FakeRerankServer("mixedbread", api_key=KEY) as server:
        yield server


class TestMixedbreadConformance(RerankerConformance):
    name = "mixedbread"
    distribution = "rerankit-mixedbread"
    env: ClassVar[dict] = {"MXBAI_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, mixedbread_server):
        return {"base_url": mixedbread_server.url}
