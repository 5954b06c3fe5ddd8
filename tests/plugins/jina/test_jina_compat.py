"""The ``jina`` plugin against servers that speak Jina's rerank format: vLLM, Infinity, Together.

Each is proven, not assumed: the whole hosted conformance suite runs against a fake of each
server (its paths, auth, validation bodies and answer shape, from the server's public source),
and the tests below pin what differs: vLLM's open ``/rerank`` and 404 for a model it does not
serve, Infinity's ``document`` strings and FastAPI 422s, Together's key from ``TOGETHER_API_KEY``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs
from rerankit.testing.server import InfinityDialect, VLLMDialect
from tests.plugins.hosted_support import reranker

VLLM_MODEL = "BAAI/bge-reranker-v2-m3"


class TestJinaOnVLLM(HostedRerankerConformance):
    """``vllm serve BAAI/bge-reranker-v2-m3 --api-key ...``, reached at ``/v1/rerank``."""

    name = "jina"
    dialect = VLLMDialect
    env_vars = ("JINA_API_KEY",)
    options: ClassVar[dict[str, Any]] = {"model_name": VLLM_MODEL}


class TestJinaOnInfinity(HostedRerankerConformance):
    """``infinity_emb v2 --model-id ... --api-key ...``, reached at ``/rerank``."""

    name = "jina"
    dialect = InfinityDialect
    env_vars = ("JINA_API_KEY",)
    options: ClassVar[dict[str, Any]] = {"path": "/rerank", "model_name": "mixedbread-ai/mxbai-rerank-xsmall-v1"}


class TestJinaOnTogether(HostedRerankerConformance):
    """Together's hosted ``/v1/rerank``, the key read from ``TOGETHER_API_KEY``."""

    name = "jina"
    dialect = "together"
    env_vars = ("TOGETHER_API_KEY",)
    options: ClassVar[dict[str, Any]] = {"model_name": "Salesforce/Llama-Rank-V1", "api_key_env": "TOGETHER_API_KEY"}


@pytest.fixture(autouse=True)
def _no_jina_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)


@pytest.fixture(scope="module")
def vllm() -> Iterator[FakeRerankServer]:
    with FakeRerankServer(VLLMDialect(), api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def infinity() -> Iterator[FakeRerankServer]:
    with FakeRerankServer(InfinityDialect(), api_key=KEY) as server:
        yield server


def jina(server: FakeRerankServer, **options: Any) -> rerankit.Reranker:
    return reranker("jina", server, **options)


# -- vLLM ----------------------------------------------------------------------------------------
def test_vllm_scores_every_document_unless_top_n_is_sent(vllm: FakeRerankServer) -> None:
    vllm.reset()
    out = jina(vllm, model_name=VLLM_MODEL).rerank("solar cost", docs(6))
    assert out.num_rows == 6 and "top_n" not in vllm.seen[0].body  # vLLM's top_n=0: every document
    out = jina(vllm, model_name=VLLM_MODEL, top_n=2).rerank("solar cost", docs(6))
    assert out.num_rows == 2 and vllm.seen[1].body["top_n"] == 2


def test_vllm_open_rerank_route_needs_no_key(vllm: FakeRerankServer) -> None:
    vllm.reset()
    r = rerankit.get_reranker("jina", base_url=vllm.url, path="/rerank", model_name=VLLM_MODEL)
    assert r.rerank("wind", docs(3)).num_rows == 3  # vLLM's --api-key guards /v1 and /v2 only
    assert vllm.seen[0].path == "/rerank" and "Authorization" not in vllm.seen[0].headers


def test_vllm_404_for_a_model_it_does_not_serve(vllm: FakeRerankServer) -> None:
    vllm.reset()
    with pytest.raises(rerankit.ProviderError) as info:  # jina's default model name, left by mistake
        jina(vllm).rerank("q", docs(2))
    assert info.value.status_code == 404 and vllm.attempts == 1
    assert "The model `jina-reranker-v2-base-multilingual` does not exist. (NotFoundError)" in str(info.value)


def test_vllm_validation_error_is_a_400(vllm: FakeRerankServer) -> None:
    class NoQuery(type(jina(vllm).scorer)):
        def build_request(self, query, texts):
            body = super().build_request(query, texts)
            del body["query"]
            return body

    vllm.reset()
    cfg = NoQuery.Config(base_url=vllm.url, api_key=KEY, model_name=VLLM_MODEL)
    with pytest.raises(rerankit.ProviderError) as info:
        rerankit.ScoringReranker("jina", cfg, NoQuery(cfg)).rerank("q", ["a"])
    assert info.value.status_code == 400 and vllm.attempts == 1
    assert "1 validation error" in str(info.value) and "Field required" in str(info.value)


# -- Infinity ------------------------------------------------------------------------------------
def test_infinity_document_strings_and_nulls(infinity: FakeRerankServer) -> None:
    infinity.reset()
    out = jina(infinity, path="/rerank").rerank("grid storage", docs(4))
    assert out.num_rows == 4
    assert infinity.seen[0].body["return_documents"] is False  # answered with "document": null

    class Echo(type(jina(infinity).scorer)):  # Infinity echoes documents as plain strings
        def build_request(self, query, texts):
            return {**super().build_request(query, texts), "return_documents": True}

    cfg = Echo.Config(base_url=infinity.url, api_key=KEY, path="/rerank")
    out = rerankit.ScoringReranker("jina", cfg, Echo(cfg)).rerank("grid storage", docs(4))
    assert out.num_rows == 4 and infinity.seen[1].body["return_documents"] is True


def test_infinity_fastapi_422(infinity: FakeRerankServer) -> None:
    infinity.reset()
    with pytest.raises(rerankit.ProviderError) as info:  # each document at most 122,880 characters
        jina(infinity, path="/rerank").rerank("q", ["x" * 122_881, "short"])
    assert info.value.status_code == 422 and infinity.attempts == 1
    assert "body.documents.0: String should have at most 122880 characters" in str(info.value)
    texts = [f"d{i}" for i in range(2049)]
    with pytest.raises(rerankit.ProviderError) as info:  # more than --max-client-batch-size (2,048)
        jina(infinity, path="/rerank", batch_size=5000).rerank("q", texts)
    assert "List should have at most 2048 items after validation, not 2049" in str(info.value)
    assert jina(infinity, path="/rerank", batch_size=2048).rerank("q", texts).num_rows == 2049


def test_infinity_wrong_key(infinity: FakeRerankServer) -> None:
    with pytest.raises(rerankit.AuthenticationError, match=r"HTTP 401.*Unauthorized"):
        jina(infinity, path="/rerank", api_key="nope").rerank("q", docs(2))


# -- Together ------------------------------------------------------------------------------------
def test_together_body_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    with FakeRerankServer("together", api_key=KEY) as server:
        r = rerankit.get_reranker(
            "jina", base_url=server.url, model_name="Salesforce/Llama-Rank-V1", api_key_env="TOGETHER_API_KEY",
            top_n=2,
        )
        assert r.rerank("wind", docs(3)).num_rows == 2
        seen = server.seen[0]
        assert seen.path == "/v1/rerank" and seen.headers["Authorization"] == f"Bearer {KEY}"
        assert seen.body == {
            "model": "Salesforce/Llama-Rank-V1", "query": "wind", "documents": docs(3),
            "return_documents": False, "top_n": 2,
        }
    monkeypatch.delenv("TOGETHER_API_KEY")
    with pytest.raises(rerankit.AuthenticationError, match="TOGETHER_API_KEY"):
        rerankit.get_reranker("jina", base_url="https://api.together.xyz", api_key_env="TOGETHER_API_KEY")
