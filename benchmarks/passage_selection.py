"""Which passages a capped row should score: how often each ``passages.select`` keeps a row's
no-cap MaxP score, and the nDCG@10 it gives, against ``max_passages=None`` (the named baseline), on
the same candidates.

A row over ``max_passages`` is scored on the passages ``select`` picks; with ``aggregate="max"``
its score equals the no-cap score exactly when the picked passages hold its best one. This counts
those rows for each ``select`` (all of them unless --select), the nDCG@10 and RR@10 of the rankings
the scores give (``rerankit eval``'s metrics), and the passages scored and skipped per row from the
usage record.

Candidates are ``rerankit eval``'s own (its cached LanceDB index, BM25 top --candidates of the first
--queries judged queries), so the figures pair with an eval run on the same collection. The
rerankers come from a config file (--config: model and its options, e.g. the packaged MiniLM-L6 for
``embedding``) with ``passages`` set per variant; give the config a shared ``cache`` (sqlite) and run
the eval first, and every score here is a cache hit (no model call: seconds, not hours).

    python benchmarks/long_documents.py ../shared/data/cranfield /tmp/long/cranfield
    python benchmarks/passage_selection.py /tmp/long/cranfield --config embedding-cached.json \
        --queries 25 --max-passages 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import rerankit
from rerankit._scoring.steps.selection import SELECTS
from rerankit.eval._index import open_judged
from rerankit.eval._metrics import measure
from rerankit.eval._search import search

METRICS = ("nDCG@10", "RR@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", help="a BEIR-layout folder (e.g. a long-document collection)")
    parser.add_argument("--config", type=Path, required=True, help="a reranker config file (.json/.toml)")
    parser.add_argument("--queries", type=int, default=25)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--max-passages", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=None, help="passages.max_length (default: the scorer's)")
    parser.add_argument("--stride", type=int, default=None, help="passages.stride (default: the scorer's)")
    parser.add_argument("--select", default=",".join(SELECTS), help="comma-separated select modes (default all)")
    parser.add_argument("--embedding-model", default=None, help="as rerankit eval's (the index's model)")
    parser.add_argument("--cache-dir", default=None, help="as rerankit eval's (where its index is)")
    args = parser.parse_args()

    base = json.loads(args.config.read_text()) if args.config.suffix == ".json" else _toml(args.config)
    window = {} if args.max_length is None else {"max_length": args.max_length}
    if args.stride is not None:
        window["stride"] = args.stride
    variants = {"no cap (baseline)": {**window, "max_passages": None}}
    variants.update({s: {**window, "max_passages": args.max_passages, "select": s} for s in args.select.split(",")})
    rerankers = {name: rerankit.from_config({**base, "passages": p}) for name, p in variants.items()}
    coll, judged, index = open_judged(
        args.collection, queries=args.queries, purpose="compare", embedding_model=args.embedding_model,
        cache_dir=args.cache_dir,
    )
    kept = dict.fromkeys(variants, 0)
    rankings: dict[str, dict[str, list[str]]] = {name: {} for name in variants}
    rows = 0
    for qid, text in judged:
        found = search(index, qid, text, args.candidates, {"bm25"}, ["doc_id", "text"])
        scores = {}
        for name, reranker in rerankers.items():
            out = reranker.rerank_fts(text, found.fts)
            scores[name] = dict(zip(out["doc_id"].to_pylist(), out["_relevance_score"].to_pylist()))
            rankings[name][qid] = out["doc_id"].to_pylist()
        baseline = scores["no cap (baseline)"]
        rows += len(baseline)
        for name in variants:
            kept[name] += sum(abs(scores[name][d] - baseline[d]) < 1e-6 for d in baseline)
    print(f"{args.collection}: {len(judged)} queries x {args.candidates} candidates = {rows} rows; "
          f"max_passages={args.max_passages}, max_length={args.max_length or 'the scorer window'}")
    header = f"{'select':20s} {'rows with the no-cap score':>27s} {'passages/row':>13s} {'skipped/row':>12s}"
    print(header + f" {'misses':>7s}" + "".join(f" {m:>8s}" for m in METRICS))
    for name, reranker in rerankers.items():
        usage = reranker.usage
        values = measure(rankings[name], coll.qrels, METRICS)
        print(f"{name:20s} {kept[name]:>12d} ({kept[name] / rows:6.1%})     {usage.passages_selected / rows:>13.2f} "
              f"{usage.passages_skipped / rows:>12.2f} {usage.cache_misses:>7d}"
              + "".join(f" {values[m]:8.3f}" for m in METRICS))


def _toml(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())


if __name__ == "__main__":
    main()
