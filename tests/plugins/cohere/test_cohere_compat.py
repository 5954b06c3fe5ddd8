"""The ``cohere`` plugin against servers with a Cohere-shaped route: vLLM's ``/v2/rerank`` and
Infinity's ``/rerank``. Their wire formats are proven in full through the ``jina`` plugin
(tests/plugins/jina/test_jina_compat.py); here, what the cohere plugin adds: its path, its key,
and Cohere-only fields (``max_tokens_per_doc``) ignored there, not refused."""

from __future__ import annotations

from typing import Any

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, docs
from rerankit.testing.server import InfinityDialect, VLLMDialect


@pytest.mark.parametrize(
    ("dialect", "options", "path"),
    [
        (VLLMDialect, {"model_name": "BAAI/bge-reranker-v2-m3"}, "/v2/rerank"),
        (InfinityDialect, {"path": "/rerank"}, "/rerank"),
    ],
    ids=["vllm", "infinity"],
)
def test_cohere_on_compatible_servers(
    dialect: type, options: dict[str, Any], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    with FakeRerankServer(dialect(), api_key=KEY) as server:
        config = {"base_url": server.url, "max_tokens_per_doc": 512, "top_n": 2, **options}
        out = rerankit.get_reranker("cohere", api_key=KEY, **config).rerank("solar roof", docs(5))
        assert out.num_rows == 2
        seen = server.seen[0]
        assert seen.path == path and seen.headers["Authorization"] == f"Bearer {KEY}"
        assert seen.body["max_tokens_per_doc"] == 512 and seen.body["top_n"] == 2
        with pytest.raises(rerankit.AuthenticationError) as info:
            rerankit.get_reranker("cohere", api_key="wrong-key", **config).rerank("solar roof", docs(5))
        assert info.value.status_code == 401 and server.attempts == 2
