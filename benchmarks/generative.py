"""LLM reranker speed: rerankit's qwen3 recipe against the Qwen3-Reranker model card's loop.

Model: Qwen3-Reranker-0.6B's shape (hidden 1024, 16 heads / 8 KV heads of 128, MLP 3072, vocabulary
151,669, tied embeddings) with --layers layers (default 4) instead of 28 (random weights, seed 0), built and
saved to a temp dir, loaded by path through ``rerankit.get_reranker``. The tokenizer is a
word-level one built from the texts (no Qwen tokenizer offline), so token counts are close to,
not equal to, the real ones. Texts: --queries queries x --docs synthetic aeronautics abstracts of
--min-words to --max-words words (one token each): rows of about 240 to 390 tokens with the
template.

Measured --repeats times, interleaved query by query (the order of the variants alternating), in
wall time and in this process's CPU time: on a shared machine other jobs inflate wall time, so
the CPU-time ratio is the steadier one. Reported: pairs/s (median wall time) and, per variant,
the median over repeats of the card loop's time over its own:
- rerankit: ``scorer.score`` per query (length-sorted batches, left padding, the last position
  only, and of the output head only the label tokens' two rows: the label-row head);
- with --full-head, also rerankit with the whole 151,669-row head put back at the last position
  (what it did before the label-row head), to show what the label rows alone save;
- the baseline, the model card's transformers code (QwenLM/Qwen3-Embedding README.md,
  ``process_inputs`` + ``compute_logits``) run batch by batch over the same pairs with the same
  batch size, in input order as the card does;
- with --sorted, also the card loop on length-sorted batches, to show what sorting alone gives.
Scores of rerankit and the card are compared (max absolute difference).

With --backends, rerankit on the CPU backends too (the same checkpoint, its label-logit module
exported once into a private export cache, whose time is printed): ``openvino`` (float32,
OpenVINO's precision hint f32), ``openvino-bf16``, ``openvino-int8``, ``onnx`` (ONNX Runtime
float32), ``onnx-int8``; each row also gets its ratio to rerankit on torch float32 (same run,
interleaved) and its scores' max difference and Spearman correlation against torch float32's.
The CPU's model and instruction-set flags are printed first.

With few layers the card loop's cost is mostly its vocabulary logits at every position (151,669 x
1024 per token, about 10x one layer's weights), which rerankit skips; on the full 28-layer model
that share, and so the gap, is smaller.

    python benchmarks/generative.py --docs 4 --batch-size 4 --full-head   # CPU: 4 layers, 2 x 4 pairs
    python benchmarks/generative.py --layers 28 --docs 64 --device cuda --dtype bfloat16
    python benchmarks/generative.py --docs 8 --batch-size 4 --backends openvino openvino-bf16 onnx
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: --backends: rerankit's options for each CPU backend row
BACKENDS = {
    "openvino": {"backend": "openvino"},
    "openvino-bf16": {"backend": "openvino", "dtype": "bfloat16"},
    "openvino-int8": {"backend": "openvino", "quantize": "int8"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
}

WORDS = (
    "the a of and to in is was for on with by at from wing flow heat aircraft model speed high low "
    "pressure boundary layer shock wave laminar turbulent plate cylinder jet engine thin body "
    "supersonic subsonic drag lift transfer mach number"
).split()


def build(path: Path, layers: int, texts: list[str]) -> None:
    import torch
    from rerankit_crossencoder.recipes import QWEN3
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    pre = pre_tokenizers.Split(Regex(r"\s?[A-Za-z]+|\s|\d|[^\sA-Za-z\d]"), behavior="isolated")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<unk>"]
    words = set()
    for text in [*texts, QWEN3.prefix, QWEN3.suffix[0], QWEN3.default_instruction, "<Query>: <Document>: yes no"]:
        for special in specials:
            text = text.replace(special, " ")
        words.update(piece for piece, _ in pre.pre_tokenize_str(text))
    vocab = {t: i for i, t in enumerate([*specials, *sorted(words - set(specials))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre
    tok.add_special_tokens(specials[:3])
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>", unk_token="<unk>"
    ).save_pretrained(str(path))
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=151669, hidden_size=1024, intermediate_size=3072, num_hidden_layers=layers,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        tie_word_embeddings=True, pad_token_id=0,
    )
    Qwen3ForCausalLM(config).eval().save_pretrained(str(path))


def card_loop(model, tokenizer, pairs, batch_size, max_length=8192):
    """The model card's process_inputs + compute_logits, batch by batch (re-typed here)."""
    import torch
    from rerankit_crossencoder.recipes import QWEN3

    prefix_tokens = tokenizer.encode(QWEN3.prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(QWEN3.suffix[0], add_special_tokens=False)
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    out = []
    for start in range(0, len(pairs), batch_size):
        texts = [
            f"<Instruct>: {QWEN3.default_instruction}\n<Query>: {q}\n<Document>: {d}"
            for q, d in pairs[start : start + batch_size]
        ]
        inputs = tokenizer(texts, padding=False, truncation="longest_first", return_attention_mask=False,
                           max_length=max_length - len(prefix_tokens) - len(suffix_tokens))
        for i, ele in enumerate(inputs["input_ids"]):
            inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
        inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        with torch.no_grad():
            logits = model(**inputs).logits[:, -1, :]
            pair = torch.nn.functional.log_softmax(torch.stack([logits[:, no], logits[:, yes]], dim=1), dim=1)
            out += pair[:, 1].exp().float().tolist()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--docs", type=int, default=16, help="documents per query")
    parser.add_argument("--min-words", type=int, default=150)
    parser.add_argument("--max-words", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sorted", action="store_true", help="also time the card loop on length-sorted batches")
    parser.add_argument("--full-head", action="store_true", help="also time rerankit with the whole output head")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--backends", nargs="*", default=[], choices=list(BACKENDS),
                        help="also time rerankit on these CPU backends")
    args = parser.parse_args()

    rng = random.Random(0)
    queries = [
        "heat transfer in the boundary layer of a supersonic wing",
        "drag of a thin body at high mach number",
        "laminar to turbulent transition on a flat plate",
        "pressure waves from a jet engine at low speed",
    ]
    queries = [queries[i % len(queries)] + (f" {i}" if i >= len(queries) else "") for i in range(args.queries)]
    docs = {
        q: [" ".join(rng.choice(WORDS) for _ in range(rng.randint(args.min_words, args.max_words)))
            for _ in range(args.docs)]
        for q in queries
    }
    work = Path(tempfile.mkdtemp())
    os.environ.setdefault("RERANKIT_CACHE_DIR", str(work / "cache"))  # the exports, removed at the end
    try:
        run(args, queries, docs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, queries: list[str], docs: dict[str, list[str]], work: Path) -> None:
    import numpy as np
    import torch
    from backends import cpu as cpu_model
    from backends import spearman
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import rerankit

    n_pairs = args.queries * args.docs
    path = work / "Qwen3-Reranker-shaped"
    build(path, args.layers, [*queries, *(t for ts in docs.values() for t in ts)])
    reranker = rerankit.get_reranker(
        "crossencoder", model_name=str(path), batch_size=args.batch_size, device=args.device, dtype=args.dtype
    )
    scorer = reranker.scorer
    scorer.score(queries[0], docs[queries[0]][:2])  # load and warm up
    tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, args.dtype)).to(args.device).eval()
    pairs = {q: [(q, t) for t in ts] for q, ts in docs.items()}
    card_loop(model, tokenizer, pairs[queries[0]][:2], args.batch_size)
    tokens = [len(row) for q in queries for row in scorer.model.encode([q] * args.docs, docs[q])[0]]

    def ours(q: str) -> np.ndarray:
        return np.asarray(scorer.score(q, docs[q]))

    def card(q: str) -> np.ndarray:
        return np.array(card_loop(model, tokenizer, pairs[q], args.batch_size))

    def card_sorted(q: str) -> None:
        card_loop(model, tokenizer, sorted(pairs[q], key=lambda p: -len(p[1])), args.batch_size)

    on_backends = {}
    for name in args.backends:
        t = time.perf_counter()
        other = rerankit.get_reranker(
            "crossencoder", model_name=str(path), batch_size=args.batch_size, **BACKENDS[name]
        ).scorer
        other.score(queries[0], docs[queries[0]][:2])  # export (or reuse), compile, warm up
        print(f"  rerankit {name}: export, conversion and first batch {time.perf_counter() - t:.1f} s "
              f"({other.model.runtime.origin})", flush=True)
        on_backends[f"rerankit {name}"] = other

    generative = scorer.model
    label_head = generative.model.get_output_embeddings()
    # the tied embedding matrix as the output head again: rerankit as it scored before label rows
    embedding = generative.model.get_input_embeddings().weight
    whole_head = torch.nn.Linear(embedding.shape[1], embedding.shape[0], bias=False, device="meta")
    whole_head.weight = embedding

    def ours_full_head(q: str) -> np.ndarray:
        columns = generative.labels.columns
        generative.model.set_output_embeddings(whole_head)
        generative.labels.columns = [generative.true_id, generative.false_id]
        try:
            return ours(q)
        finally:
            generative.model.set_output_embeddings(label_head)
            generative.labels.columns = columns

    variants = {"rerankit": ours, "card loop": card}
    if args.full_head:
        variants["rerankit, full head"] = ours_full_head
    if args.sorted:
        variants["card loop, sorted"] = card_sorted
    for name, other in on_backends.items():
        variants[name] = lambda q, other=other: np.asarray(other.score(q, docs[q]))
    # per repeat and variant: wall seconds and this process's CPU seconds (all threads); CPU time is
    # what a busy machine's other jobs change least, so its ratio is the robust one under load
    wall: dict[str, list[float]] = {name: [0.0] * args.repeats for name in variants}
    cpu: dict[str, list[float]] = {name: [0.0] * args.repeats for name in variants}
    results: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for k, q in enumerate(queries):  # interleaved query by query, the order alternating
            names = list(variants) if (repeat + k) % 2 == 0 else list(reversed(variants))
            for name in names:
                t, c = time.perf_counter(), time.process_time()
                out = variants[name](q)
                wall[name][repeat] += time.perf_counter() - t
                cpu[name][repeat] += time.process_time() - c
                if repeat == 0 and out is not None:
                    results[name].append(out)
        print(f"  repeat {repeat + 1}: " + ", ".join(
            f"{name} {wall[name][repeat]:.1f} s wall / {cpu[name][repeat]:.1f} s CPU" for name in variants
        ), flush=True)

    name, flags = cpu_model()
    print(f"CPU: {name}; {rerankit.local.default_threads()} cores available; flags: {' '.join(flags) or 'none'}")
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    print(f"Qwen3-0.6B shape, {args.layers} layer(s), {args.queries} queries x {args.docs} docs, "
          f"{min(tokens)} to {max(tokens)} tokens per row, batch {args.batch_size}, {args.dtype} on {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.repeats} interleaved repeats")
    print(f"  rerankit's output head: {label_head.out_features} of {embedding.shape[0]} rows "
          f"({'the label-row head' if label_head.out_features < embedding.shape[0] else 'the full head'})")
    print(f"  {'variant':<24} {'pairs/s':>8}  {'vs card loop':>12}  {'CPU s/pair':>10}  {'vs card loop':>12}"
          f"  {'vs rerankit':>11}  {'CPU vs rerankit':>15}")

    def ratio(times: dict[str, list[float]], base: str, name: str) -> float:
        return statistics.median(b / mine for b, mine in zip(times[base], times[name], strict=True))

    for name in variants:
        rate = n_pairs / statistics.median(wall[name])
        per_pair = statistics.median(cpu[name]) / n_pairs
        print(f"  {name:<24} {rate:8.2f}  {ratio(wall, 'card loop', name):11.2f}x  {per_pair:10.3f}  "
              f"{ratio(cpu, 'card loop', name):11.2f}x  {ratio(wall, 'rerankit', name):10.2f}x  "
              f"{ratio(cpu, 'rerankit', name):14.2f}x")
    print("  (pairs/s: median wall time; ratios: median over repeats of the baseline's time / the variant's; "
          "'rerankit' is rerankit on torch)")
    diff = np.abs(np.concatenate(results["rerankit"]) - np.concatenate(results["card loop"])).max()
    print(f"  max |rerankit - card| score difference: {diff:.2e}")
    if args.full_head:
        diff = np.abs(np.concatenate(results["rerankit"]) - np.concatenate(results["rerankit, full head"])).max()
        print(f"  max |label rows - full head| score difference: {diff:.2e}")
    reference = np.concatenate(results["rerankit"])
    for name in on_backends:
        got = np.concatenate(results[name])
        print(f"  {name}: max |score - torch float32's| {np.abs(got - reference).max():.2e}, "
              f"Spearman {spearman(reference, got):.4f}")


if __name__ == "__main__":
    main()
