"""What the local plugins' backend tests share: a private export cache, texts of clearly different
relevance, and the checks every scorer must pass on every backend."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

import rerankit
import rerankit.local

#: float32 on another backend equals torch float32 within this.
EXACT = 1e-4
#: bf16 and int8 keep at least this rank correlation with float32.
SPEARMAN = 0.95
#: The CPU backends, float32, and the reduced precisions each offers.
FLOAT32 = [{"backend": "onnx"}, {"backend": "openvino"}]
REDUCED = [
    {"backend": "openvino", "dtype": "bfloat16"},
    {"backend": "onnx", "quantize": "int8"},
    {"backend": "openvino", "quantize": "int8"},
]


def label(options: dict[str, Any]) -> str:
    return "-".join(str(v) for v in options.values())


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh export cache folder for the module (RERANKIT_CACHE_DIR), so conversions are counted
    from zero and no other test's exports are reused."""
    root = tmp_path_factory.mktemp("rerankit-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RERANKIT_CACHE_DIR", str(root))
        yield root / "exports"


def pool(words: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """``n`` distinct texts of 3 to 12 of ``words``."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < n:
        found[" ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))] = None
    return list(found)


def spread(texts: Sequence[str], scores: Sequence[float], n: int = 200) -> list[str]:
    """``n`` of ``texts`` evenly spaced along their float32 ranking: relevance clearly different
    from one to the next (neighbours in a random pool can tie within rounding)."""
    order = np.argsort(np.asarray(scores))
    picks = np.linspace(0, len(order) - 1, n).round().astype(int)
    return [texts[i] for i in order[picks]]


def assert_ranks_kept(reference: Sequence[float], other: Sequence[float]) -> None:
    rho = spearmanr(reference, other).statistic
    assert rho >= SPEARMAN, f"Spearman {rho:.4f} < {SPEARMAN}"
    assert not np.array_equal(reference, other), "reduced precision gave float32's scores exactly"


def counts() -> dict[str, Any]:
    return rerankit.local.export_info()


def damage(folder: Path) -> Path:
    """Cut the model file of the one cache entry under ``folder`` in half; returns the entry."""
    (entry,) = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    model = max((p for p in entry.iterdir() if p.suffix in (".onnx", ".bin")), key=lambda p: p.stat().st_size)
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    return entry


def check_cache_reused_then_rebuilt(
    export_cache: Path, score: Callable[[], list[float]], clear: Callable[[], None], reference: list[float]
) -> None:
    """First load converts; a second (after the in-memory cache is cleared) reuses the disk cache and
    converts nothing; a damaged entry is rebuilt, and scores never change."""
    clear()
    before = counts()
    np.testing.assert_allclose(score(), reference, atol=EXACT)
    first = counts()
    assert first["converted"] == before["converted"] + 1 and first["dir"] == str(export_cache)
    clear()
    np.testing.assert_allclose(score(), reference, atol=EXACT)
    second = counts()
    assert second["converted"] == first["converted"] and second["reused"] == first["reused"] + 1
    damage(export_cache)
    clear()
    np.testing.assert_allclose(score(), reference, atol=EXACT)
    third = counts()
    assert third["rebuilt"] == second["rebuilt"] + 1 and third["converted"] == second["converted"] + 1


def ship_encoder_only(model: Path, encoder: Any, inputs: Sequence[str]) -> Path:
    """``model`` with an ``onnx/model.onnx`` of the bare encoder (token states out, no pooling or
    projection), the way sentence-transformers' and optimum's exports ship it."""
    import warnings

    import torch

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *args: Any) -> Any:
            return self.encoder(**dict(zip(inputs, args, strict=True))).last_hidden_state

    example = [torch.ones(2, 8, dtype=torch.long) for _ in inputs]
    example[list(inputs).index("attention_mask")][1, 4:] = 0
    (model / "onnx").mkdir()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Body().eval(), tuple(example), str(model / "onnx" / "model.onnx"), input_names=list(inputs),
            output_names=["last_hidden_state"], dynamic_axes={n: {0: "batch", 1: "sequence"} for n in inputs},
            opset_version=17, dynamo=False,
        )
    return model


def check_lengths_rounded(load: Callable[..., Any], texts: Sequence[str], query: str, reference: Sequence[float],
                          clear: Callable[[], None], limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenVINO runs the texts' own padded lengths by default; with ``RERANKIT_LENGTH_MULTIPLE=16``
    (read when the model loads) it runs them rounded up to multiples of 16 (or the model's
    ``limit``), so batches repeat a few shapes, and still gives torch float32's scores.
    ``load(**options)`` gives a float32 reranker on ``backend="openvino"`` with ``options``."""
    clear()
    reranker = load()
    exact = reranker.scorer.score(query, texts)
    runtime = reranker.scorer.model.runtime
    exact_lengths = {shape[1] for shape in runtime.shapes}
    assert runtime.length_multiple == 1
    assert any(n % 16 for n in exact_lengths), exact_lengths  # the texts' own lengths
    np.testing.assert_allclose(exact, reference, atol=EXACT)

    clear()
    monkeypatch.setenv("RERANKIT_LENGTH_MULTIPLE", "16")
    reranker = load()
    rounded = reranker.scorer.score(query, texts)
    lengths = {shape[1] for shape in reranker.scorer.model.runtime.shapes}
    assert lengths and all(n % 16 == 0 or n == limit for n in lengths), lengths
    assert len(lengths) < len(exact_lengths) and max(lengths) >= max(exact_lengths)
    np.testing.assert_allclose(rounded, reference, atol=EXACT)

    clear()
