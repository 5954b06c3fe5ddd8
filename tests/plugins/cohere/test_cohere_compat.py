"""The ``cohere`` plugin against servers with a Cohere-shaped route: vLLM's ``/v2/rerank`` and
Infinity's ``/rerank``. The whole hosted conformance suite runs against the vLLM fake; the tests
below pin that Cohere-only fields (``max_tokens_per_doc``) are ignored, not refused, there."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs
from rerankit.testing.server import InfinityDialect, VLLMDialect


class TestCohereOnVLLM(HostedRerankerConformance):
    """``vllm serve BAAI/bge-reranker-v2-m3 --api-key ...``, reached at ``/v2/rerank``."""

    name = "cohere"
    dialect = VLLMDialect
    env_vars = ("CO_API_KEY", "COHERE_API_KEY")
    options: ClassVar[dict[str, Any]] = {"model_name": "BAAI/bge-reranker-v2-m3"}


@pytest.mark.parametrize(
    ("dialect", "options"),
    [(VLLMDialect, {"model_name": "BAAI/bge-reranker-v2-m3"}), (InfinityDialect, {"path": "/rerank"})],
    ids=["vllm", "infinity"],
)
def test_cohere_fields_are_ignored_by_compatible_servers(
    dialect: type, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    with FakeRerankServer(dialect(), api_key=KEY) as server:
        r = rerankit.get_reranker("cohere", base_url=server.url, api_key=KEY, max_tokens_per_doc=512, top_n=2,
                                  **options)
        assert r.rerank("solar roof", docs(5)).num_rows == 2
        assert server.seen[0].body["max_tokens_per_doc"] == 512 and server.seen[0].body["top_n"] == 2
