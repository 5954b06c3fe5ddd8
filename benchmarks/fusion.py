"""Fusion speed: rerankit vs lancedb.rerankers, the many-queries form vs ranx, and cold import.

Run: ./dev.sh test is not needed; use the dev venv directly:
    .venv/bin/python benchmarks/fusion.py [--repeats 5]
Prints times (median of repeats, after a warm-up) and ratios side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa

import rerankit


def timed(fn, repeats: int, inner: int = 1) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def hybrid_inputs(n: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Two result lists of n rows each, half of the rows shared, as a LanceDB hybrid search returns."""
    rng = np.random.default_rng(seed)
    space = rng.permutation(int(n * 1.5))
    vec_ids, fts_ids = space[:n], space[n // 2 : n // 2 + n]
    rng.shuffle(fts_ids)

    def table(ids, score_col, scores):
        return pa.table(
            {
                "_rowid": pa.array(ids, pa.uint64()),
                "text": pa.array([f"document {i}" for i in ids]),
                score_col: pa.array(scores, pa.float32()),
            }
        )

    return (
        table(vec_ids, "_distance", np.sort(rng.random(n))),
        table(fts_ids, "_score", np.sort(rng.random(n) * 20)[::-1]),
    )


def bench_hybrid(repeats: int) -> None:
    from lancedb.rerankers import LinearCombinationReranker, MRRReranker, RRFReranker

    pairs = [
        ("rrf", RRFReranker(), rerankit.get_reranker("rrf")),
        ("linear", LinearCombinationReranker(), rerankit.get_reranker("linear")),
        ("mrr", MRRReranker(), rerankit.get_reranker("mrr")),
    ]
    print("\n## rerank_hybrid: two lists of N rows (half shared), median seconds per call")
    print(f"{'method':8} {'N':>7} {'lancedb':>10} {'rerankit':>10} {'speed-up':>9}")
    for n in (100, 10_000, 100_000):
        vec, fts = hybrid_inputs(n)
        inner = 50 if n == 100 else 1
        reps = repeats if n < 100_000 else max(3, repeats // 2)
        for name, theirs, ours in pairs:
            t_lance = timed(lambda r=theirs, v=vec, f=fts: r.rerank_hybrid("q", v, f), reps, inner)
            t_ours = timed(lambda r=ours, v=vec, f=fts: r.rerank_hybrid("q", v, f), reps, inner)
            print(f"{name:8} {n:>7} {t_lance:>10.6f} {t_ours:>10.6f} {t_lance / t_ours:>8.1f}x")


def runs_inputs(queries: int, docs: int, seed: int = 1, presorted: bool = True) -> list[pa.Table]:
    """Two runs; presorted: grouped by query, best first, as a search system writes them."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(2):
        qids = np.repeat([f"q{i}" for i in range(queries)], docs)
        dids = np.concatenate([rng.choice(docs * 3, size=docs, replace=False) for _ in range(queries)])
        scores = rng.random(queries * docs)
        if presorted:
            scores = -np.sort(-scores.reshape(queries, docs), axis=1).reshape(-1)
        doc_ids = [f"d{d}" for d in dids]
        runs.append(pa.table({"query_id": qids, "doc_id": doc_ids, "score": scores}))
    return runs


def bench_runs(repeats: int) -> None:
    from ranx import Run, fuse

    rrf = rerankit.get_reranker("rrf")
    print("\n## many-queries RRF: 1,000 queries x 100 docs x 2 runs, median seconds per call")
    print(f"{'runs':24} {'ranx.fuse':>10} {'fuse_runs':>10} {'speed-up':>9}")
    for presorted in (True, False):
        runs = runs_inputs(1000, 100, presorted=presorted)
        ranx_runs = []
        for t in runs:
            d: dict[str, dict[str, float]] = {}
            for q, doc, s in zip(t["query_id"].to_pylist(), t["doc_id"].to_pylist(), t["score"].to_pylist()):
                d.setdefault(q, {})[doc] = s
            ranx_runs.append(Run(d))
        t_ranx = timed(lambda r=ranx_runs: fuse(r, method="rrf", params={"k": 60}), repeats)
        t_ours = timed(lambda r=runs: rrf.fuse_runs(r, id_column="doc_id"), repeats)
        label = "sorted by query, score" if presorted else "rows in random order"
        print(f"{label:24} {t_ranx:>10.4f} {t_ours:>10.4f} {t_ranx / t_ours:>8.1f}x")
        # same answer: every query's fused top 10 equals ranx's
        theirs = fuse(ranx_runs, method="rrf", params={"k": 60}).to_dict()
        ours = rrf.fuse_runs(runs, id_column="doc_id").to_pydict()
        mine: dict[str, list[str]] = {}
        for q, doc in zip(ours["query_id"], ours["doc_id"]):
            mine.setdefault(q, []).append(doc)
        same = sum(
            set(sorted(theirs[q], key=lambda k, q=q: -theirs[q][k])[:10]) == set(mine[q][:10]) for q in theirs
        )
        print(f"{'':24} (check: top-10 sets equal to ranx's for {same}/{len(theirs)} queries)")


def cold(code: str, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"})
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_import(repeats: int) -> None:
    base = cold("pass", repeats)
    ours = cold("import rerankit; rerankit.get_reranker('rrf')", repeats) - base
    theirs = cold("import lancedb.rerankers", repeats) - base
    print("\n## cold start in a fresh interpreter (interpreter start-up subtracted), median seconds")
    print(f"{'lancedb.rerankers':>18} {'rerankit+rrf':>13} {'ratio':>7}")
    print(f"{theirs:>18.3f} {ours:>13.3f} {ours / theirs:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"# rerankit {rerankit.__version__} fusion benchmark; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"# command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    bench_hybrid(args.repeats)
    bench_runs(args.repeats)
    bench_import(args.repeats)


if __name__ == "__main__":
    main()
