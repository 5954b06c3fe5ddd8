"""The conformance suite run on the core's own fusion rerankers (rrf, linear, mrr)."""

from __future__ import annotations

from typing import ClassVar

from rerankit.testing import RerankerConformance


class TestRRFConformance(RerankerConformance):
    name = "rrf"
    distribution = "rerankit"
    config: ClassVar[dict] = {"K": 30}


class TestLinearConformance(RerankerConformance):
    name = "linear"
    distribution = "rerankit"
    config: ClassVar[dict] = {"weight": 0.6, "fill": 0.5}


class TestMRRConformance(RerankerConformance):
    name = "mrr"
    distribution = "rerankit"
    config: ClassVar[dict] = {"weight_vector": 0.3, "weight_fts": 0.7}
