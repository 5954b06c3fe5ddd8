"""Candidate rows for the batch-reranking tests: one row per (query, candidate), grouped by query."""

from __future__ import annotations

import random

import pyarrow as pa

WORDS = "wing flow heat shock layer plate jet drag lift mach boundary laminar".split()


def candidates(n_queries: int, seed: int = 0, hybrid: bool = False) -> pa.Table:
    """One row per candidate, grouped by query_id; with hybrid, a vector and an fts list per query."""
    rng = random.Random(seed)
    rows = []
    for q in range(n_queries):
        query = " ".join(rng.sample(WORDS, 3))
        sides = [("vector", rng.randint(1, 6)), ("fts", rng.randint(0, 5))] if hybrid else [(None, rng.randint(2, 9))]
        for source, n in sides:
            for d in range(n):
                rowid = q * 100 + d + (3 if source == "fts" else 0)
                row = {"query_id": f"q{q}", "query": query, "_rowid": rowid,
                       "text": " ".join(rng.sample(WORDS, 5)), "meta": rng.random()}
                if source is not None:
                    row["source"] = source
                row["_distance"] = None if source == "fts" else rng.random()
                row["_score"] = None if source == "vector" else rng.random() * 10
                rows.append(row)
    return pa.Table.from_pylist(rows)
