"""backend='onnx' and 'openvino' for colbert: the encoder and its projection exported as one model;
query expansion, markers, skip-list and MaxSim stay the same code as on torch."""

from __future__ import annotations

import numpy as np
import pytest
import rerankit_colbert

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
from tests.plugins.colbert.colbert_models import QUERY, TEXTS

pytestmark = pytest.mark.usefixtures("export_cache")


def scores(model, texts: list[str], name: str = "colbert", **options) -> list[float]:
    return rerankit.get_reranker(name, model_name=str(model), batch_size=8, **options).scorer.score(QUERY, texts)


def words() -> list[str]:
    return sorted({w for t in TEXTS for w in t.replace(",", " ").split()})


@pytest.fixture(scope="module")
def reference(stanford):
    candidates = pool(words(), 600)
    chosen = spread(candidates, scores(stanford, candidates, device="cpu"))
    return scores(stanford, TEXTS, device="cpu"), chosen, scores(stanford, chosen, device="cpu")


@pytest.mark.parametrize("options", FLOAT32, ids=label)
def test_float32_equals_torch(stanford, pylate, reference, options):
    torch_scores, chosen, torch_chosen = reference
    np.testing.assert_allclose(scores(stanford, TEXTS, **options), torch_scores, atol=EXACT)
    np.testing.assert_allclose(scores(stanford, chosen, **options), torch_chosen, atol=EXACT)
    # the PyLate layout (its own markers and Dense head) through answerdotai
    np.testing.assert_allclose(
        scores(pylate, TEXTS, "answerdotai", **options), scores(pylate, TEXTS, "answerdotai", device="cpu"), atol=EXACT
    )


@pytest.mark.parametrize("options", REDUCED, ids=label)
def test_reduced_precision_keeps_the_ranking(stanford, reference, options):
    _, chosen, torch_chosen = reference
    assert_ranks_kept(torch_chosen, scores(stanford, chosen, **options))


def test_the_export_is_cached_on_disk_reused_and_rebuilt_when_damaged(stanford, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE_DIR", str(tmp_path))
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), backend="onnx")
    check_cache_reused_then_rebuilt(
        tmp_path / "exports", lambda: reranker.scorer.score(QUERY, TEXTS), rerankit_colbert.clear_model_cache,
        reference[0],
    )


def test_passages_and_rerank_batch_agree_across_backends(stanford):
    long = " ".join(TEXTS * 3)
    queries = [QUERY, "wing drag", "heat"]
    sets = [TEXTS[:5], TEXTS[3:], [long, *TEXTS[::2]]]
    outputs = {}
    for options in ({"device": "cpu"}, *FLOAT32):
        reranker = rerankit.get_reranker(
            "colbert", model_name=str(stanford), passages={"max_length": 8}, **options
        )
        outputs[label(options)] = reranker.rerank_batch(queries, sets)
    torch_out = outputs.pop("cpu")
    for name, out in outputs.items():
        for got, want in zip(out, torch_out, strict=True):
            assert got["text"].to_pylist() == want["text"].to_pylist(), name
            np.testing.assert_allclose(
                got["_relevance_score"].to_numpy(), want["_relevance_score"].to_numpy(), atol=EXACT
            )


def test_what_a_backend_cannot_do_is_a_config_error():
    with pytest.raises(rerankit.ConfigError, match="quantize='int8' runs on backend='onnx'"):
        rerankit.get_reranker("colbert", quantize="int8")
    with pytest.raises(rerankit.ConfigError, match="backend='openvino' runs on the CPU"):
        rerankit.get_reranker("answerdotai", backend="openvino", device="cuda")


def test_openvino_can_round_lengths_up_and_scores_stay(stanford, reference, monkeypatch):
    """The per-token vectors of the padding the runtime adds are cut off again before MaxSim."""
    def load(**options):
        return rerankit.get_reranker("colbert", model_name=str(stanford), batch_size=2, backend="openvino", **options)

    check_lengths_rounded(load, TEXTS, QUERY, reference[0], rerankit_colbert.clear_model_cache,
                          load().scorer.model.position_limit, monkeypatch)
