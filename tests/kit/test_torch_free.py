"""A CPU reranks with no torch installed: exported model folders are scored by onnxruntime and the
tokenizers library in a fresh virtual environment holding neither torch nor transformers, installed
the documented way (``rerankit[cpu-onnx]``, then the plugins with ``--no-deps``), and give the
scores torch gives, through the same ``get_reranker`` call.

- crossencoder: a folder that ships ``onnx/model.onnx`` beside its weights;
- embedding and colbert (Stanford and PyLate layouts): folders ``rerankit_<plugin>.export`` wrote
  (the pooling and the projection inside the graph, no torch weights).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rerankit_colbert
import rerankit_embedding

import rerankit
from tests.kit.conftest import REPO
from tests.kit.test_packaging import Venv, _make_venv
from tests.plugins.colbert import colbert_models
from tests.plugins.crossencoder import crossencoder_models
from tests.plugins.embedding import embedding_models

PLUGINS = ("crossencoder", "embedding", "colbert")

SCORE = """
    import json, sys
    import rerankit

    reranker = rerankit.get_reranker(sys.argv[1], model_name=sys.argv[2], backend="onnx", batch_size=4)
    out = reranker.rerank(sys.argv[3], json.loads(sys.argv[4]))
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "sentence_transformers"})
    print(json.dumps({"text": out["text"].to_pylist(), "score": out["_relevance_score"].to_pylist(), "heavy": heavy}))
"""

Case = tuple[str, Path, str, list[str], dict[str, float]]


def _torch_scores(name: str, model: Path, query: str, texts: list[str]) -> dict[str, float]:
    out = rerankit.get_reranker(name, model_name=str(model), device="cpu").rerank(query, texts)
    return dict(zip(out["text"].to_pylist(), out["_relevance_score"].to_pylist(), strict=True))


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """Each scorer's exported folder, with the query, texts and torch float32's scores."""
    root = tmp_path_factory.mktemp("torch-free")
    found: dict[str, Case] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RERANKIT_CACHE_DIR", str(root / "cache"))
        cross = crossencoder_models.build_tiny(root / "crossencoder")
        query, texts = crossencoder_models.QUERY, crossencoder_models.TEXTS
        rerankit.get_reranker("crossencoder", model_name=str(cross), backend="onnx").rerank(query, texts[:2])
        (entry,) = (root / "cache" / "exports").iterdir()
        (cross / "onnx").mkdir()
        shutil.copy(entry / "model.onnx", cross / "onnx" / "model.onnx")
        reference = _torch_scores("crossencoder", cross, query, texts)
        found["crossencoder"] = ("crossencoder", cross, query, texts, reference)

        bi = embedding_models.build_tiny(root / "embedding", prompts={"query": "query: ", "passage": "passage: "})
        query, texts = embedding_models.QUERY, embedding_models.TEXTS
        folder = rerankit_embedding.export(str(bi), root / "embedding-export", backend="onnx")
        found["embedding"] = ("embedding", folder, query, texts, _torch_scores("embedding", bi, query, texts))

        query, texts = colbert_models.QUERY, colbert_models.TEXTS
        for layout, build in (("stanford", colbert_models.build_stanford), ("pylate", colbert_models.build_pylate)):
            tiny = build(root / layout)
            folder = rerankit_colbert.export(str(tiny), root / f"{layout}-export", backend="onnx")
            reference = _torch_scores("colbert", tiny.path, query, texts)
            found[f"colbert-{layout}"] = ("colbert", folder, query, texts, reference)
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``rerankit[cpu-onnx]`` and the three local-model plugins without their torch dependencies."""
    wheels = tmp_path_factory.mktemp("torch-free-wheels")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(wheels), str(REPO / "core"),
         *(str(REPO / "plugins" / name) for name in PLUGINS)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = _make_venv(tmp_path_factory.mktemp("venvs") / "torch-free")
    (core,) = wheels.glob("rerankit-*.whl")
    env.pip_install(f"{core}[cpu-onnx]")
    env.pip_install("--no-deps", *(str(next(wheels.glob(f"rerankit_{name}-*.whl"))) for name in PLUGINS))
    missing = subprocess.run([str(env.python), "-I", "-c", "import torch"], capture_output=True, timeout=60)
    assert missing.returncode != 0, "torch must not be installed in this environment"
    return env


@pytest.mark.parametrize("case", ["crossencoder", "embedding", "colbert-stanford", "colbert-pylate"])
def test_an_exported_folder_scores_without_torch(venv: Venv, cases, case) -> None:
    name, model, query, texts, torch_scores = cases[case]
    proc = subprocess.run(
        [str(venv.python), "-I", "-c", SCORE.replace("\n    ", "\n"), name, str(model), query, json.dumps(texts)],
        capture_output=True, text=True, timeout=300, cwd=venv.root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["heavy"] == []
    assert sorted(found["text"]) == sorted(texts)
    np.testing.assert_allclose(found["score"], [torch_scores[t] for t in found["text"]], atol=1e-4)
