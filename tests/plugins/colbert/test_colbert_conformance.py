"""colbert and answerdotai under the plugin conformance suite, with a tiny checkpoint saved by the test."""

from __future__ import annotations

import pytest

from rerankit.testing import RerankerConformance


class TestColbertConformance(RerankerConformance):
    name = "colbert"
    distribution = "rerankit-colbert"

    @pytest.fixture
    def conformance_config(self, stanford):
        return {"model_name": str(stanford), "device": "cpu"}


class TestAnswerdotaiConformance(RerankerConformance):
    name = "answerdotai"
    distribution = "rerankit-colbert"

    @pytest.fixture
    def conformance_config(self, pylate):
        return {"model_name": str(pylate), "device": "cpu"}
