"""Do the LLM recipes' label-row models convert to OpenVINO, and score the same as torch?

The probe that preceded ``backend="openvino"`` / ``"onnx"`` for recipes (now wired in: see
``rerankit_crossencoder/label_logits.py`` and ``benchmarks/generative.py --backends``); kept for
what the tests do not cover: Gemma 2 (soft-capping, sliding window) and the direct
``openvino.convert_model`` route, whose NaN rows with SDPA attention ``--attention sdpa`` shows.

For each recipe family a tiny random model of its architecture is built (2 layers, hidden 32, a
vocabulary of 512; ``--width``/``--layers`` make it larger): Qwen3 (recipe ``qwen3``), Qwen2
(``mxbai-v2``), Gemma (``bge-gemma``, bge-reranker-v2-gemma), Gemma 2 with attention and final
logit soft-capping (the Gemma 2 BGE rerankers) and T5 (``monot5``). Its output head is cut to the
recipe's label rows by rerankit's own :func:`use_label_rows` (checked against the full head on a
probe batch), and wrapped in a module that returns what the recipe scores from: the label logits at
the last position (causal LMs, ``logits_to_keep=1``) or at the first decoder step (T5). That module
is converted two ways:

- ``onnx``: ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch and length, eager
  attention unless ``--attention sdpa``, ``use_cache=False``), then ``openvino.convert_model`` on the ONNX file (what
  rerankit.local's ``backend="openvino"`` does for cross-encoders);
- ``direct``: ``openvino.convert_model`` on the torch module with example inputs.

Each converted model runs on the CPU with ``INFERENCE_PRECISION_HINT`` ``f32`` and ``bf16``, on a
batch of another shape than the export's (5 rows of 37 tokens, padded on the recipe's side, so
the dynamic axes and the mask are exercised), and its scores (true - false logit, or the true
logit for bge-gemma) are compared with torch float32 and torch bfloat16 (the same weights cast):
max |diff|. ``torch bf16`` shows how far torch's own bfloat16 is from its float32, as the scale.

With ``--speed`` the qwen3 model is also timed at ``--speed-width`` (default 1024, Qwen3-0.6B's
hidden size; 4 layers) on batches of 8 rows of 256 tokens: torch float32 (the baseline) vs torch
bfloat16 and OpenVINO f32 and bf16 (median of ``--repeats`` runs, wall time).

    nice -n 5 python benchmarks/generative_openvino.py
    nice -n 5 python benchmarks/generative_openvino.py --speed
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rerankit_crossencoder.label_head import use_label_rows

VOCAB = 512
ATTENTION = ["eager"]  # --attention: the transformers attention implementation the models use
# label token ids (the rows the head keeps) per recipe: true, then false where the recipe has one
LABELS = {"qwen3": [101, 102], "mxbai-v2": [201, 202], "bge-gemma": [301], "bge-gemma2": [301], "monot5": [401, 402]}
ARCH = {
    "qwen3": "Qwen3",
    "mxbai-v2": "Qwen2",
    "bge-gemma": "Gemma",
    "bge-gemma2": "Gemma2 (soft-capping)",
    "monot5": "T5",
}


def build(recipe: str, width: int, layers: int) -> Any:
    """A random model of the recipe's architecture, float32, with the --attention implementation."""
    import transformers

    heads = max(4, width // 64)
    common = dict(
        vocab_size=VOCAB,
        hidden_size=width,
        intermediate_size=2 * width if width <= 64 else 3 * width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        head_dim=width // heads,
        max_position_embeddings=1024,
        initializer_range=0.08 if width <= 64 else 0.02,
        tie_word_embeddings=False,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    if recipe == "qwen3":
        config: Any = transformers.Qwen3Config(**common)
        cls: Any = transformers.Qwen3ForCausalLM
    elif recipe == "mxbai-v2":
        config, cls = transformers.Qwen2Config(**common), transformers.Qwen2ForCausalLM
    elif recipe == "bge-gemma":
        config, cls = transformers.GemmaConfig(**common), transformers.GemmaForCausalLM
    elif recipe == "bge-gemma2":
        config = transformers.Gemma2Config(
            **common, final_logit_softcapping=3.0, attn_logit_softcapping=5.0, sliding_window=16
        )  # caps small enough that the random logits reach them
        cls = transformers.Gemma2ForCausalLM
    else:
        config = transformers.T5Config(
            vocab_size=VOCAB, d_model=width, d_kv=width // heads, d_ff=2 * width, num_layers=layers,
            num_decoder_layers=layers, num_heads=heads, pad_token_id=0, eos_token_id=1,
            decoder_start_token_id=0, initializer_factor=1.0,
        )
        cls = transformers.T5ForConditionalGeneration
    # transformers has no sdpa for Gemma 2 (its attention soft-capping): eager there always
    config._attn_implementation = "eager" if recipe == "bge-gemma2" else ATTENTION[0]
    return cls(config).eval()


class LabelLogits(torch.nn.Module):
    """The label logits the recipe reads: last position (causal) or first decoder step (T5)."""

    def __init__(self, model: Any, seq2seq: bool) -> None:
        super().__init__()
        self.model = model
        self.seq2seq = seq2seq

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.seq2seq:
            start = torch.zeros_like(input_ids[:, :1])  # decoder_start_token_id = 0
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=start, use_cache=False
            )
        else:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=1)
        return out.logits[:, -1, :]


def batch(rows: int, length: int, left: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with rows of different lengths, padded left (causal) or right (T5)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (rows, length), generator=gen)
    mask = torch.ones(rows, length, dtype=torch.long)
    for i in range(1, rows):
        pad = (i * length) // (rows + 1)
        if left:
            mask[i, :pad] = 0
        else:
            mask[i, length - pad :] = 0
    ids[mask == 0] = 0
    return ids, mask


def score(logits: Any) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 0] - logits[:, 1] if logits.shape[1] > 1 else logits[:, 0]


def prepare(recipe: str, width: int, layers: int) -> tuple[LabelLogits, bool]:
    model = build(recipe, width, layers)
    seq2seq = recipe == "monot5"
    probe = batch(2, 9, left=not seq2seq, seed=1)
    full = LabelLogits(model, seq2seq)
    used = use_label_rows(model, LABELS[recipe], lambda: full(*probe), recipe)
    return LabelLogits(model, seq2seq), used


def convert_onnx(module: torch.nn.Module, left: bool, work: Path) -> Any:
    import openvino

    path = work / "model.onnx"
    example = batch(2, 8, left, seed=2)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, example, str(path), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    return openvino.convert_model(str(path))


def convert_direct(module: torch.nn.Module, left: bool, work: Path) -> Any:
    import openvino

    ids, mask = batch(2, 8, left, seed=2)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return openvino.convert_model(
            module, example_input={"input_ids": ids, "attention_mask": mask},
            input=[("input_ids", [-1, -1], openvino.Type.i64), ("attention_mask", [-1, -1], openvino.Type.i64)],
        )


def compile_model(ov_model: Any, precision: str) -> Callable[[torch.Tensor, torch.Tensor], np.ndarray]:
    import openvino

    compiled = openvino.Core().compile_model(
        ov_model, "CPU", {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    )
    request = compiled.create_infer_request()

    def run(ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        result = request.infer({0: ids.numpy(), 1: mask.numpy()})
        return np.array(result[compiled.output(0)])

    return run


def nans(scores: np.ndarray) -> str:
    """Which rows (0 = unpadded) came out NaN, if any."""
    bad = np.flatnonzero(~np.isfinite(scores))
    return f" (NaN in rows {', '.join(map(str, bad))})" if len(bad) else ""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:150]


def probe(recipe: str, width: int, layers: int) -> list[dict[str, str]]:
    module, used = prepare(recipe, width, layers)
    left = recipe != "monot5"
    ids, mask = batch(5, 37, left, seed=3)
    with torch.no_grad():
        torch_f32 = score(module(ids, mask).float())
        bf16 = prepare(recipe, width, layers)[0].to(torch.bfloat16)
        torch_bf16 = score(bf16(ids, mask).float())
    rows = []
    for way, convert in (("onnx", convert_onnx), ("direct", convert_direct)):
        row = {"recipe": recipe, "arch": ARCH[recipe], "label rows": "yes" if used else "NO", "way": way}
        row["torch bf16"] = f"{np.abs(torch_bf16 - torch_f32).max():.1e}"
        row["|score|"] = f"{np.abs(torch_f32).max():.2f}"
        try:
            with tempfile.TemporaryDirectory() as tmp:
                ov_model = convert(module, left, Path(tmp))
            f32 = score(compile_model(ov_model, "f32")(ids, mask))
            b16 = score(compile_model(ov_model, "bf16")(ids, mask))
        except Exception as exc:  # the probe reports every failure, it does not stop at the first
            row["conversion"] = first_line(exc)
            rows.append(row)
            continue
        d32 = float(np.abs(f32 - torch_f32).max())
        row["conversion"] = "ok"
        row["ov f32 vs torch f32"] = f"{d32:.1e}" + (" ok" if d32 <= 1e-4 else " OVER 1e-4") + nans(f32)
        row["ov bf16 vs torch bf16"] = f"{np.abs(b16 - torch_bf16).max():.1e}" + nans(b16)
        row["ov bf16 vs torch f32"] = f"{np.abs(b16 - torch_f32).max():.1e}"
        rows.append(row)
    return rows


def timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(width: int, repeats: int) -> None:
    module, _ = prepare("qwen3", width, 4)
    ids, mask = batch(8, 256, True, seed=4)
    with tempfile.TemporaryDirectory() as tmp:
        ov_model = convert_onnx(module, True, Path(tmp))
    f32, b16 = compile_model(ov_model, "f32"), compile_model(ov_model, "bf16")
    with torch.inference_mode():
        base = timed(lambda: module(ids, mask), repeats)
    print(f"\nqwen3, hidden {width}, 4 layers, 8 rows x 256 tokens, median of {repeats} (torch threads "
          f"{torch.get_num_threads()}):")
    print(f"  torch float32        {base * 1000:8.1f} ms  1.00x")
    module_bf16 = prepare("qwen3", width, 4)[0].to(torch.bfloat16)
    with torch.inference_mode():
        t = timed(lambda: module_bf16(ids, mask), repeats)
    print(f"  torch bfloat16       {t * 1000:8.1f} ms  {base / t:.2f}x")
    for name, run in (("openvino f32", f32), ("openvino bf16", b16)):
        t = timed(lambda run=run: run(ids, mask), repeats)
        print(f"  {name:20s} {t * 1000:8.1f} ms  {base / t:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--recipes", nargs="*", default=list(LABELS))
    parser.add_argument("--attention", default="eager", help="eager (default) or sdpa")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--speed-width", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ATTENTION[0] = args.attention
    import openvino
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, openvino {openvino.__version__}, "
          f"{args.attention} attention")
    rows = [row for recipe in args.recipes for row in probe(recipe, args.width, args.layers)]
    cols = ["recipe", "arch", "label rows", "way", "conversion", "ov f32 vs torch f32", "ov bf16 vs torch bf16",
            "ov bf16 vs torch f32", "torch bf16", "|score|"]
    print("max |score diff| on 5 rows x 37 tokens (padded); 'torch bf16' = torch bf16 vs torch f32; "
          "'|score|' = the largest torch f32 score, for scale")
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(row.get(c, "-") for c in cols))
    if args.speed:
        speed(args.speed_width, args.repeats)


if __name__ == "__main__":
    main()
