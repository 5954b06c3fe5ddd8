"""backend='onnx' and 'openvino' for the embedding reranker: the whole sentence-transformers
pipeline (transformer, pooling) exported as one model; prompts, batching and scoring unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import rerankit_embedding

import rerankit
from tests.plugins.backend_support import (
    EXACT,
    FLOAT32,
    REDUCED,
    assert_ranks_kept,
    check_cache_reused_then_rebuilt,
    check_lengths_rounded,
    export_cache,  # noqa: F401 - a fixture
    label,
    pool,
    spread,
)
from tests.plugins.embedding.embedding_models import QUERY, TEXTS, WORDS

pytestmark = pytest.mark.usefixtures("export_cache")


def scores(model: str, texts: list[str], **options) -> list[float]:
    return rerankit.get_reranker("embedding", model_name=model, batch_size=8, **options).scorer.score(QUERY, texts)


@pytest.fixture(scope="module")
def reference(tiny_model):
    candidates = pool(WORDS, 1000)
    chosen = spread(candidates, scores(tiny_model, candidates, device="cpu"))
    return scores(tiny_model, TEXTS, device="cpu"), chosen, scores(tiny_model, chosen, device="cpu")


@pytest.mark.parametrize("options", FLOAT32, ids=label)
def test_float32_equals_torch(tiny_model, reference, options):
    torch_scores, chosen, torch_chosen = reference
    np.testing.assert_allclose(scores(tiny_model, TEXTS, **options), torch_scores, atol=EXACT)
    np.testing.assert_allclose(scores(tiny_model, chosen, **options), torch_chosen, atol=EXACT)


@pytest.mark.parametrize("options", REDUCED, ids=label)
def test_reduced_precision_keeps_the_ranking(tiny_model, reference, options):
    _, chosen, torch_chosen = reference
    assert_ranks_kept(torch_chosen, scores(tiny_model, chosen, **options))


def test_saved_prompts_go_through_the_same_path(prompted_model):
    torch_scores = scores(prompted_model, TEXTS, device="cpu")
    for options in FLOAT32:
        np.testing.assert_allclose(scores(prompted_model, TEXTS, **options), torch_scores, atol=EXACT)


def test_the_export_is_cached_on_disk_reused_and_rebuilt_when_damaged(tiny_model, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE_DIR", str(tmp_path))
    reranker = rerankit.get_reranker("embedding", model_name=tiny_model, backend="openvino")
    check_cache_reused_then_rebuilt(
        tmp_path / "exports", lambda: reranker.scorer.score(QUERY, TEXTS), rerankit_embedding.clear_model_cache,
        reference[0],
    )


def test_passages_and_rerank_batch_agree_across_backends(tiny_model):
    long = " ".join(TEXTS * 3)
    queries = [QUERY, "supersonic wing", "jet engine drag"]
    sets = [TEXTS[:5], TEXTS[3:], [long, *TEXTS[::2]]]
    outputs = {}
    for options in ({"device": "cpu"}, *FLOAT32):
        reranker = rerankit.get_reranker("embedding", model_name=tiny_model, passages={"max_length": 6}, **options)
        outputs[label(options)] = reranker.rerank_batch(queries, sets)
    torch_out = outputs.pop("cpu")
    for name, out in outputs.items():
        for got, want in zip(out, torch_out, strict=True):
            assert got["text"].to_pylist() == want["text"].to_pylist(), name
            np.testing.assert_allclose(
                got["_relevance_score"].to_numpy(), want["_relevance_score"].to_numpy(), atol=EXACT
            )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "onnx", "dtype": "bfloat16"}, "dtype='bfloat16' is not offered on backend='onnx'"),
        ({"quantize": "int8"}, "quantize='int8' runs on backend='onnx'"),
        ({"backend": "onnx", "base_url": "http://localhost:1/v1"}, "backend applies only to the local model"),
    ],
)
def test_what_a_backend_cannot_do_is_a_config_error(options, message):
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("embedding", **options)
    assert message in str(info.value)


def test_openvino_can_round_lengths_up_and_scores_stay(tiny_model, reference, monkeypatch):
    def load(**options):
        return rerankit.get_reranker("embedding", model_name=tiny_model, batch_size=2, backend="openvino", **options)

    check_lengths_rounded(load, TEXTS, QUERY, reference[0], rerankit_embedding.clear_model_cache,
                          load().scorer.max_length, monkeypatch)
