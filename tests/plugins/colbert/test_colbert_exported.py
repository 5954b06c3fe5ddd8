"""An exported ColBERT folder: rerankit_colbert.export writes it from a torch environment, and the
same get_reranker call scores it with ONNX Runtime or OpenVINO and tokenizers alone (the venv
without torch is tests/kit/test_torch_free.py). A checkpoint whose own onnx/ export stops at the
encoder gets its projection (Stanford linear, PyLate Dense modules) applied in numpy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rerankit_colbert

import rerankit
from rerankit.local import EXPORT_MARKER
from tests.plugins.backend_support import EXACT, FLOAT32, export_cache, label, ship_encoder_only  # noqa: F401
from tests.plugins.colbert.colbert_models import QUERY, TEXTS

pytestmark = pytest.mark.usefixtures("export_cache")


def scorer(model, **options):
    return rerankit.get_reranker("colbert", model_name=str(model), batch_size=4, **options).scorer


@pytest.mark.parametrize("options", FLOAT32, ids=label)
@pytest.mark.parametrize("layout", ["stanford", "pylate"])
def test_an_exported_folder_scores_as_torch_does(request, layout, tmp_path, options):
    tiny = request.getfixturevalue(layout)
    folder = rerankit_colbert.export(str(tiny), tmp_path / "out", **options)
    marker = json.loads((folder / EXPORT_MARKER).read_text())
    assert marker["scorer"] == "colbert" and marker["computes"] == ["projection"]
    assert not list(folder.rglob("*.safetensors")), "the graph replaces the torch weights"
    exported = scorer(folder, **options)
    assert type(exported.model).__name__ == "ExportedColbert"
    torch_scorer = scorer(tiny, device="cpu")
    np.testing.assert_allclose(exported.score(QUERY, TEXTS), torch_scorer.score(QUERY, TEXTS), atol=EXACT)
    for mine, theirs in zip(exported.embed_documents(TEXTS), torch_scorer.embed_documents(TEXTS), strict=True):
        np.testing.assert_allclose(mine, theirs, atol=EXACT)


@pytest.mark.parametrize("layout", ["stanford", "pylate"])
def test_a_shipped_encoder_only_export_is_projected_in_numpy(request, layout, tmp_path):
    tiny = request.getfixturevalue(layout)
    folder = Path(shutil.copytree(tiny.path, tmp_path / "shipped"))
    ship_encoder_only(folder, tiny.body, ("input_ids", "attention_mask"))
    exported = scorer(folder, backend="onnx")
    np.testing.assert_allclose(exported.score(QUERY, TEXTS), scorer(tiny, device="cpu").score(QUERY, TEXTS), atol=EXACT)


def test_a_checkpoint_without_tokenizer_json_gets_one_in_its_export(stanford, tmp_path):
    source = Path(shutil.copytree(stanford.path, tmp_path / "slow-tokenizer-only"))
    (source / "tokenizer.json").unlink()  # vocab.txt only: transformers builds the fast tokenizer
    folder = rerankit_colbert.export(str(source), tmp_path / "out")
    assert (folder / "tokenizer.json").is_file()
    torch_scores = scorer(stanford, device="cpu").score(QUERY, TEXTS)
    np.testing.assert_allclose(scorer(folder, backend="onnx").score(QUERY, TEXTS), torch_scores, atol=EXACT)


def test_passages_on_an_exported_folder_agree_with_torch(stanford, tmp_path):
    folder = rerankit_colbert.export(str(stanford), tmp_path / "out")
    long = " ".join(TEXTS * 2)
    outputs = [
        rerankit.get_reranker("colbert", model_name=str(model), passages={"max_length": 8}, **options).rerank(
            QUERY, [long, *TEXTS[:4]]
        )
        for model, options in ((stanford, {"device": "cpu"}), (folder, {"backend": "onnx"}))
    ]
    assert outputs[1]["text"].to_pylist() == outputs[0]["text"].to_pylist()
    np.testing.assert_allclose(
        outputs[1]["_relevance_score"].to_numpy(), outputs[0]["_relevance_score"].to_numpy(), atol=EXACT
    )


def test_stored_token_embeddings_score_as_texts_do_on_an_exported_folder(stanford, tmp_path):
    import pyarrow as pa

    folder = rerankit_colbert.export(str(stanford), tmp_path / "out")
    exported = scorer(folder, backend="onnx")
    table = pa.table({"text": TEXTS, "embeddings": [v.tolist() for v in exported.embed_documents(TEXTS)]})
    stored = rerankit.get_reranker("colbert", model_name=str(folder), backend="onnx", embeddings_column="embeddings")
    out = stored.rerank(QUERY, table)
    by_text = dict(zip(TEXTS, scorer(stanford, device="cpu").score(QUERY, TEXTS), strict=True))
    np.testing.assert_allclose(
        out["_relevance_score"].to_numpy(), [by_text[t] for t in out["text"].to_pylist()], atol=EXACT
    )
