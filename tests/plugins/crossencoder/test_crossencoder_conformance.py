"""rerankit-crossencoder under the plugin conformance suite, with a tiny model saved by the test."""

from __future__ import annotations

import pytest

from rerankit.testing import RerankerConformance


class TestCrossEncoderConformance(RerankerConformance):
    name = "crossencoder"
    distribution = "rerankit-crossencoder"

    @pytest.fixture
    def conformance_config(self, tiny_model):
        return {"model_name": tiny_model, "device": "cpu"}
