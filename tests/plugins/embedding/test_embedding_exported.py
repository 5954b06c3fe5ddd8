"""An exported embedding folder: rerankit_embedding.export writes it from a torch environment, and
the same get_reranker call scores it with ONNX Runtime or OpenVINO and tokenizers alone (the venv
without torch is tests/kit/test_torch_free.py). A sentence-transformers folder whose own onnx/
export stops at the token states gets pooling, Dense and Normalize applied in numpy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rerankit_embedding

import rerankit
from rerankit.local import EXPORT_MARKER
from tests.plugins.backend_support import EXACT, FLOAT32, export_cache, label, ship_encoder_only  # noqa: F401
from tests.plugins.embedding.embedding_models import QUERY, TEXTS

pytestmark = pytest.mark.usefixtures("export_cache")


def scores(model: str, **options) -> list[float]:
    return rerankit.get_reranker("embedding", model_name=str(model), batch_size=4, **options).scorer.score(QUERY, TEXTS)


@pytest.fixture(scope="module")
def dense_model(prompted_model: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The prompted tiny model with a Dense (tanh, bias) and a Normalize module after its pooling."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models

    torch.manual_seed(3)
    model = SentenceTransformer(prompted_model, device="cpu")
    model.append(models.Dense(16, 8))
    model.append(models.Normalize())
    out = tmp_path_factory.mktemp("dense-bi") / "model"
    model.save(str(out))
    return str(out)


@pytest.mark.parametrize("options", FLOAT32, ids=label)
def test_an_exported_folder_scores_as_torch_does(dense_model, tmp_path, options):
    folder = rerankit_embedding.export(dense_model, tmp_path / "out", **options)
    marker = json.loads((folder / EXPORT_MARKER).read_text())
    assert marker["scorer"] == "embedding" and marker["computes"] == ["pipeline"]
    assert not list(folder.rglob("*.safetensors")), "the graph replaces the torch weights"
    assert (folder / "tokenizer.json").is_file()
    reranker = rerankit.get_reranker("embedding", model_name=str(folder), **options)
    assert type(reranker.scorer.model).__name__ == "ExportedEncoder"
    np.testing.assert_allclose(scores(folder, **options), scores(dense_model, device="cpu"), atol=EXACT)


def test_a_shipped_encoder_only_export_is_pooled_projected_and_normalized_in_numpy(dense_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = Path(shutil.copytree(dense_model, tmp_path / "shipped"))
    encoder = SentenceTransformer(dense_model, device="cpu")[0].auto_model
    ship_encoder_only(folder, encoder, ("input_ids", "attention_mask", "token_type_ids"))
    np.testing.assert_allclose(scores(folder, backend="onnx"), scores(dense_model, device="cpu"), atol=EXACT)


def test_export_refuses_a_folder_that_is_not_empty(tiny_model, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(rerankit.ConfigError, match="out="):
        rerankit_embedding.export(tiny_model, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_the_export_command_writes_a_folder_the_same_call_scores(tiny_model, tmp_path, capsys):
    from rerankit._cli import main

    out = tmp_path / "cli"
    assert main(["export", "embedding", tiny_model, "--backend", "openvino", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert (out / "openvino" / "openvino_model.xml").is_file() and (out / "openvino" / "openvino_model.bin").is_file()
    np.testing.assert_allclose(scores(out, backend="openvino"), scores(tiny_model, device="cpu"), atol=EXACT)
    assert main(["export", "embedding", tiny_model, "--out", str(out)]) == 1  # not empty: refused, kept
    assert "out=" in capsys.readouterr().err
    assert (out / "openvino" / "openvino_model.xml").is_file()


def test_a_scorer_exports_only_from_an_exporting_backend(tiny_model, tmp_path):
    reranker = rerankit.get_reranker("embedding", model_name=tiny_model, device="cpu")
    with pytest.raises(rerankit.ConfigError, match="backend='onnx' or 'openvino'"):
        reranker.scorer.export(tmp_path / "out")


def test_passages_and_rerank_batch_on_an_exported_folder_agree_with_torch(dense_model, tmp_path):
    """Token-sized passages (the saved document prompt counted by the folder's tokenizer.json) and
    many queries go through the same path as on torch."""
    folder = rerankit_embedding.export(dense_model, tmp_path / "out")
    long = " ".join(TEXTS * 3)
    queries = [QUERY, "supersonic wing", "jet engine drag"]
    sets = [TEXTS[:5], TEXTS[3:], [long, *TEXTS[::2]]]
    outputs = []
    for model, options in ((dense_model, {"device": "cpu"}), (str(folder), {"backend": "onnx"})):
        reranker = rerankit.get_reranker("embedding", model_name=model, passages={"max_length": 6}, **options)
        outputs.append(reranker.rerank_batch(queries, sets))
    for got, want in zip(outputs[1], outputs[0], strict=True):
        assert got["text"].to_pylist() == want["text"].to_pylist()
        np.testing.assert_allclose(got["_relevance_score"].to_numpy(), want["_relevance_score"].to_numpy(), atol=EXACT)
