"""Write a long-document collection (BEIR layout) for ``rerankit eval``: each document of a short
collection hidden among 3 to 6 unrelated ones (judged relevant to no query), at a seeded position.

The work is :func:`rerankit.eval.make_long_documents`; this prints what came out (documents,
length in words, where the originals sit) so that a figure measured on it can name its input.

    python benchmarks/long_documents.py cranfield /tmp/long/cranfield          # the bundled copy
    python benchmarks/long_documents.py path/to/cisi /tmp/long/cisi --seed 0 --others 3 6
    rerankit eval /tmp/long/cranfield --retriever bm25 --reranker embedding
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from rerankit.eval import make_long_documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a BEIR-layout folder, or 'cranfield' (the copy rerankit.eval bundles)")
    parser.add_argument("target", type=Path, help="the folder to write (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--others", type=int, nargs=2, default=(3, 6), metavar=("LEAST", "MOST"),
                        help="how many unrelated documents join each one (default 3 6)")
    args = parser.parse_args()

    long = make_long_documents(args.source, args.target, others=tuple(args.others), seed=args.seed)
    records = [json.loads(line) for line in (args.target / "corpus.jsonl").open(encoding="utf-8")]
    words = [len(r["text"].split()) for r in records]
    places = {"first": 0, "middle": 0, "last": 0}
    for r in records:
        meta = r["metadata"]
        last = len(meta["parts"]) - 1
        places["first" if meta["position"] == 0 else "last" if meta["position"] == last else "middle"] += 1
    print(f"wrote {args.target}: {len(records)} documents from {args.source} (seed {args.seed}, "
          f"{args.others[0]}-{args.others[1]} others each), {len(long.judged())} judged queries, "
          f"{sum(len(j) for j in long.qrels.values())} judgments")
    print(f"words per document: median {statistics.median(words):.0f}, mean {statistics.fmean(words):.0f}, "
          f"max {max(words)}; the original is first in {places['first']}, in the middle in "
          f"{places['middle']}, last in {places['last']}")


if __name__ == "__main__":
    main()
