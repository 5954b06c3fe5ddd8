"""LLM reranker speed: rerankit's qwen3 recipe against the Qwen3-Reranker model card's loop.

Model: Qwen3-Reranker-0.6B's shape (hidden 1024, 16 heads / 8 KV heads of 128, MLP 3072, vocabulary
151,669, tied embeddings) with --layers layers instead of 28 (random weights, seed 0), built and
saved to a temp dir, loaded by path through ``rerankit.get_reranker``. The tokenizer is a
word-level one built from the texts (no Qwen tokenizer offline), so token counts are close to,
not equal to, the real ones. Texts: synthetic aeronautics sentences of 20 to 160 words.

Measured, interleaved, --repeats times each (median reported):
- rerankit: ``scorer.score`` (length-sorted batches, left padding, last-position logits only);
- the baseline, the model card's transformers code (QwenLM/Qwen3-Embedding README.md,
  ``process_inputs`` + ``compute_logits``) run batch by batch over the same pairs with the same
  batch size, in input order as the card does;
- the same card loop on length-sorted batches, to show what sorting alone gives.
Scores of rerankit and the card are compared (max absolute difference).

    python benchmarks/generative.py                       # CPU, a few minutes on 2 shared cores
    python benchmarks/generative.py --layers 4 --pairs 64 --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

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
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()

    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import rerankit

    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 160))) for _ in range(args.pairs)]
    query = "heat transfer in the boundary layer of a supersonic wing"
    path = Path(tempfile.mkdtemp()) / "Qwen3-Reranker-shaped"
    build(path, args.layers, [*texts, query])
    reranker = rerankit.get_reranker(
        "crossencoder", model_name=str(path), batch_size=args.batch_size, device=args.device, dtype=args.dtype
    )
    scorer = reranker.scorer
    scorer.score(query, texts[:2])  # load and warm up
    tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, args.dtype)).to(args.device).eval()
    pairs = [(query, t) for t in texts]
    order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][1]))
    card_loop(model, tokenizer, pairs[:2], args.batch_size)

    timings: dict[str, list[float]] = {"rerankit": [], "card loop": [], "card loop, sorted": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        ours = np.array(scorer.score(query, texts))
        timings["rerankit"].append(time.perf_counter() - t)
        t = time.perf_counter()
        card = np.array(card_loop(model, tokenizer, pairs, args.batch_size))
        timings["card loop"].append(time.perf_counter() - t)
        t = time.perf_counter()
        card_loop(model, tokenizer, [pairs[i] for i in order], args.batch_size)
        timings["card loop, sorted"].append(time.perf_counter() - t)

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    print(f"Qwen3-0.6B shape, {args.layers} layers, {args.pairs} pairs, batch {args.batch_size}, "
          f"{args.dtype} on {device}; median of {args.repeats}")
    base = statistics.median(timings["card loop"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"  {name:<18} {args.pairs / median:8.2f} pairs/s   {base / median:5.2f}x the card loop")
    print(f"  max |rerankit - card| score difference: {np.abs(ours - card).max():.2e}")


if __name__ == "__main__":
    main()
