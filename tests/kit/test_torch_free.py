"""A CPU reranks with no torch installed: a cross-encoder folder that ships its ONNX export is scored
by onnxruntime and the tokenizers library, in a fresh virtual environment holding neither torch
nor transformers, and gives the scores torch gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rerankit
from tests.kit.conftest import REPO
from tests.kit.test_packaging import Venv, _make_venv
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, build_tiny

SCORE = """
    import json, sys
    import rerankit

    reranker = rerankit.get_reranker("crossencoder", model_name=sys.argv[1], backend="onnx", batch_size=4)
    out = reranker.rerank(sys.argv[2], json.loads(sys.argv[3]))
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "sentence_transformers"})
    print(json.dumps({"text": out["text"].to_pylist(), "score": out["_relevance_score"].to_pylist(), "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A tiny cross-encoder folder with onnx/model.onnx beside its weights, and torch's scores."""
    root = tmp_path_factory.mktemp("torch-free")
    model = build_tiny(root / "model")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RERANKIT_CACHE_DIR", str(root / "cache"))
        rerankit.get_reranker("crossencoder", model_name=str(model), backend="onnx").rerank(QUERY, TEXTS[:2])
    (entry,) = (root / "cache" / "exports").iterdir()
    (model / "onnx").mkdir()
    shutil.copy(entry / "model.onnx", model / "onnx" / "model.onnx")
    torch_out = rerankit.get_reranker("crossencoder", model_name=str(model), device="cpu").rerank(QUERY, TEXTS)
    return model, dict(zip(torch_out["text"].to_pylist(), torch_out["_relevance_score"].to_pylist(), strict=True))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """rerankit and rerankit-crossencoder (without its torch dependencies), onnxruntime, tokenizers."""
    wheels = tmp_path_factory.mktemp("torch-free-wheels")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(wheels), str(REPO / "core"),
         str(REPO / "plugins" / "crossencoder")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = _make_venv(tmp_path_factory.mktemp("venvs") / "torch-free")
    (core,) = wheels.glob("rerankit-*.whl")
    (plugin,) = wheels.glob("rerankit_crossencoder-*.whl")
    env.pip_install(str(core), "onnxruntime", "tokenizers")
    env.pip_install("--no-deps", str(plugin))
    return env


def test_an_exported_folder_scores_without_torch(venv: Venv, exported) -> None:
    model, torch_scores = exported
    proc = subprocess.run(
        [str(venv.python), "-I", "-c", SCORE.replace("\n    ", "\n"), str(model), QUERY, json.dumps(TEXTS)],
        capture_output=True, text=True, timeout=300, cwd=venv.root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["heavy"] == []
    missing = subprocess.run([str(venv.python), "-I", "-c", "import torch"], capture_output=True, timeout=60)
    assert missing.returncode != 0, "torch must not be installed in this environment"
    assert sorted(found["text"]) == sorted(TEXTS)
    np.testing.assert_allclose(found["score"], [torch_scores[t] for t in found["text"]], atol=1e-4)
