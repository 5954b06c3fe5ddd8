"""Run rerankit's conformance suite on this plugin."""

from typing import ClassVar

from rerankit.testing import RerankerConformance


class TestOverlapConformance(RerankerConformance):
    name = "overlap"
    distribution = "rerankit-overlap"
    config: ClassVar[dict] = {"min_token_length": 2}
