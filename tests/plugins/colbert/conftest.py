"""Fixtures: tiny ColBERT checkpoints in both layouts, saved once per session, loaded by path."""

from __future__ import annotations

import os

import pytest

# Never reach the Hugging Face hub from these tests (read when huggingface_hub is imported).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from tests.plugins.colbert.colbert_models import Tiny, build_pylate, build_stanford


@pytest.fixture(scope="session")
def stanford(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    """[MASK] not attended, punctuation masked, safetensors, metadata at the top level."""
    return build_stanford(tmp_path_factory.mktemp("stanford"))


@pytest.fixture(scope="session")
def stanford_attend(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    """The same weights, saved saying the encoder attends to [MASK]; pytorch_model.bin, nested metadata."""
    return build_stanford(
        tmp_path_factory.mktemp("stanford-attend"), attend_to_mask_tokens=True, weights="bin", nested_metadata=True
    )


@pytest.fixture(scope="session")
def stanford_punct(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    """The same weights, saved with mask_punctuation off."""
    return build_stanford(tmp_path_factory.mktemp("stanford-punct"), mask_punctuation=False)


@pytest.fixture(scope="session")
def pylate(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    """PyLate layout: [unused0]/[unused1] prefixes, default skip-list, two Dense modules (bias; residual)."""
    return build_pylate(tmp_path_factory.mktemp("pylate"), seed=1, dense=((12, True, False), (8, False, True)))


@pytest.fixture(scope="session")
def pylate_plain(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    """PyLate layout without query expansion or query marker, attending nothing extra, and its own
    skip-list (a word and a comma)."""
    return build_pylate(
        tmp_path_factory.mktemp("pylate-plain"),
        seed=2,
        query_prefix=None,
        do_query_expansion=False,
        skiplist_words=["the", ","],
        query_length=10,
        document_length=20,
    )


@pytest.fixture
def fresh_models():
    """Start and end with no ColBERT model in the process-wide cache."""
    import rerankit_colbert

    rerankit_colbert.clear_model_cache()
    yield
    rerankit_colbert.clear_model_cache()
