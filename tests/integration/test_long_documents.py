"""rerankit.eval.make_long_documents: each document hidden among unrelated ones, judgments kept.

Checked on the bundled Cranfield (1,400 real documents: seconds) for what the generator promises,
and on a tiny collection end to end through ``rerankit eval``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerankit._cli import main
from rerankit.eval import EvalError, load_collection, make_long_documents
from tests.integration.test_eval import model_path, write_collection


def read(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def cranfield(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("long")
    make_long_documents("cranfield", root / "a", seed=7)
    make_long_documents("cranfield", root / "b", seed=7)
    return root / "a", root / "b"


def test_the_same_seed_writes_the_same_files_and_another_seed_does_not(cranfield, tmp_path):
    a, b = cranfield
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    make_long_documents("cranfield", tmp_path / "c", seed=8)
    assert (tmp_path / "c" / "corpus.jsonl").read_bytes() != (a / "corpus.jsonl").read_bytes()
    assert (tmp_path / "c" / "qrels/test.tsv").read_bytes() == (a / "qrels/test.tsv").read_bytes()


def test_each_original_appears_once_at_its_recorded_place_among_unjudged_fillers(cranfield):
    source, long = load_collection("cranfield"), load_collection(cranfield[0])
    relevant = {d for judged in source.qrels.values() for d, grade in judged.items() if grade > 0}
    part = {d: f"{t}\n{x}" if t else x for d, t, x in zip(source.doc_ids, source.titles, source.texts, strict=True)}
    records = read(cranfield[0])
    assert [r["_id"] for r in records] == [f"long-{d}" for d in source.doc_ids]  # one each, in order
    places = set()
    for record in records:
        meta, text = record["metadata"], record["text"]
        original, parts, position = meta["original"], meta["parts"], meta["position"]
        assert record["_id"] == f"long-{original}" and record["title"] == ""
        assert parts[position] == original and 3 <= len(parts) - 1 <= 6 and len(set(parts)) == len(parts)
        assert not relevant & (set(parts) - {original})  # fillers are judged relevant to no query
        assert text[meta["start"]:meta["end"]] == part[original]
        assert text == "\n\n".join(part[d] for d in parts)
        if part[original]:  # Cranfield 471 and 995 are empty
            assert text.count(part[original]) == 1
        places.add("first" if position == 0 else "last" if position == len(parts) - 1 else "middle")
    assert places == {"first", "middle", "last"}
    assert long.qrels == {q: {f"long-{d}": g for d, g in judged.items()} for q, judged in source.qrels.items()}
    assert (long.query_ids, long.query_texts) == (source.query_ids, source.query_texts)
    assert sum(len(t.split()) for t in long.texts) > 4 * sum(len(t.split()) for t in source.texts)


def test_rerankit_eval_reads_the_long_collection(tmp_path, capsys):
    queries = {"q1": ("baking", "bake bread and cakes in an oven"), "q2": ("ocean", "coral reefs and the sea")}
    short = write_collection(tmp_path / "short", queries=queries)  # judged: the baking and ocean docs
    long = make_long_documents(short, tmp_path / "long", others=(2, 3), seed=0)
    assert len(long.judged()) == 2 and all(d.startswith("long-") for d in long.doc_ids)
    out = tmp_path / "results.json"
    code = main(["eval", str(tmp_path / "long"), "--retriever", "bm25", "--metrics", "nDCG@10",
                 "--output", str(out), "--embedding-model", model_path(), "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    (record,) = json.loads(out.read_text())
    assert record["queries"] == 2 and 0 < record["nDCG@10"] <= 1


def test_bad_options_and_too_few_fillers_are_eval_errors(tmp_path):
    with pytest.raises(EvalError, match=r"others=\(5, 2\) must be two whole numbers"):
        make_long_documents("cranfield", tmp_path / "x", others=(5, 2))
    everything_judged = write_collection(tmp_path / "short")  # every document relevant to a query
    with pytest.raises(EvalError, match="0 document\\(s\\) judged relevant to no query; others=\\(3, 6\\) needs"):
        make_long_documents(everything_judged, tmp_path / "y")
    assert not (tmp_path / "y").exists()
