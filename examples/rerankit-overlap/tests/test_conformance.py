"""Run rerankit's conformance suite on this plugin."""

from rerankit.testing import RerankerConformance


class TestOverlapConformance(RerankerConformance):
    name = "overlap"
    distribution = "rerankit-overlap"
    config = {"min_token_length": 2}
