"""``rerankit demo``: hybrid search on Cranfield in an embedded LanceDB, fused by rerankit, scored by nDCG@10.

For every judged query it runs a vector search, a full-text search and three hybrid searches whose
results LanceDB hands to rerankit's ``rrf``, ``linear`` and ``mrr`` (through
:func:`rerankit.lancedb.to_lancedb`), 100 candidates each as in the reference figures, then prints
nDCG@10, MRR@10 and R@100 beside the reference and one example query's fused top results.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import cranfield, metrics
from .index import DemoError, Index, default_cache_dir, open_index

CANDIDATES = 100
FUSIONS = ("rrf", "linear", "mrr")
DEFAULT_EXAMPLE = "7"

#: LanceDB 0.40 over title + text, 100 candidates, 225 judged queries (cranfield/README.md):
#: pipeline -> (nDCG@10, MRR@10, R@100).
REFERENCE: dict[str, tuple[float, float, float]] = {
    "vector": (0.382, 0.538, 0.772),
    "fts": (0.375, 0.536, 0.746),
    "rrf": (0.418, 0.589, 0.786),
    "linear": (0.413, 0.566, 0.790),
    "mrr": (0.410, 0.579, 0.786),
}
LABELS = {
    "vector": "vector search (MiniLM-L6)",
    "fts": "full-text search",
    "rrf": "hybrid, rerankit rrf",
    "linear": "hybrid, rerankit linear",
    "mrr": "hybrid, rerankit mrr",
}
PIPELINES = ("vector", "fts", *FUSIONS)


@dataclass
class DemoResult:
    """Mean metrics per pipeline, the per-query rankings, and how long each part took."""

    scores: dict[str, dict[str, float]]
    rankings: dict[str, dict[str, list[str]]] = field(repr=False)
    queries: int
    index_seconds: float
    search_seconds: float
    built: bool


def run_demo(
    *,
    cache_dir: Path | None = None,
    max_queries: int | None = None,
    max_docs: int | None = None,
    example: str | None = None,
    top: int = 5,
    rebuild: bool = False,
    progress: bool = True,
    out: TextIO | None = None,
) -> DemoResult:
    """Run the demo and print its report to ``out`` (stdout); returns the figures.

    ``max_queries`` evaluates only the first judged queries and ``max_docs`` indexes only the first
    documents (quick checks; the figures are then not comparable with the reference).
    """
    out = out or sys.stdout
    from rerankit.lancedb import to_lancedb

    collection = cranfield.load(max_docs=max_docs)
    judged = collection.judged()
    if max_queries is not None:
        judged = judged[:max_queries]
    if not judged:
        raise DemoError("no judged query to evaluate; raise --queries")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def log(message: str) -> None:
        print(message, file=out, flush=True)

    log(
        f"rerankit demo: Cranfield, {len(collection.doc_ids):,} aeronautics abstracts and "
        f"{len(judged)} judged queries; an embedded LanceDB index in {cache_dir}"
    )
    index = open_index(collection, cache_dir, rebuild=rebuild, progress=progress, log=log)
    if index.built:
        took = f"{index.seconds:.1f} s (embedding {index.embed_seconds:.1f} s)"
        log(f"index built in {took}; cached for the next run")
    else:
        log(f"index loaded from the cache in {index.seconds:.1f} s (rebuild it with --rebuild)")

    rerankers = {name: to_lancedb(name) for name in FUSIONS}
    rankings: dict[str, dict[str, list[str]]] = {p: {} for p in PIPELINES}
    start = time.perf_counter()
    for qid, text in judged:
        for pipeline, ids in _search(index, qid, text, rerankers).items():
            rankings[pipeline][qid] = ids
    search_seconds = time.perf_counter() - start

    scores = {
        p: {
            "nDCG@10": metrics.mean([metrics.ndcg_at_k(r, collection.qrels[q], 10) for q, r in runs.items()]),
            "MRR@10": metrics.mean([metrics.rr_at_k(r, collection.qrels[q], 10) for q, r in runs.items()]),
            "R@100": metrics.mean(
                [metrics.recall_at_k(r, collection.qrels[q], 100) for q, r in runs.items()]
            ),
        }
        for p, runs in rankings.items()
    }
    result = DemoResult(scores, rankings, len(judged), index.seconds, search_seconds, index.built)
    complete = max_queries is None and max_docs is None
    log(
        f"searched {len(judged)} queries x {len(PIPELINES)} pipelines, {CANDIDATES} candidates each, "
        f"in {search_seconds:.1f} s\n"
    )
    _print_scores(result, complete, out)
    _print_example(index, collection, rankings, example, judged, rerankers, top, out)
    return result


def _search(index: Index, qid: str, text: str, rerankers: dict[str, Any]) -> dict[str, list[str]]:
    vector = index.query_vectors[qid]
    tbl = index.table
    found = {
        "vector": tbl.search(vector).limit(CANDIDATES).select(["doc_id", "_distance"]).to_arrow(),
        "fts": tbl.search(text, query_type="fts").limit(CANDIDATES).select(["doc_id", "_score"]).to_arrow(),
    }
    for name, reranker in rerankers.items():
        found[name] = _hybrid(index, qid, text).rerank(reranker=reranker).to_arrow()
    return {name: table["doc_id"].to_pylist() for name, table in found.items()}


def _hybrid(index: Index, qid: str, text: str) -> Any:
    # No select(): LanceDB would warn on each leg that it adds _distance/_score by itself.
    query = index.table.search(query_type="hybrid").vector(index.query_vectors[qid]).text(text)
    return query.limit(CANDIDATES)


def _print_scores(result: DemoResult, complete: bool, out: TextIO) -> None:
    width = max(len(label) for label in LABELS.values())
    names = ("nDCG@10", "MRR@10", "R@100")
    print((f"{'':{width}}  " + "  ".join(f"{n:^15}" for n in names)).rstrip(), file=out)
    print(f"{'pipeline':{width}}  " + "  ".join(f"{'this run':>8} {'ref':>6}" for _ in names), file=out)
    for p in PIPELINES:
        cells = [f"{result.scores[p][n]:8.3f} {REFERENCE[p][i]:6.3f}" for i, n in enumerate(names)]
        print(f"{LABELS[p]:{width}}  " + "  ".join(cells), file=out)
    note = "ref: LanceDB 0.40 with its own rerankers (RRF, LinearCombination, MRR), same data and model."
    if not complete:
        note += " This run used a subset (--queries/--docs), so its figures are not comparable."
    print(note + "\n", file=out)


def _print_example(
    index: Index,
    collection: cranfield.Collection,
    rankings: dict[str, dict[str, list[str]]],
    example: str | None,
    judged: list[tuple[str, str]],
    rerankers: dict[str, Any],
    top: int,
    out: TextIO,
) -> None:
    texts = dict(judged)
    qid = example if example is not None else (DEFAULT_EXAMPLE if DEFAULT_EXAMPLE in texts else judged[0][0])
    if qid not in texts:
        raise DemoError(
            f"--example {qid} is not one of the {len(judged)} evaluated queries "
            f"(ids {judged[0][0]} to {judged[-1][0]}); pick one of them"
        )
    qrels = collection.qrels[qid]
    fused = _hybrid(index, qid, texts[qid]).rerank(reranker=rerankers["rrf"]).to_arrow().slice(0, top)
    vec_rank = {d: i + 1 for i, d in enumerate(rankings["vector"][qid])}
    fts_rank = {d: i + 1 for i, d in enumerate(rankings["fts"][qid])}
    per_query = ", ".join(f"{p} {metrics.ndcg_at_k(rankings[p][qid], qrels, 10):.3f}" for p in PIPELINES)
    print(f'example query {qid}: "{texts[qid]}"', file=out)
    print(f"nDCG@10 for this query: {per_query}", file=out)
    print(
        f"top {top} after hybrid search fused by rerankit rrf (grade: 4 best, 0 or - not relevant):", file=out
    )
    print(f"{'rank':>4} {'doc':>5} {'rrf score':>9} {'vector':>6} {'fts':>4} {'grade':>5}  title", file=out)
    for rank, (doc, title, score) in enumerate(
        zip(*(fused[c].to_pylist() for c in ("doc_id", "title", "_relevance_score")), strict=True), 1
    ):
        grade = qrels.get(doc)
        print(
            f"{rank:>4} {doc:>5} {score:9.5f} {vec_rank.get(doc, '-'):>6} {fts_rank.get(doc, '-'):>4} "
            f"{'-' if grade is None else grade:>5}  {_clip(title, 60)}",
            file=out,
        )


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
