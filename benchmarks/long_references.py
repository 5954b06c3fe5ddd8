"""The two reference rows of the long-document figures, on ``rerankit eval``'s own candidates:
an independent MaxP (fixed word windows cut here, each scored as a row with ``passages`` off, a
row's score the max of its windows') and the ceiling (the same model on the short original each
long candidate was built around), beside BM25 alone.

``passages`` is right when its no-cap nDCG@10 is near the independent MaxP's; the ceiling is what
the model would reach if it only read the judged part. Candidates are ``rerankit eval``'s (its
cached LanceDB index, BM25 top --candidates of the first --queries judged queries), the reranker
comes from --config (e.g. the packaged MiniLM-L6 for ``embedding`` on OpenVINO), with ``passages``
removed; the metrics are ``rerankit eval``'s (ir-measures).

    python benchmarks/long_documents.py ../shared/data/cisi /tmp/long/cisi
    python benchmarks/long_references.py /tmp/long/cisi --config embedding.json --words 150
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import pyarrow as pa

import rerankit
from rerankit.eval._index import open_judged
from rerankit.eval._metrics import measure
from rerankit.eval._search import search


def windows(text: str, words: int, step: int) -> list[str]:
    """``text`` cut into windows of ``words`` whitespace-separated words, one every ``step`` words."""
    split = text.split()
    starts = range(0, max(len(split) - words, 0) + 1, step)
    out = [" ".join(split[s : s + words]) for s in starts]
    if starts[-1] + words < len(split):  # the tail a last step would miss
        out.append(" ".join(split[-words:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", help="a long-document collection from benchmarks/long_documents.py")
    parser.add_argument("--config", type=Path, required=True, help="a reranker config file (.json/.toml)")
    parser.add_argument("--queries", type=int, default=None, help="the first N judged queries (default all)")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--words", type=int, default=150, help="MaxP window in words")
    parser.add_argument("--step", type=int, default=None, help="words between window starts (default --words)")
    parser.add_argument("--metrics", default="nDCG@10,RR@10,R@20")
    parser.add_argument("--embedding-model", default=None, help="as rerankit eval's (the index's model)")
    parser.add_argument("--cache-dir", default=None, help="as rerankit eval's (where its index is)")
    args = parser.parse_args()

    base = json.loads(args.config.read_text()) if args.config.suffix == ".json" else _toml(args.config)
    base = {k: v for k, v in base.items() if k not in ("passages", "cache")}
    reranker = rerankit.from_config(base)
    coll, judged, index = open_judged(
        args.collection, queries=args.queries, purpose="compare", embedding_model=args.embedding_model,
        cache_dir=args.cache_dir,
    )
    originals = {}
    for line in (Path(args.collection) / "corpus.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        meta = record["metadata"]
        originals[record["_id"]] = record["text"][meta["start"] : meta["end"]]
    rankings: dict[str, dict[str, list[str]]] = {"BM25 alone": {}, "independent MaxP": {}, "ceiling": {}}
    seconds: dict[str, list[float]] = {"independent MaxP": [], "ceiling": []}
    per_row = []
    for qid, text in judged:
        found = search(index, qid, text, args.candidates, {"bm25"}, ["doc_id", "text"]).fts
        ids, texts = found["doc_id"].to_pylist(), found["text"].to_pylist()
        rankings["BM25 alone"][qid] = ids
        cut = [windows(t, args.words, args.step or args.words) for t in texts]
        per_row += [len(c) for c in cut]
        flat = pa.table({"row": [i for i, c in enumerate(cut) for _ in c], "text": [w for c in cut for w in c]})
        start = time.perf_counter()
        scored = reranker.rerank_fts(text, flat).to_pylist()
        seconds["independent MaxP"].append(time.perf_counter() - start)
        best: dict[int, float] = {}
        for r in scored:
            best[r["row"]] = max(best.get(r["row"], float("-inf")), r["_relevance_score"])
        rankings["independent MaxP"][qid] = [ids[i] for i in sorted(best, key=lambda i: -best[i])]
        start = time.perf_counter()
        short = reranker.rerank_fts(text, pa.table({"doc_id": ids, "text": [originals[d] for d in ids]}))
        seconds["ceiling"].append(time.perf_counter() - start)
        rankings["ceiling"][qid] = short["doc_id"].to_pylist()
    metrics = [m.strip() for m in args.metrics.split(",")]
    print(f"{args.collection}: {len(judged)} queries, BM25 top {args.candidates}; MaxP windows of {args.words} "
          f"words every {args.step or args.words} ({statistics.fmean(per_row):.2f} a row)")
    names = metrics
    print(f"{'pipeline':20s} " + " ".join(f"{n:>8s}" for n in names) + f" {'p50 s/query':>12s}")
    for name, ranking in rankings.items():
        values = measure(ranking, coll.qrels, metrics)
        took = f"{statistics.median(seconds[name]):12.2f}" if name in seconds else f"{'':12s}"
        print(f"{name:20s} " + " ".join(f"{values[n]:8.3f}" for n in names) + f" {took}")


def _toml(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())


if __name__ == "__main__":
    main()
