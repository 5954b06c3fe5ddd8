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
