"""The conformance suite run on the core's own fusion rerankers (rrf, linear, mrr)."""

from __future__ import annotations

from rerankit.testing import RerankerConformance


class TestRRFConformance(RerankerConformance):
    name = "rrf"
    distribution = "rerankit"
    config = {"K": 30}


class TestLinearConformance(RerankerConformance):
    name = "linear"
    distribution = "rerankit"
    config = {"weight": 0.6}


class TestMRRConformance(RerankerConformance):
    name = "mrr"
    distribution = "rerankit"
