"""Fixtures of the framework adapter tests: two real scorers and a small aeronautics corpus.

``scorer`` is parametrized over a tiny local cross-encoder (built once per session, loaded by path
as a user's model is) and the cohere plugin against a local server speaking Cohere's wire format.
The corpus uses the tiny model's vocabulary, so its scores differ from text to text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# No network from these tests: no Hugging Face hub, no Haystack telemetry.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, build_tiny

__all__ = ["KEY", "QUERY", "TEXTS", "expected"]

#: Metadata of TEXTS[i]: a title (its first three words), its position, and a nested value that
#: no framework may lose.
METAS = [{"title": " ".join(t.split()[:3]), "n": i, "tags": {"source": "cranfield", "keep": [i, "x"]}}
         for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="session")
def tiny_ce(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("adapters-ce")))


@pytest.fixture(scope="session")
def cohere_server() -> Iterator[FakeRerankServer]:
    with FakeRerankServer("cohere", api_key=KEY, max_lifetime=600) as server:
        yield server


@pytest.fixture
def server(cohere_server: FakeRerankServer) -> FakeRerankServer:
    """The cohere server with no requests recorded yet."""
    cohere_server.reset()
    return cohere_server


@pytest.fixture(params=["crossencoder", "cohere"])
def scorer(request: pytest.FixtureRequest, tiny_ce: str, server: FakeRerankServer) -> rerankit.Reranker:
    """A built reranker: the tiny local cross-encoder, or cohere against the local server."""
    if request.param == "crossencoder":
        return rerankit.get_reranker("crossencoder", model_name=tiny_ce)
    return rerankit.get_reranker("cohere", api_key=KEY, base_url=server.url)


@pytest.fixture
def config_file(tmp_path: Path, server: FakeRerankServer) -> Path:
    """A TOML config choosing cohere (the key comes from CO_API_KEY, set by the tests)."""
    path = tmp_path / "reranker.toml"
    path.write_text(f'reranker = "cohere"\nbase_url = "{server.url}"\ntop_n = 4\n', encoding="utf-8")
    return path


def expected(reranker: rerankit.Reranker, query: str, texts: list[str]) -> list[tuple[str, float]]:
    """What the reranker itself gives for these texts: (text, score) pairs, best first."""
    out = reranker.rerank(query, texts)
    return list(zip(out["text"].to_pylist(), out["_relevance_score"].to_pylist()))
