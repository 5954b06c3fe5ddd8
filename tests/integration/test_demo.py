"""The demo: the eval metrics it prints against ir-measures, and a quick run of ``rerankit demo`` on a subset."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path

import ir_measures
import numpy as np
import pytest
from ir_measures import RR, R, nDCG

from rerankit.eval import BUNDLED, load_collection, measure
from tests.integration.integration_support import rerankit_executable

DATA_DIR = BUNDLED["cranfield"]


# -- metrics (the demo's figures come from rerankit.eval's ir-measures path) -------------------
def ndcg_at_k(ranking, qrels, k=10):
    return measure({"q": ranking}, {"q": qrels}, [f"nDCG@{k}"])[f"nDCG@{k}"]


def rr_at_k(ranking, qrels, k=10):
    return measure({"q": ranking}, {"q": qrels}, [f"RR@{k}"])[f"RR@{k}"]


def recall_at_k(ranking, qrels, k=100):
    return measure({"q": ranking}, {"q": qrels}, [f"R@{k}"])[f"R@{k}"]



def test_metrics_on_a_hand_computed_example():
    qrels = {"a": 0, "b": 2, "c": 1, "d": 3}
    ranking = ["a", "b", "c", "x"]
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranking, qrels, 1) == 0.0
    assert ndcg_at_k(["d", "b", "c"], qrels, 10) == pytest.approx(1.0)
    assert rr_at_k(ranking, qrels, 10) == 0.5 and rr_at_k(ranking, qrels, 1) == 0.0
    assert recall_at_k(ranking, qrels, 100) == pytest.approx(2 / 3)
    assert ndcg_at_k(ranking, {"a": 0}, 10) == 0.0 and recall_at_k(ranking, {}, 10) == 0.0


def test_metrics_agree_with_ir_measures_on_graded_judgments():
    rng = np.random.default_rng(7)
    qrels, run, rankings = [], [], {}
    for q in range(40):
        qid = f"q{q}"
        judged = rng.choice(60, size=int(rng.integers(3, 25)), replace=False)
        grades = rng.integers(0, 5, size=len(judged))
        grades[0] = max(grades[0], 1)  # every query has a relevant document
        for doc, grade in zip(judged, grades, strict=True):
            qrels.append(ir_measures.Qrel(qid, f"d{doc}", int(grade)))
        ranking = [f"d{d}" for d in rng.choice(60, size=int(rng.integers(5, 50)), replace=False)]
        rankings[qid] = ranking
        # strictly decreasing scores, so trec_eval's tie-breaking cannot reorder the ranking
        run += [ir_measures.ScoredDoc(qid, doc, float(len(ranking) - i)) for i, doc in enumerate(ranking)]
    by_query: dict[str, dict[str, int]] = {}
    for qrel in qrels:
        by_query.setdefault(qrel.query_id, {})[qrel.doc_id] = qrel.relevance
    theirs = {
        (m.measure, m.query_id): m.value
        for m in ir_measures.iter_calc([nDCG @ 10, RR @ 10, R @ 100], qrels, run)
    }
    for qid, ranking in rankings.items():
        assert ndcg_at_k(ranking, by_query[qid], 10) == pytest.approx(theirs[(nDCG @ 10, qid)], abs=1e-9)
        assert rr_at_k(ranking, by_query[qid], 10) == pytest.approx(theirs[(RR @ 10, qid)], abs=1e-9)
        assert recall_at_k(ranking, by_query[qid], 100) == pytest.approx(theirs[(R @ 100, qid)], abs=1e-9)


def test_the_bundled_collection_is_complete():
    collection = load_collection("cranfield")
    assert len(collection.doc_ids) == 1400 and len(set(collection.doc_ids)) == 1400
    assert len(collection.judged()) == 225
    assert sum(len(v) for v in collection.qrels.values()) == 1837
    docs = set(collection.doc_ids)
    assert all(doc in docs for judged in collection.qrels.values() for doc in judged)
    assert (DATA_DIR / "README.md").is_file()  # provenance travels with the data


# -- rerankit demo on a subset -----------------------------------------------------------------
DOCS, QUERIES = 40, 4


@pytest.fixture(scope="module")
def rerankit_exe() -> str:
    return rerankit_executable()


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RERANKIT_PLUGINS", None)
    env["HF_HUB_OFFLINE"] = "1"
    return env


@pytest.fixture(scope="module")
def demo_run(rerankit_exe, tmp_path_factory):
    """One real (small) demo run: builds the cache, embedding DOCS documents with MiniLM-L6."""
    cache = tmp_path_factory.mktemp("demo-cache")
    args = [rerankit_exe, "demo", "--docs", str(DOCS), "--queries", str(QUERIES), "--cache-dir", str(cache)]
    proc = subprocess.run(
        [*args, "--no-progress"], capture_output=True, text=True, env=demo_env(), timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return cache, args, proc


def figures(stdout: str) -> dict[str, list[float]]:
    rows = {}
    for line in stdout.splitlines():
        match = re.match(
            r"^(vector search|full-text search|hybrid, rerankit \w+)\S*.*?((?:\s+\d\.\d{3}){6})$", line
        )
        if match:
            rows[match.group(1)] = [float(x) for x in match.group(2).split()]
    return rows


def test_demo_prints_every_pipeline_beside_the_reference(demo_run):
    _cache, _args, proc = demo_run
    rows = figures(proc.stdout)
    assert set(rows) == {
        "vector search",
        "full-text search",
        *(f"hybrid, rerankit {m}" for m in ("rrf", "linear", "mrr")),
    }
    assert rows["hybrid, rerankit rrf"][1::2] == [0.418, 0.589, 0.786]  # the reference columns
    assert "index built in" in proc.stdout and "not comparable" in proc.stdout
    assert 'example query 1: "what similarity laws' in proc.stdout
    assert "Traceback" not in proc.stderr


def test_demo_hybrid_figures_match_lancedb_own_rrf_scored_by_ir_measures(demo_run):
    import lancedb
    from lancedb.rerankers import RRFReranker

    cache, _args, proc = demo_run
    db = lancedb.connect(str(next(cache.glob("index-*"))))
    docs = db.open_table("docs")
    vectors = {r["query_id"]: r["vector"] for r in db.open_table("queries").to_arrow().to_pylist()}
    queries = [json.loads(line) for line in (DATA_DIR / "queries.jsonl").read_text().splitlines()]
    run = []
    for query in queries[:QUERIES]:
        found = (
            docs.search(query_type="hybrid")
            .vector(vectors[query["_id"]])
            .text(query["text"])
            .limit(100)
            .rerank(reranker=RRFReranker())
            .to_arrow()
        )
        run += [
            ir_measures.ScoredDoc(query["_id"], d, 1000.0 - i)
            for i, d in enumerate(found["doc_id"].to_pylist())
        ]
    qrels = [
        ir_measures.Qrel(q, d, g)
        for q, docs_of in load_collection("cranfield").qrels.items()
        if q in {x["_id"] for x in queries[:QUERIES]}
        for d, g in docs_of.items()
    ]
    theirs = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 100], qrels, run)
    ours = figures(proc.stdout)["hybrid, rerankit rrf"][0::2]
    assert ours == pytest.approx([theirs[nDCG @ 10], theirs[RR @ 10], theirs[R @ 100]], abs=6e-4)


def test_a_second_run_uses_the_cache(demo_run):
    cache, args, first = demo_run
    proc = subprocess.run(
        [*args, "--no-progress", "--example", "3"],
        capture_output=True,
        text=True,
        env=demo_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "index loaded from the cache" in proc.stdout
    assert figures(proc.stdout) == figures(first.stdout)
    assert 'example query 3: "what problems of heat conduction' in proc.stdout
    assert len(list(cache.glob("index-*"))) == 1


def test_demo_errors_are_one_line(demo_run):
    _cache, args, _proc = demo_run
    proc = subprocess.run(
        [*args, "--example", "999"], capture_output=True, text=True, env=demo_env(), timeout=300
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"rerankit: error: --example 999 is not one of the {QUERIES} evaluated queries "
        f"(ids 1 to {QUERIES}); pick one of them"
    ]


def test_the_demo_data_ships_inside_the_package():
    import rerankit

    assert DATA_DIR.is_relative_to(Path(rerankit.__file__).parent)
