"""The CLI error matrix: each bad input exits 1 (usage mistakes: 2) with one ``rerankit: error:``
line naming the file, option or column and the fix, and never a traceback.

Run in process (``rerankit._cli.main``) so the matrix stays fast; the subprocess tests in
``test_cli.py`` show that the installed executable behaves the same. Every case fails before any
index is built or model loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rerankit._cli import main

ROWS = [
    {"_rowid": 1, "text": "apple pie", "_distance": 0.1},
    {"_rowid": 2, "text": "blue sky", "_distance": 0.4},
]
FTS = [{"_rowid": 2, "text": "blue sky", "_score": 3.0}, {"_rowid": 3, "text": "red car", "_score": 1.0}]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _collection(root: Path, qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n") -> Path:
    (root / "qrels").mkdir(parents=True)
    _jsonl(root / "corpus.jsonl", [{"_id": f"d{i}", "title": "", "text": f"doc {i}"} for i in (1, 2, 3)])
    _jsonl(root / "queries.jsonl", [{"_id": "q1", "text": "doc one"}, {"_id": "q2", "text": "doc two"}])
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


def _rerank(tmp: Path, *extra: str, rows: list[dict] = ROWS) -> list[str]:
    return ["rerank", "-r", "rrf", "-q", "apple", "-i", str(_jsonl(tmp / "in.jsonl", rows)), *extra]


def _config(tmp: Path, text: str) -> list[str]:
    path = tmp / "reranker.toml"
    path.write_text(text, encoding="utf-8")
    return ["rerank", "-c", str(path), "-q", "apple", "-i", str(_jsonl(tmp / "in.jsonl", ROWS))]


def _eval(tmp: Path, *extra: str, qrels: str | None = None) -> list[str]:
    root = _collection(tmp / "coll") if qrels is None else _collection(tmp / "coll", qrels)
    return ["eval", str(root), "--cache-dir", str(tmp / "cache"), "--no-progress", *extra]


def _latin1(tmp: Path, name: str) -> Path:
    root = _collection(tmp / "coll")
    (root / name).write_bytes(b'{"_id": "d1", "text": "caf\xe9"}\n')
    return root


def _ray_input(tmp: Path) -> list[str]:
    return ["rerank", "--engine", "ray", "-r", "rrf", "-i", str(_jsonl(tmp / "in.jsonl", ROWS)),
            "-o", str(tmp / "out")]


#: case -> (argv builder, exit code, fragments the one line must hold)
CASES: dict[str, tuple[Callable[[Path], list[str]], int, tuple[str, ...]]] = {
    "non-finite _score": (
        lambda t: _rerank(t, "--fts-input", str(_jsonl(t / "fts.jsonl", [{**FTS[0], "_score": float("inf")}]))),
        1, ("fts_results column '_score'", "non-finite", "finite score"),
    ),
    "non-numeric _distance": (
        lambda t: _rerank(t, rows=[{**r, "_distance": "near"} for r in ROWS]),
        1, ("column '_distance' has type string, not numbers", "cast it to float64"),
    ),
    "mixed-type column": (
        lambda t: _rerank(t, rows=[{**ROWS[0], "_distance": "near"}, ROWS[1]]),
        1, ("in.jsonl' column '_distance' mixes types across rows", "one type in every row"),
    ),
    "non-UTF-8 input": (
        lambda t: (t / "in.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
        and ["rerank", "-r", "rrf", "-q", "x", "-i", str(t / "in.jsonl")],
        1, ("in.jsonl' line 1 is not UTF-8", "save the file as UTF-8"),
    ),
    "keys beside [reranker]": (
        lambda t: _config(t, 'top_n = 1\n[reranker]\nname = "rrf"\n'),
        1, ("top_n beside its [reranker] table", "move them into the [reranker] table"),
    ),
    "reranker and name differ": (
        lambda t: _config(t, 'reranker = "rrf"\nname = "mrr"\n'),
        1, ("reranker = 'rrf' and name = 'mrr'", "keep one"),
    ),
    "boolean as an integer": (
        lambda t: _rerank(t, "--set", "K=true"), 1, ("option 'K' must be a whole number", "e.g. K = 5"),
    ),
    "numeric string as an integer": (
        lambda t: _rerank(t, "--set", 'K="10"'), 1, ("option 'K' must be a whole number", "K = 10 without quotes"),
    ),
    "lower_bounds NaN": (
        lambda t: _rerank(t, "-r", "linear", "--set", "normalize=tm2c2", "--set", "lower_bounds=[NaN, 0]"),
        1, ("option 'lower_bounds'", "finite"),
    ),
    "weights at call time": (
        lambda t: _rerank(t, "--fts-input", str(_jsonl(t / "fts.jsonl", FTS)), "--set", "weights=[1]"),
        1, ("weights has 1 value(s) for 2 ranked lists", "one per list"),
    ),
    "ray engine, non-Parquet input": (_ray_input, 1, ("is not a Parquet file", "convert it first")),
    "unknown reranker in another case": (
        lambda t: _rerank(t, "-r", "RRF"), 1, ("no reranker named 'RRF'", "Did you mean 'rrf'?"),
    ),
    "eval: non-UTF-8 corpus": (
        lambda t: ["eval", str(_latin1(t, "corpus.jsonl")), "--cache-dir", str(t / "c"), "--no-progress"],
        1, ("corpus.jsonl line 1 is not UTF-8", "save the file as UTF-8"),
    ),
    "tune: non-UTF-8 queries": (
        lambda t: ["tune", str(_latin1(t, "queries.jsonl")), "--cache-dir", str(t / "c"), "--no-progress"],
        1, ("queries.jsonl line 1 is not UTF-8",),
    ),
    "eval: grade inf": (
        lambda t: _eval(t, qrels="q1\td1\tinf\n"), 1, ("test.tsv line 1: the score 'inf' is not a whole number",),
    ),
    "eval: fractional grade": (
        lambda t: _eval(t, qrels="q1\td1\t1.5\n"), 1, ("the score '1.5' is not a whole number", "integers"),
    ),
    "eval: conflicting judgments": (
        lambda t: _eval(t, qrels="q1\td1\t1\nq1\td1\t2\n"),
        1, ("line 2: query 'q1' judges document 'd1' 2 here but 1", "keep one judgment per pair"),
    ),
    "eval: bm25 with a fusion": (
        lambda t: _eval(t, "--retriever", "bm25", "--reranker", "rrf"),
        1, ("reranker 'rrf' fuses the hybrid retriever's", "add --retriever hybrid"),
    ),
    "eval: --output folder missing": (
        lambda t: _eval(t, "--output", str(t / "no" / "results.json")),
        1, ("--output", "does not exist; create it first"),
    ),
    "eval: --plot folder missing": (
        lambda t: _eval(t, "--plot", str(t / "no" / "chart.png")), 1, ("--plot", "does not exist; create it first"),
    ),
    "tune: --output not a config file": (
        lambda t: ["tune", str(_collection(t / "coll")), "--output", str(t / "recipe.txt")],
        1, ("recipe.txt: the file name must end in .toml or .json",),
    ),
    "tune: negative seed": (
        lambda t: ["tune", "cranfield", "--seed", "-1"], 2, ("--seed", "from 0 to 2**32 - 1"),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_naming_the_fix(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, code, fragments = CASES[case]
    argv = build(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) if code == 2 else _nothing() as exited:
        got = main(argv)
    _, err = capsys.readouterr()
    got = exited.value.code if code == 2 else got
    lines = err.strip().splitlines()
    assert got == code, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("rerankit: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "cache").exists()  # failed before any index was built


class _nothing:
    value = None

    def __enter__(self) -> _nothing:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False


def test_rowid_beyond_int64_is_read_as_uint64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """LanceDB's _rowid is uint64: ids of 2**63 and more are read, fused and written back unchanged."""
    big = [{**ROWS[0], "_rowid": 2**63 + 5}, {**ROWS[1], "_rowid": 2**64 - 1}]
    out = tmp_path / "out.parquet"
    assert main(_rerank(tmp_path, "-o", str(out), rows=big)) == 0, capsys.readouterr().err
    table = pq.read_table(out)
    assert table.schema.field("_rowid").type == pa.uint64()
    assert sorted(table["_rowid"].to_pylist()) == [2**63 + 5, 2**64 - 1]


def test_tune_recipe_json_is_json_that_from_config_reads(tmp_path: Path) -> None:
    """--output recipe.json writes JSON (tune's TOML comments have no place there)."""
    import rerankit
    from tests.integration.test_eval import synthetic_runs

    result = rerankit.eval.tune_runs([synthetic_runs("a", 12, 1)], method="mrr", folds=2)
    result.write(tmp_path / "recipe.json")
    result.write(tmp_path / "recipe.toml")
    data = json.loads((tmp_path / "recipe.json").read_text(encoding="utf-8"))
    assert data["reranker"] == "mrr"
    from_json = rerankit.from_config(tmp_path / "recipe.json")
    assert repr(from_json) == repr(rerankit.from_config(tmp_path / "recipe.toml"))
