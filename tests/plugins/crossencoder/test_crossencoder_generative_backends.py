"""LLM recipes on backend='onnx' and 'openvino': the tiny Qwen3, Qwen2 (mxbai-v2), Gemma (BGE), T5
(MonoT5) checkpoints and a Qwen3 seq-cls conversion, loaded by path through ``get_reranker``, their
label-logit module exported through the shared export cache; prompts, truncation, batching,
passages and order the generative scorer's own code, as on torch."""

from __future__ import annotations

import numpy as np
import pytest
import rerankit_crossencoder

import rerankit
from tests.plugins.backend_support import (
    EXACT,
    FLOAT32,
    REDUCED,
    assert_ranks_kept,
    check_cache_reused_then_rebuilt,
    counts,
    export_cache,  # noqa: F401 - a fixture
    label,
    pool,
    spread,
)
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, WORDS
from tests.plugins.crossencoder.generative_models import LONG_TEXT, QUERIES

pytestmark = pytest.mark.usefixtures("export_cache")

FAMILIES = ["qwen3_model", "mxbai_model", "bge_model", "t5_model", "qwen3_seq_cls_model"]
#: TEXTS, an empty-ish and a long text (rows of very different lengths share batches)
MIXED = [*TEXTS, "wing", LONG_TEXT[:600]]


def reranker(path: str, **options):
    return rerankit.get_reranker("crossencoder", model_name=path, **{"activation": "raw", "batch_size": 3, **options})


def scores(path: str, texts: list[str], **options) -> np.ndarray:
    return np.asarray(reranker(path, **options).scorer.score(QUERY, texts))


@pytest.fixture(scope="module")
def torch_scores(request):
    """Per family: its path and torch float32 scores of MIXED (computed once per module)."""
    found: dict[str, tuple] = {}

    def get(fixture: str) -> tuple:
        if fixture not in found:
            path = request.getfixturevalue(fixture)
            found[fixture] = (path, scores(path, MIXED, device="cpu"))
        return found[fixture]

    return get


@pytest.fixture(scope="module")
def spread_scores(torch_scores):
    """Per family: 200 texts of clearly different relevance and their torch float32 scores."""
    found: dict[str, tuple] = {}

    def get(fixture: str) -> tuple:
        if fixture not in found:
            path = torch_scores(fixture)[0]
            candidates = pool(WORDS, 600)
            chosen = spread(candidates, scores(path, candidates, device="cpu", batch_size=32))
            found[fixture] = (path, chosen, scores(path, chosen, device="cpu", batch_size=32))
        return found[fixture]

    return get


@pytest.mark.parametrize("options", FLOAT32, ids=label)
@pytest.mark.parametrize("fixture", FAMILIES)
def test_float32_equals_torch_for_every_family(fixture, options, torch_scores):
    path, torch_mixed = torch_scores(fixture)
    model = reranker(path, **options).scorer.model
    assert model.runtime is not None and model.runtime.backend == options["backend"]
    np.testing.assert_allclose(scores(path, MIXED, **options), torch_mixed, atol=EXACT)
    assert np.ptp(torch_mixed) > 0.01, "the tiny model must tell the texts apart"


@pytest.mark.parametrize("options", REDUCED, ids=label)
@pytest.mark.parametrize("fixture", ["qwen3_model", "t5_model"])  # a decoder, an encoder-decoder
def test_reduced_precision_keeps_the_ranking(fixture, options, spread_scores):
    path, chosen, torch_chosen = spread_scores(fixture)
    assert_ranks_kept(torch_chosen, scores(path, chosen, batch_size=32, **options))


def test_the_export_is_cached_reused_and_rebuilt_when_damaged(qwen3_model, torch_scores, tmp_path, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE_DIR", str(tmp_path))
    _, torch_mixed = torch_scores("qwen3_model")
    scorer = reranker(qwen3_model, backend="onnx").scorer
    check_cache_reused_then_rebuilt(
        tmp_path / "exports", lambda: scorer.score(QUERY, MIXED), rerankit_crossencoder.clear_model_cache,
        list(torch_mixed),
    )
    # OpenVINO's bf16 compiles the float32 graph cached for OpenVINO: a second load converts nothing
    scores(qwen3_model, MIXED, backend="openvino")
    before = counts()
    scores(qwen3_model, MIXED, backend="openvino", dtype="bfloat16")
    after = counts()
    assert after["converted"] == before["converted"] and after["reused"] == before["reused"] + 1


def test_the_exported_graph_returns_the_label_logits_not_the_vocabulary(qwen3_model, t5_model):
    import onnx

    for path, recipe in ((qwen3_model, "qwen3"), (t5_model, "monot5")):
        model = reranker(path, backend="onnx").scorer.model
        assert model.recipe.name == recipe and model.model is None  # torch's weights released
        graph = onnx.load(str(model.runtime.path)).graph
        assert [o.name for o in graph.output] == ["label_logits"]
        width = graph.output[0].type.tensor_type.shape.dim[1].dim_value
        assert width == 2


def test_a_checkpoint_s_own_export_is_not_taken_for_the_label_logits(qwen3_model, torch_scores, tmp_path):
    """An LLM checkpoint that ships onnx/model.onnx (a causal LM's export: the vocabulary, a
    key-value cache) is still scored by its recipe, from the label logits exported from its weights."""
    import shutil

    _, torch_mixed = torch_scores("qwen3_model")
    shipped = tmp_path / "Qwen3-Reranker-tiny"
    shutil.copytree(qwen3_model, shipped)
    (shipped / "onnx").mkdir()
    (shipped / "onnx" / "model.onnx").write_bytes(b"not the label logits")
    model = reranker(str(shipped), backend="onnx").scorer.model
    assert model.recipe.name == "qwen3" and model.runtime.origin != "shipped"
    np.testing.assert_allclose(scores(str(shipped), MIXED, backend="onnx"), torch_mixed, atol=EXACT)


@pytest.mark.parametrize("fixture", ["qwen3_model", "t5_model"])
def test_passages_and_rerank_batch_agree_across_backends(fixture, request):
    path = request.getfixturevalue(fixture)
    texts = [*TEXTS, LONG_TEXT]
    sets = [TEXTS[:4], [LONG_TEXT, *TEXTS[::2]], TEXTS[2:]]
    outputs = {}
    for options in ({"device": "cpu"}, *FLOAT32):
        r = rerankit.get_reranker(
            "crossencoder", model_name=path, activation="sigmoid", max_length=200, batch_size=4,
            passages={"stride": 16}, **options,
        )
        outputs[label(options)] = [r.rerank(QUERY, texts), *r.rerank_batch(QUERIES, sets)]
        assert r.scorer.truncated_total == 0
    torch_out = outputs.pop("cpu")
    for name, out in outputs.items():
        for got, want in zip(out, torch_out, strict=True):
            assert got["text"].to_pylist() == want["text"].to_pylist(), name
            np.testing.assert_allclose(
                got["_relevance_score"].to_numpy(), want["_relevance_score"].to_numpy(), atol=EXACT
            )
    sigmoid = torch_out[0]["_relevance_score"].to_numpy()
    assert ((sigmoid > 0) & (sigmoid < 1)).all()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"recipe": "qwen3", "quantize": "int8"}, "quantize='int8' with recipe='qwen3' runs on backend='onnx' or "),
        ({"recipe": "qwen3", "backend": "onnx", "dtype": "bfloat16"}, "dtype='bfloat16' is not offered on backend="),
        ({"recipe": "monot5", "backend": "openvino", "dtype": "float16"}, "dtype='float16' needs a GPU"),
        ({"recipe": "qwen3", "backend": "openvino", "device": "cuda"}, "runs on the CPU; drop device='cuda'"),
        ({"recipe": "qwen3", "backend": "openvino", "quantize": "int8", "dtype": "bfloat16"}, "float32 weights"),
    ],
)
def test_combinations_a_backend_cannot_run_are_refused(options, match):
    with pytest.raises(rerankit.ConfigError, match=match):
        rerankit.get_reranker("crossencoder", model_name="x", **options)


def test_a_detected_recipe_refuses_torch_int8_and_folder_export(qwen3_model, tmp_path):
    with pytest.raises(rerankit.ConfigError, match="runs on backend='onnx' or 'openvino' for it"):
        rerankit.get_reranker("crossencoder", model_name=qwen3_model, quantize="int8").rerank(QUERY, TEXTS)
    on_onnx = rerankit.get_reranker("crossencoder", model_name=qwen3_model, backend="onnx")
    with pytest.raises(rerankit.ConfigError, match="is an LLM reranker"):
        on_onnx.scorer.export(tmp_path / "out")
