"""The installed ``rerankit`` executable, run in a subprocess as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyarrow import csv, feather, parquet

import rerankit
from tests.conftest import plugin_env
from tests.integration.integration_support import rerankit_executable

QUERY = "apple pie recipe"


@pytest.fixture(scope="module")
def rerankit_exe() -> str:
    return rerankit_executable()


RESULTS = pa.table(
    {
        "_rowid": pa.array([11, 12, 13, 14], pa.int64()),
        "title": ["Apple pie", "Sky", "Apple recipe book", "Cars"],
        "text": ["an apple pie recipe", "the blue sky", "apple recipes for every day", "fast red cars"],
        "_distance": [0.4, 0.3, 0.2, 0.9],
    }
)
FTS_RESULTS = pa.table(
    {
        "_rowid": pa.array([13, 11], pa.int64()),
        "title": ["Apple recipe book", "Apple pie"],
        "text": ["apple recipes for every day", "an apple pie recipe"],
        "_score": [4.5, 3.0],
    }
)


def write(table: pa.Table, path: Path) -> Path:
    """Write ``table`` in the format of ``path``'s extension, with pyarrow directly."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()), encoding="utf-8")
    elif path.suffix == ".csv":
        csv.write_csv(table, str(path))
    elif path.suffix == ".parquet":
        parquet.write_table(table, str(path))
    else:
        feather.write_feather(table, str(path))
    return path


def read(path: Path) -> pa.Table:
    if path.suffix == ".jsonl":
        return pa.Table.from_pylist([json.loads(line) for line in path.read_text().splitlines()])
    if path.suffix == ".csv":
        return csv.read_csv(str(path))
    if path.suffix == ".parquet":
        return parquet.read_table(str(path))
    return feather.read_table(str(path))


def env_without_plugins() -> dict[str, str]:
    """Only the core's built-ins, whatever plugins this environment has installed."""
    env = dict(os.environ)
    env["RERANKIT_PLUGINS"] = ""
    env["HF_HUB_OFFLINE"] = "1"
    return env


def only_fixture_plugin(plugin_site: Path) -> dict[str, str]:
    """The fixture plugins' site, loading only the working one (no load warning on stderr)."""
    env = plugin_env(plugin_site)
    env["RERANKIT_PLUGINS"] = "rerankit-fixture-plugin"
    return env


def cli(exe: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=env or env_without_plugins(), cwd=cwd, timeout=300
    )


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rerankit: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert proc.stdout == ""


def expected(name: str = "linear", **config) -> pa.Table:
    return rerankit.get_reranker(name, **config).rerank(QUERY, RESULTS)


def assert_same_ranking(out: pa.Table, want: pa.Table) -> None:
    assert out["_rowid"].to_pylist() == want["_rowid"].to_pylist()
    np.testing.assert_allclose(
        np.asarray(out["_relevance_score"].to_pylist(), float), want["_relevance_score"].to_numpy(), rtol=1e-6
    )


# -- plugins -----------------------------------------------------------------------------------
def test_plugins_lists_installed_rerankers_and_the_broken_plugin(rerankit_exe, plugin_site):
    proc = cli(rerankit_exe, "plugins", env=plugin_env(plugin_site))
    assert_ok(proc)
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:]}
    assert rows["fixture-terms"][1:] == ["scorer", "rerankit-fixture-plugin", "1.2.3", "ok"]
    assert rows["fixture-borda"][1:] == ["fusion", "rerankit-fixture-plugin", "1.2.3", "ok"]
    for name in ("rrf", "linear", "mrr"):
        assert rows[name][1:] == ["fusion", "rerankit", rerankit.__version__, "ok"]
    broken = rows["broken"]
    assert broken[1:4] == ["-", "rerankit-broken-plugin", "0.0.1"]
    assert (
        "error: ModuleNotFoundError" in " ".join(broken)
        and "rerankit_missing_dependency_for_tests" in broken[-1]
    )
    assert "1 plugin(s) failed to load" in proc.stderr


def test_plugins_json_lines(rerankit_exe, plugin_site):
    proc = cli(rerankit_exe, "plugins", "--json", env=plugin_env(plugin_site))
    assert_ok(proc)
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["fixture-terms"]["kind"] == "scorer" and rows["fixture-terms"]["status"] == "ok"
    assert rows["broken"]["status"] == "error" and "ModuleNotFoundError" in rows["broken"]["error"]


def test_plugins_without_third_party_plugins(rerankit_exe):
    proc = cli(rerankit_exe, "plugins")
    assert_ok(proc)
    assert [line.split()[0] for line in proc.stdout.splitlines()[2:]] == ["cascade", "linear", "mrr", "rrf"]


# -- rerank: formats -----------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".arrow", ".feather", ".ipc"])
def test_rerank_reads_every_input_format(rerankit_exe, tmp_path, suffix):
    source = write(RESULTS, tmp_path / f"results{suffix}")
    target = tmp_path / "out.jsonl"
    proc = cli(rerankit_exe, "rerank", "-r", "linear", "-q", QUERY, "-i", str(source), "-o", str(target))
    assert_ok(proc)
    out = read(target)
    assert_same_ranking(out, expected())
    assert out.column_names == ["_rowid", "title", "text", "_relevance_score"]  # _distance dropped


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".arrow"])
def test_rerank_writes_every_output_format(rerankit_exe, tmp_path, suffix):
    source = write(RESULTS, tmp_path / "results.parquet")
    target = tmp_path / f"out{suffix}"
    proc = cli(
        rerankit_exe,
        "rerank",
        "-r",
        "linear",
        "-q",
        QUERY,
        "-i",
        str(source),
        "-o",
        str(target),
        "--set",
        "return_score=all",
        "--top-n",
        "3",
    )
    assert_ok(proc)
    out = read(target)
    want = expected(return_score="all", top_n=3)
    assert_same_ranking(out, want)
    assert out["_distance"].to_pylist() == want["_distance"].to_pylist()


def test_rerank_prints_a_readable_table(rerankit_exe, tmp_path):
    source = write(RESULTS, tmp_path / "results.csv")
    proc = cli(rerankit_exe, "rerank", "-r", "linear", "-q", QUERY, "-i", str(source))
    assert_ok(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["#", "_rowid", "title", "text", "_relevance_score"]
    ranked = [int(line.split()[1]) for line in lines[2:6]]
    assert ranked == expected()["_rowid"].to_pylist()
    assert lines[-1] == "(4 rows)"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_rerank_writes_text_formats_to_stdout(rerankit_exe, tmp_path, fmt):
    source = write(RESULTS, tmp_path / "results.jsonl")
    proc = cli(
        rerankit_exe, "rerank", "-r", "mrr", "-q", QUERY, "-i", str(source), "-o", "-", "--format", fmt
    )
    assert_ok(proc)
    (tmp_path / f"captured.{fmt}").write_text(proc.stdout)
    assert_same_ranking(read(tmp_path / f"captured.{fmt}"), expected("mrr"))


def test_rerank_hybrid_from_two_files(rerankit_exe, tmp_path):
    vector = write(RESULTS, tmp_path / "vector.parquet")
    fts = write(FTS_RESULTS, tmp_path / "fts.parquet")
    target = tmp_path / "fused.parquet"
    proc = cli(
        rerankit_exe,
        "rerank",
        "-r",
        "rrf",
        "--set",
        "K=10",
        "--set",
        "return_score=all",
        "-q",
        QUERY,
        "-i",
        str(vector),
        "--fts-input",
        str(fts),
        "-o",
        str(target),
    )
    assert_ok(proc)
    want = rerankit.get_reranker("rrf", K=10, return_score="all").rerank_hybrid(QUERY, RESULTS, FTS_RESULTS)
    out = read(target)
    assert_same_ranking(out, want)
    assert out["_score"].to_pylist() == want["_score"].to_pylist()  # nulls where FTS did not find a row


def test_rerank_with_a_plugin_scorer_a_config_file_and_overrides(rerankit_exe, tmp_path, plugin_site):
    source = write(RESULTS, tmp_path / "results.jsonl")
    config = tmp_path / "reranker.toml"
    config.write_text('reranker = "fixture-terms"\nbonus = 1.0\ncolumn = "text"\n', encoding="utf-8")
    target = tmp_path / "out.jsonl"
    proc = cli(
        rerankit_exe,
        "rerank",
        "--config",
        str(config),
        "--set",
        "bonus=2",
        "--column",
        "title",
        "--top-n",
        "2",
        "-q",
        QUERY,
        "-i",
        str(source),
        "-o",
        str(target),
        env=only_fixture_plugin(plugin_site),
    )
    assert_ok(proc)
    out = read(target)
    assert out["title"].to_pylist() == ["Apple pie", "Apple recipe book"]
    assert out["_relevance_score"].to_pylist() == [4.0, 4.0]  # 2 title words found + bonus 2


def test_rerank_json_config_naming_the_reranker_in_a_table(rerankit_exe, tmp_path):
    source = write(RESULTS, tmp_path / "results.jsonl")
    config = tmp_path / "reranker.json"
    config.write_text(json.dumps({"reranker": {"name": "linear", "weight": 1.0}}), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    assert_ok(
        cli(rerankit_exe, "rerank", "-c", str(config), "-q", QUERY, "-i", str(source), "-o", str(target))
    )
    assert_same_ranking(read(target), expected(weight=1.0))


def test_a_broken_plugin_is_a_warning_not_a_failure(rerankit_exe, tmp_path, plugin_site):
    source = write(RESULTS, tmp_path / "results.jsonl")
    proc = cli(
        rerankit_exe,
        "rerank",
        "-r",
        "fixture-terms",
        "-q",
        QUERY,
        "-i",
        str(source),
        env=plugin_env(plugin_site),
    )
    assert_ok(proc)
    warnings = proc.stderr.strip().splitlines()
    assert all(w.startswith("rerankit: warning: ") for w in warnings)
    assert sum("broken" in w for w in warnings) == 1


def test_python_dash_m_runs_the_same_cli():
    proc = subprocess.run([sys.executable, "-m", "rerankit", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"rerankit {rerankit.__version__}"


# -- rerank: errors are one line and a non-zero exit code -----------------------------------------
def test_unknown_reranker(rerankit_exe, tmp_path):
    source = write(RESULTS, tmp_path / "results.jsonl")
    proc = cli(rerankit_exe, "rerank", "-r", "cohere", "-q", QUERY, "-i", str(source))
    assert_one_line_error(  # rerankit-cohere is in the test venv: the allowlist is what keeps it out
        proc, 1, "no reranker named 'cohere'", "linear, mrr, rrf",
        "rerankit-cohere is installed, but RERANKIT_PLUGINS='' leaves it out",
    )


def test_bad_config_file(rerankit_exe, tmp_path):
    source = write(RESULTS, tmp_path / "results.jsonl")
    config = tmp_path / "bad.toml"
    config.write_text('reranker = "rrf"\nk = 10\n', encoding="utf-8")
    proc = cli(rerankit_exe, "rerank", "-c", str(config), "-q", QUERY, "-i", str(source))
    assert_one_line_error(proc, 1, "unknown option 'k'", "allowed: K, column")
    config.write_text('reranker = "rrf"\nK = [1, 2\n', encoding="utf-8")
    assert_one_line_error(
        cli(rerankit_exe, "rerank", "-c", str(config), "-q", QUERY, "-i", str(source)),
        1,
        "could not be parsed",
    )
    missing = cli(rerankit_exe, "rerank", "-c", str(tmp_path / "none.toml"), "-q", QUERY, "-i", str(source))
    assert_one_line_error(missing, 1, "does not exist")


def test_bad_set_values(rerankit_exe, tmp_path):
    source = write(RESULTS, tmp_path / "results.jsonl")
    no_equals = cli(rerankit_exe, "rerank", "-r", "rrf", "--set", "K", "-q", QUERY, "-i", str(source))
    assert_one_line_error(no_equals, 2, "--set expects KEY=VALUE", "'K'")
    wrong_type = cli(rerankit_exe, "rerank", "-r", "rrf", "--set", "K=ten", "-q", QUERY, "-i", str(source))
    assert_one_line_error(wrong_type, 1, "option 'K'", "'ten'")
    out_of_range = cli(
        rerankit_exe, "rerank", "-r", "linear", "--set", "weight=1.5", "-q", QUERY, "-i", str(source)
    )
    assert_one_line_error(out_of_range, 1, "option 'weight'")


def test_missing_text_column(rerankit_exe, tmp_path, plugin_site):
    source = write(RESULTS, tmp_path / "results.parquet")
    proc = cli(
        rerankit_exe,
        "rerank",
        "-r",
        "fixture-terms",
        "--column",
        "body",
        "-q",
        QUERY,
        "-i",
        str(source),
        env=only_fixture_plugin(plugin_site),
    )
    assert_one_line_error(proc, 1, "no column 'body'", "columns: _rowid, title, text, _distance")


def test_bad_input_files(rerankit_exe, tmp_path):
    def run(path: Path, *extra: str):
        return cli(rerankit_exe, "rerank", "-r", "rrf", "-q", QUERY, "-i", str(path), *extra)

    assert_one_line_error(run(tmp_path / "missing.jsonl"), 1, "does not exist")
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    assert_one_line_error(run(tmp_path / "bad.jsonl"), 1, "line 2 is not valid JSON")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    assert_one_line_error(run(tmp_path / "bad.parquet"), 1, "could not read", "as parquet")
    (tmp_path / "bad.arrow").write_bytes(b"not arrow")
    assert_one_line_error(run(tmp_path / "bad.arrow"), 1, "could not read", "as arrow")
    (tmp_path / "results.txt").write_text("x", encoding="utf-8")
    assert_one_line_error(run(tmp_path / "results.txt"), 1, "cannot tell the format", "--input-format")
    good = write(RESULTS, tmp_path / "results.jsonl")
    assert_one_line_error(
        run(good, "-o", str(tmp_path / "out.xlsx")), 1, "cannot tell the format", "--format"
    )
    assert_one_line_error(run(good, "-o", str(tmp_path / "no" / "dir" / "out.parquet")), 1, "could not write")


def test_usage_mistakes_are_one_line_too(rerankit_exe, tmp_path):
    assert_one_line_error(cli(rerankit_exe, "rerank", "-r", "rrf", "-q", QUERY), 2, "--input")
    source = write(RESULTS, tmp_path / "results.jsonl")
    assert_one_line_error(cli(rerankit_exe, "rerank", "-q", QUERY, "-i", str(source)), 2, "--reranker NAME")
    assert_one_line_error(
        cli(rerankit_exe, "rerank", "-r", "rrf", "-q", QUERY, "-i", str(source), "--top-n", "0"),
        2,
        "at least 1",
    )
    assert_one_line_error(cli(rerankit_exe, "frobnicate"), 2, "invalid choice")
