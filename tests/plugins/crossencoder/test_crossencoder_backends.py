"""backend='onnx' and 'openvino': the cross-encoder's forward pass on ONNX Runtime and OpenVINO,
everything around it (tokenizing, truncating, batching, passages, order) the same code as torch."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import rerankit_crossencoder

import rerankit
from tests.plugins.backend_support import (
    EXACT,
    FLOAT32,
    REDUCED,
    assert_ranks_kept,
    check_cache_reused_then_rebuilt,
    check_lengths_rounded,
    counts,
    export_cache,  # noqa: F401 - a fixture
    label,
    pool,
    spread,
)
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, WORDS

pytestmark = pytest.mark.usefixtures("export_cache")


def scores(model: str, texts: list[str], **options) -> list[float]:
    reranker = rerankit.get_reranker("crossencoder", model_name=model, activation="raw", batch_size=8, **options)
    return reranker.scorer.score(QUERY, texts)


@pytest.fixture(scope="module")
def reference(tiny_model):
    """torch float32 scores of TEXTS, and of 200 texts of clearly different relevance."""
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


def test_the_export_is_cached_on_disk_reused_and_rebuilt_when_damaged(tiny_model, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("RERANKIT_CACHE_DIR", str(tmp_path))
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, activation="raw", backend="onnx")
    check_cache_reused_then_rebuilt(
        tmp_path / "exports", lambda: reranker.scorer.score(QUERY, TEXTS), rerankit_crossencoder.clear_model_cache,
        reference[0],
    )
    assert rerankit_crossencoder.model_cache_info()["models"][0][3:] == ("onnx", None)


def test_the_activation_and_the_scoring_path_are_the_same_on_every_backend(tiny_model):
    long = " ".join(TEXTS * 3)
    texts = [*TEXTS, long]
    queries = [QUERY, "supersonic wing", "jet engine drag"]
    sets = [TEXTS[:5], TEXTS[3:], [long, *TEXTS[::2]]]
    outputs = {}
    for options in ({"device": "cpu"}, *FLOAT32):
        reranker = rerankit.get_reranker(
            "crossencoder", model_name=tiny_model, activation="sigmoid", passages={"stride": 8}, **options
        )
        single = reranker.rerank(QUERY, texts)
        batch = reranker.rerank_batch(queries, sets)
        outputs[label(options)] = [single, *batch]
    torch_out = outputs.pop("cpu")
    for name, out in outputs.items():
        for got, want in zip(out, torch_out, strict=True):
            assert got["text"].to_pylist() == want["text"].to_pylist(), name
            np.testing.assert_allclose(
                got["_relevance_score"].to_numpy(), want["_relevance_score"].to_numpy(), atol=EXACT
            )
    assert (torch_out[0]["_relevance_score"].to_numpy() > 0).all()  # sigmoid applied


def test_a_checkpoint_that_ships_its_export_is_used_as_is(tiny_model, reference, tmp_path, monkeypatch, fresh_models):
    """An onnx/model.onnx (or openvino/openvino_model.xml) beside the weights, as
    sentence-transformers' export functions save it, is loaded without converting anything."""
    monkeypatch.setenv("RERANKIT_CACHE_DIR", str(tmp_path / "cache"))
    scores(tiny_model, TEXTS, backend="onnx")  # export one, then ship it with a copy of the model
    (entry,) = (tmp_path / "cache" / "exports").iterdir()
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_model, shipped)
    (shipped / "onnx").mkdir()
    shutil.copy(entry / "model.onnx", shipped / "onnx" / "model.onnx")
    shutil.rmtree(tmp_path / "cache")
    before = counts()
    np.testing.assert_allclose(scores(str(shipped), TEXTS, backend="onnx"), reference[0], atol=EXACT)
    after = counts()
    assert after["shipped"] == before["shipped"] + 1 and after["converted"] == before["converted"]
    # scored without torch's model (tokenizer.json read by tokenizers), the saved activation included
    reranker = rerankit.get_reranker("crossencoder", model_name=str(shipped), backend="onnx")
    assert type(reranker.scorer.model).__name__ == "ExportedCrossEncoder"
    assert reranker.scorer.model.runtime.origin == "shipped"
    auto = reranker.scorer.score(QUERY, TEXTS)
    torch_auto = rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cpu").scorer.score(QUERY, TEXTS)
    np.testing.assert_allclose(auto, torch_auto, atol=EXACT)
    # int8 starts from the shipped file too: it is quantized into the cache, torch's weights unread
    assert_ranks_kept(reference[0], scores(str(shipped), TEXTS, backend="onnx", quantize="int8"))
    assert counts()["converted"] == after["converted"] + 1


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_the_onnx_export_is_fused_and_keeps_the_scores(tiny_model, reference, quantize):
    """ONNX Runtime's transformer fusion is applied to the export (before int8 quantization): one
    Attention node per layer and skip LayerNorms in the cached file, scores unchanged."""
    import onnx

    reranker = rerankit.get_reranker(
        "crossencoder", model_name=tiny_model, activation="raw", batch_size=8, backend="onnx", quantize=quantize
    )
    got = reranker.scorer.score(QUERY, TEXTS)
    ops = [node.op_type for node in onnx.load(str(reranker.scorer.model.runtime.path)).graph.node]
    layers = json.loads((Path(tiny_model) / "config.json").read_text())["num_hidden_layers"]
    assert ops.count("QAttention" if quantize else "Attention") == layers
    assert "SkipLayerNormalization" in ops
    if quantize:
        assert_ranks_kept(reference[0], got)
    else:
        np.testing.assert_allclose(got, reference[0], atol=EXACT)


def test_openvino_int8_without_nncf_names_the_extra(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)  # as if not installed: importing it fails
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, backend="openvino", quantize="int8")
    with pytest.raises(rerankit.ConfigError, match=r"pip install nncf \(or the plugin's \[openvino\] extra\)"):
        reranker.scorer.score(QUERY, TEXTS)


def test_threads_are_an_option_of_the_cpu_backends(tiny_model, reference):
    np.testing.assert_allclose(scores(tiny_model, TEXTS, backend="onnx", threads=1), reference[0], atol=EXACT)
    assert rerankit.get_reranker("crossencoder", backend="openvino", threads=3).config.threads == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "onnx", "dtype": "bfloat16"}, "dtype='bfloat16' is not offered on backend='onnx'"),
        ({"backend": "onnx", "device": "cuda"}, "backend='onnx' runs on the CPU"),
        ({"backend": "openvino", "dtype": "float16"}, "dtype='float16'"),
        ({"threads": 2}, "threads applies to backend='onnx' or 'openvino'"),
        ({"recipe": "qwen3", "quantize": "int8"}, "runs on backend='onnx' or 'openvino'"),
        ({"backend": "tensorrt"}, "option 'backend'"),
    ],
)
def test_what_a_backend_cannot_do_is_a_config_error(options, message):
    with pytest.raises(rerankit.ConfigError, match="invalid config") as info:
        rerankit.get_reranker("crossencoder", **options)
    assert message in str(info.value)


def test_rows_and_ids_come_back_whole(tiny_model):
    table = pa.table({"id": list(range(len(TEXTS))), "text": TEXTS})
    out = rerankit.get_reranker("crossencoder", model_name=tiny_model, backend="openvino").rerank(QUERY, table)
    assert sorted(out["id"].to_pylist()) == list(range(len(TEXTS)))


def test_openvino_can_round_lengths_up_and_scores_stay(tiny_model, reference, monkeypatch):
    def load(**options):
        return rerankit.get_reranker("crossencoder", model_name=tiny_model, activation="raw", batch_size=2,
                                     backend="openvino", **options)

    check_lengths_rounded(load, TEXTS, QUERY, reference[0], rerankit_crossencoder.clear_model_cache,
                          load().scorer.model.max_length, monkeypatch)


def test_a_length_multiple_that_is_not_a_count_is_a_config_error(tiny_model, monkeypatch):
    scores(tiny_model, TEXTS[:2], backend="onnx")  # an export in the cache, so a load would reuse it
    monkeypatch.setenv("RERANKIT_LENGTH_MULTIPLE", "sixteen")
    rerankit_crossencoder.clear_model_cache()
    before = counts()
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, backend="onnx")
    with pytest.raises(rerankit.ConfigError, match="RERANKIT_LENGTH_MULTIPLE='sixteen'"):
        reranker.scorer.score(QUERY, TEXTS)
    after = counts()
    assert (after["rebuilt"], after["converted"]) == (before["rebuilt"], before["converted"])  # refused up front
