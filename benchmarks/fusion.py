"""Fusion speed: rerankit vs lancedb.rerankers, the many-queries form vs ranx, and cold import.

Run with the dev venv (./dev.sh test builds it); on a shared machine, niced:
    nice -n 5 .venv/bin/python benchmarks/fusion.py [--calls 2000] [--sizes 10,100,1000,100000] [--clock cpu]
Every figure is the best of N calls (the least disturbed one; N falls with the size), LanceDB's
classes and rerankit's timed in the same run on the same inputs; ratios are LanceDB's time over
rerankit's (above 1: rerankit is faster). The load average is printed before and after; on a loaded
machine, --clock cpu times calls by this thread's CPU time (long calls are preempted otherwise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

import rerankit

METHODS = ("rrf", "linear", "mrr")


#: The clock calls are timed with: wall time (perf_counter), or with --clock cpu this thread's CPU
#: time, which leaves out the time other processes held the CPU (a loaded machine preempts calls of
#: tens of milliseconds, at N = 100,000, more often than not).
CLOCK = time.perf_counter


def best_of(fn: Callable[[], object], calls: int) -> float:
    """The fastest of ``calls`` calls, in seconds, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(calls):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return best


def calls_for(n: int, calls: int) -> int:
    return calls if n <= 100 else max(5, calls // 4) if n <= 1_000 else max(3, calls // 200)


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


def second_vector_search(fts: pa.Table, seed: int = 1) -> pa.Table:
    """The full-text list's rows as a second vector search (for rerank_multivector)."""
    distances = np.sort(np.random.default_rng(seed).random(fts.num_rows))
    return fts.drop_columns(["_score"]).append_column("_distance", pa.array(distances, pa.float32()))


def lancedb_classes() -> dict[str, object]:
    from lancedb.rerankers import LinearCombinationReranker, MRRReranker, RRFReranker

    return {"rrf": RRFReranker(), "linear": LinearCombinationReranker(), "mrr": MRRReranker()}


def same_result(theirs: pa.Table, ours: pa.Table) -> bool:
    """Same rows and scores (float32 tolerance): the parity tests' rule, checked on the timed output."""
    if theirs.num_rows != ours.num_rows:
        return False
    key = "_rowid" if "_rowid" in theirs.column_names else "text"
    a = dict(zip(theirs[key].to_pylist(), theirs["_relevance_score"].to_pylist()))
    b = dict(zip(ours[key].to_pylist(), ours["_relevance_score"].to_pylist()))
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-6 * max(1.0, abs(a[k])) for k in a)


def row(label: str, n: int, theirs: float | None, ours: float, note: str = "") -> None:
    lance = f"{theirs * 1e6:>11.1f}" if theirs is not None else f"{'n/a':>11}"
    ratio = f"{theirs / ours:>7.2f}x" if theirs is not None else f"{'':>8}"
    print(f"{label:8} {n:>7,} {lance} {ours * 1e6:>11.1f} {ratio}  {note}")


def header(title: str) -> None:
    print(f"\n## {title}")
    print(f"{'method':8} {'N':>7} {'lancedb µs':>11} {'rerankit µs':>11} {'speed-up':>8}")


def bench_hybrid(sizes: list[int], calls: int) -> None:
    lance = lancedb_classes()
    header("rerank_hybrid: two lists of N rows (half shared), best of N calls")
    for n in sizes:
        vec, fts = hybrid_inputs(n)
        k = calls_for(n, calls)
        for name in METHODS:
            theirs, ours = lance[name], rerankit.get_reranker(name)
            t_lance = best_of(lambda r=theirs, v=vec, f=fts: r.rerank_hybrid("q", v, f), k)
            t_ours = best_of(lambda r=ours, v=vec, f=fts: r.rerank_hybrid("q", v, f), k)
            same = same_result(theirs.rerank_hybrid("q", vec, fts), ours.rerank_hybrid("q", vec, fts))
            row(name, n, t_lance, t_ours, f"best of {k}" + ("" if same else "; OUTPUTS DIFFER"))


def bench_single(sizes: list[int], calls: int) -> None:
    """One list. LanceDB's three classes have no rerank_vector/rerank_fts; the nearest they offer is
    rerank_hybrid with the other list empty, timed here as the baseline."""
    lance = lancedb_classes()
    header("one list: rerank_vector / rerank_fts (LanceDB: rerank_hybrid with the other list empty)")
    for n in sizes:
        vec, fts = hybrid_inputs(n)
        k = calls_for(n, calls)
        for name in METHODS:
            theirs, ours = lance[name], rerankit.get_reranker(name)
            for entry, table, call in (
                ("vector", vec, lambda r, t: r.rerank_vector("q", t)),
                ("fts", fts, lambda r, t: r.rerank_fts("q", t)),
            ):
                other = (fts if entry == "vector" else vec).slice(0, 0)
                args = (table, other) if entry == "vector" else (other, table)
                t_lance = best_of(lambda r=theirs, a=args: r.rerank_hybrid("q", *a), k)
                t_ours = best_of(lambda r=ours, t=table, c=call: c(r, t), k)
                row(name, n, t_lance, t_ours, f"rerank_{entry}, best of {k}")


def bench_multivector(sizes: list[int], calls: int) -> None:
    lance = lancedb_classes()
    header("rerank_multivector: two vector searches of N rows (half shared)")
    for n in sizes:
        vec, fts = hybrid_inputs(n)
        searches = [vec, second_vector_search(fts)]
        k = calls_for(n, calls)
        for name in METHODS:
            ours = rerankit.get_reranker(name)
            t_ours = best_of(lambda r=ours, s=searches: r.rerank_multivector(s), k)
            if name == "linear":  # LanceDB's LinearCombinationReranker has no rerank_multivector
                row(name, n, None, t_ours, f"best of {k}; LanceDB: NotImplementedError")
                continue
            t_lance = best_of(lambda r=lance[name], s=searches: r.rerank_multivector(s), k)
            row(name, n, t_lance, t_ours, f"best of {k}")


def bench_steps(calls: int, n: int = 100) -> None:
    """Where one rerank_hybrid call's time goes, step by step, each step the best of ``calls``."""
    from rerankit._fusion import ranked_lists
    from rerankit._inputs import as_table
    from rerankit._merge import union_by_rowid
    from rerankit._reranker import Plan

    vec, fts = hybrid_inputs(n)
    print(f"\n## one rerank_hybrid call at N = {n}, step by step (best of {calls} each, µs)")
    steps = ("inputs", "merge", "score checks", "fusion", "output")
    print(f"{'method':8} " + " ".join(f"{s:>12}" for s in steps) + f" {'sum':>8} {'whole call':>11}")
    for name in METHODS:
        r = rerankit.get_reranker(name)
        best = [float("inf")] * len(steps)
        for _ in range(calls + 1):
            t0 = CLOCK()
            v, f = as_table(vec, "vector_results", r.column), as_table(fts, "fts_results", r.column)
            t1 = CLOCK()
            rows = union_by_rowid([v, f], ["vector_results", "fts_results"])
            plan = Plan(rows, "q", ["vector", "fts"])
            t2 = CLOCK()
            lists = ranked_lists(plan)
            t3 = CLOCK()
            scores = r._check(r.fuse(lists, rows.size, r.config), rows.size)
            t4 = CLOCK()
            r._finish(plan, scores)
            t5 = CLOCK()
            for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                best[i] = min(best[i], d)
        whole = best_of(lambda r=r: r.rerank_hybrid("q", vec, fts), calls)
        cells = " ".join(f"{b * 1e6:>12.1f}" for b in best)
        print(f"{name:8} {cells} {sum(best) * 1e6:>8.1f} {whole * 1e6:>11.1f}")
    print(
        "inputs: tables coerced (view types); merge: _rowid read, nulls and duplicates checked, union; "
        "score checks: _distance/_score read and checked finite; fusion: the method and the check of its "
        "scores; output: sort, top_n, take, _relevance_score"
    )


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
    print("\n## many-queries RRF: 1,000 queries x 100 docs x 2 runs, best of N seconds per call")
    print(f"{'runs':24} {'ranx.fuse':>10} {'fuse_runs':>10} {'speed-up':>9}")
    for presorted in (True, False):
        runs = runs_inputs(1000, 100, presorted=presorted)
        ranx_runs = []
        for t in runs:
            d: dict[str, dict[str, float]] = {}
            for q, doc, s in zip(t["query_id"].to_pylist(), t["doc_id"].to_pylist(), t["score"].to_pylist()):
                d.setdefault(q, {})[doc] = s
            ranx_runs.append(Run(d))
        t_ranx = best_of(lambda r=ranx_runs: fuse(r, method="rrf", params={"k": 60}), repeats)
        t_ours = best_of(lambda r=runs: rrf.fuse_runs(r, id_column="doc_id"), repeats)
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


SECTIONS = ("hybrid", "single", "multivector", "steps", "runs", "import")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="best of this many calls at N <= 100 (fewer above)")
    parser.add_argument("--sizes", default="10,100,1000,100000", help="rows per list, comma-separated")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run, of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many for runs; median for import")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall time, or this thread's CPU time")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.thread_time
    sizes = [int(s) for s in args.sizes.split(",")]
    only = set(args.only.split(","))
    print(f"# rerankit {rerankit.__version__} fusion benchmark; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"# command: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print("# load average before: {:.2f} {:.2f} {:.2f}; clock: {}".format(*os.getloadavg(), args.clock))
    if "hybrid" in only:
        bench_hybrid(sizes, args.calls)
    if "single" in only:
        bench_single(sizes, args.calls)
    if "multivector" in only:
        bench_multivector(sizes, args.calls)
    if "steps" in only:
        bench_steps(args.calls)
    if "runs" in only:
        bench_runs(args.repeats)
    if "import" in only:
        bench_import(args.repeats)
    print("\n# load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
