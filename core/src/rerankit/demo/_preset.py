"""``rerankit demo``: a preset of ``rerankit eval`` on the bundled Cranfield, printed beside LanceDB's figures.

For every judged query it runs a vector search and a full-text search (100 candidates each, as in
the reference figures) and fuses the two lists with rerankit's ``rrf``, ``linear`` (min-max
normalized, as LanceDB's hybrid query hands scores to a reranker) and ``mrr``, then prints nDCG@10,
MRR@10 (ir-measures' RR@10) and R@100 beside the reference and one example query's fused top results.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rerankit.eval._collection import Collection, EvalError, load_collection
from rerankit.eval._index import Index, default_cache_dir
from rerankit.eval._metrics import measure_per_query
from rerankit.eval._runner import run_eval
from rerankit.eval._search import search

CANDIDATES = 100
FUSIONS = ("rrf", "linear", "mrr")
DEFAULT_EXAMPLE = "7"

#: LanceDB 0.40 over title + text, 100 candidates, 225 judged queries (eval/cranfield/README.md):
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
#: The demo as an evaluation: each pipeline's (retriever, reranker). LanceDB's hybrid query min-max
#: normalizes both lists before its reranker sees them, so ``linear`` is given normalize="min-max".
RERANKERS = ["rrf", {"reranker": "linear", "normalize": "min-max"}, "mrr"]
EVAL_KEYS = {
    ("vector", "none"): "vector",
    ("bm25", "none"): "fts",
    ("hybrid", "rrf"): "rrf",
    ("hybrid", "linear(normalize=min-max)"): "linear",
    ("hybrid", "mrr"): "mrr",
}
METRICS = {"nDCG@10": "nDCG@10", "RR@10": "MRR@10", "R@100": "R@100"}


class DemoError(EvalError):
    """The demo cannot run: a missing dependency, an unusable cache directory or a bad option."""


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
    collection = load_collection("cranfield", max_docs=max_docs)
    judged = collection.judged()
    if max_queries is not None:
        judged = judged[:max_queries]
    if not judged:
        raise DemoError("no judged query to evaluate; raise --queries")
    texts = dict(judged)
    example = example if example is not None else (DEFAULT_EXAMPLE if DEFAULT_EXAMPLE in texts else judged[0][0])
    if example not in texts:
        raise DemoError(
            f"--example {example} is not one of the {len(judged)} evaluated queries "
            f"(ids {judged[0][0]} to {judged[-1][0]}); pick one of them"
        )
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def log(message: str) -> None:
        print(message, file=out, flush=True)

    def on_index(index: Index) -> None:
        if index.built:
            took = f"{index.seconds:.1f} s (embedding {index.embed_seconds:.1f} s)"
            log(f"index built in {took}; cached for the next run")
        else:
            log(f"index loaded from the cache in {index.seconds:.1f} s (rebuild it with --rebuild)")

    log(
        f"rerankit demo: Cranfield, {len(collection.doc_ids):,} aeronautics abstracts and "
        f"{len(judged)} judged queries; an embedded LanceDB index in {cache_dir}"
    )
    run = run_eval(
        collection,
        retrievers=["vector", "bm25", "hybrid"],
        rerankers=RERANKERS,
        candidates=CANDIDATES,
        metrics=list(METRICS),
        queries=len(judged),
        cache_dir=cache_dir,
        rebuild=rebuild,
        progress=progress,
        log=log,
        on_index=on_index,
    )
    rankings = {EVAL_KEYS[key]: ranking for key, ranking in run.rankings.items()}
    scores = {
        EVAL_KEYS[key]: {METRICS[name]: value for name, value in values.items()} for key, values in run.scores.items()
    }
    result = DemoResult(scores, rankings, len(judged), run.index.seconds, run.search_seconds, run.index.built)
    complete = max_queries is None and max_docs is None
    log(
        f"searched {len(judged)} queries x {len(PIPELINES)} pipelines, {CANDIDATES} candidates each, "
        f"in {run.search_seconds:.1f} s\n"
    )
    _print_scores(result, complete, out)
    _print_example(run.index, collection, rankings, example, judged, top, out)
    return result


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
    collection: Collection,
    rankings: dict[str, dict[str, list[str]]],
    qid: str,
    judged: list[tuple[str, str]],
    top: int,
    out: TextIO,
) -> None:
    from rerankit import get_reranker

    texts = dict(judged)
    qrels = collection.qrels[qid]
    found = search(index, qid, texts[qid], CANDIDATES, {"vector", "bm25"})
    fused = get_reranker("rrf", top_n=top).rerank_hybrid(texts[qid], found.vector, found.fts)
    titles = dict(zip(collection.doc_ids, collection.titles))
    vec_rank = {d: i + 1 for i, d in enumerate(rankings["vector"][qid])}
    fts_rank = {d: i + 1 for i, d in enumerate(rankings["fts"][qid])}
    ndcg = {p: measure_per_query({qid: rankings[p][qid]}, collection.qrels, ["nDCG@10"])["nDCG@10"][qid]
            for p in PIPELINES}
    per_query = ", ".join(f"{p} {ndcg[p]:.3f}" for p in PIPELINES)
    print(f'example query {qid}: "{texts[qid]}"', file=out)
    print(f"nDCG@10 for this query: {per_query}", file=out)
    print(
        f"top {top} after hybrid search fused by rerankit rrf (grade: 4 best, 0 or - not relevant):", file=out
    )
    print(f"{'rank':>4} {'doc':>5} {'rrf score':>9} {'vector':>6} {'fts':>4} {'grade':>5}  title", file=out)
    for rank, (doc, score) in enumerate(
        zip(fused["doc_id"].to_pylist(), fused["_relevance_score"].to_pylist(), strict=True), 1
    ):
        grade = qrels.get(doc)
        print(
            f"{rank:>4} {doc:>5} {score:9.5f} {vec_rank.get(doc, '-'):>6} {fts_rank.get(doc, '-'):>4} "
            f"{'-' if grade is None else grade:>5}  {_clip(titles[doc], 60)}",
            file=out,
        )


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
