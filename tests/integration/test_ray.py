"""rerankit.ray on a real local Ray runtime (2 CPUs): the same output as one process, whole groups.

Ray's start-up is slow on a small machine, so one runtime serves the module and each test runs
one Ray job (two for the fusion test). The references are the single-process results of
rerankit.batch over the same rows.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import ray
import ray.data

import rerankit
from rerankit.batch import rerank_batches
from rerankit.ray import rerank_dataset
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY
from tests.core.batch_data import candidates
from tests.integration import ray_support
from tests.integration.ray_support import KeyedConfig, KillOnce, Overlap, blocks
from tests.plugins.crossencoder.crossencoder_models import build_tiny

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray runtime with 2 CPUs for this module; shut down after it."""
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": OFFLINE})
    ray.cloudpickle.register_pickle_by_value(ray_support)  # workers need not find the tests package
    context = ray.data.DataContext.get_current()
    saved = (context.shuffle_strategy, context.enable_progress_bars)
    context.enable_progress_bars = False
    try:
        yield context
    finally:
        context.shuffle_strategy, context.enable_progress_bars = saved
        ray.cloudpickle.unregister_pickle_by_value(ray_support)
        ray.shutdown()


@pytest.fixture
def sort_shuffle(local_ray):
    """The sort-based shuffle: for a few hundred rows it is seconds faster than Ray's default."""
    default, local_ray.shuffle_strategy = local_ray.shuffle_strategy, "sort_shuffle_pull_based"
    yield
    local_ray.shuffle_strategy = default


def run(ds: ray.data.Dataset) -> pa.Table:
    """Execute a dataset; its rows ordered by group and rank, as rerankit.batch writes them."""
    parts = [t for t in ray.get(ds.to_arrow_refs()) if t.num_columns]  # Ray's empty block for a task
    table = pa.concat_tables(parts)  # with no output aside, every block has the same schema
    return table.sort_by([("query_id", "ascending"), ("_rank", "ascending")])


def single_process(table: pa.Table, reranker, **options) -> pa.Table:
    out = pa.Table.from_batches(list(rerank_batches(table.to_batches(), reranker, **options)))
    return out.sort_by([("query_id", "ascending"), ("_rank", "ascending")])


def groups_straddle(parts: list[pa.Table]) -> bool:
    firsts = [p["query_id"][0].as_py() for p in parts[1:]]
    lasts = [p["query_id"][-1].as_py() for p in parts[:-1]]
    return any(a == b for a, b in zip(lasts, firsts))


# -- fusion --------------------------------------------------------------------------------------
def test_fusion_of_logged_runs_matches_one_process(local_ray) -> None:
    """Ray's default (hash) shuffle; a source column, then the same runs given as two datasets."""
    table = candidates(30, seed=1, hybrid=True)
    parts = blocks(table, 17)
    assert groups_straddle(parts)
    reranker = rerankit.get_reranker("rrf", return_score="all", top_n=6)
    expected = single_process(table, reranker)

    out = run(rerank_dataset(ray.data.from_arrow(parts), reranker, batch_size=4, concurrency=2, num_partitions=3))
    assert out.equals(expected)

    vector = table.filter(pc.equal(table["source"], "vector")).drop_columns(["source", "_score"])
    fts = table.filter(pc.equal(table["source"], "fts")).drop_columns(["source", "_distance"])
    two = run(rerank_dataset(ray.data.from_arrow(blocks(vector, 11)), {"reranker": "rrf", "return_score": "all",
                                                                         "top_n": 6},
                             fts=ray.data.from_arrow(blocks(fts, 7)), batch_size=4, concurrency=2))
    assert two.select(expected.column_names).cast(expected.schema).equals(expected)


# -- scoring rerankers ---------------------------------------------------------------------------
def test_hosted_scorer_matches_one_process(local_ray, sort_shuffle, monkeypatch) -> None:
    """Cohere's wire format on 127.0.0.1; the key reaches the workers only through their environment."""
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    table = candidates(24, seed=2)
    with FakeRerankServer("cohere", api_key=KEY, max_lifetime=120) as server:
        expected = single_process(table, rerankit.get_reranker("cohere", base_url=server.url, api_key=KEY, top_n=5))
        server.reset()
        # Built here without a key (a custom base_url needs none): the workers read CO_API_KEY.
        reranker = rerankit.get_reranker("cohere", base_url=server.url, top_n=5)
        out = run(rerank_dataset(
            ray.data.from_arrow(blocks(table, 13)), reranker, batch_size=5, concurrency=2,
            num_cpus=0.5, runtime_env={"env_vars": {"CO_API_KEY": KEY}},
        ))
        assert server.attempts == 24 and all(s.headers["Authorization"] == f"Bearer {KEY}" for s in server.seen)
    assert out.equals(expected)
    assert out.num_rows == 24 * 5 - sum(max(0, 5 - n) for n in _group_sizes(table))


def _group_sizes(table: pa.Table) -> list[int]:
    return list(pc.value_counts(table["query_id"]).field("counts").to_pylist())


def test_local_cross_encoder_matches_one_process(local_ray, sort_shuffle, tmp_path) -> None:
    model = str(build_tiny(tmp_path / "tiny-ce"))
    table = candidates(20, seed=3)
    reranker = rerankit.get_reranker("crossencoder", model_name=model, device="cpu", return_score="all")
    expected = single_process(table, reranker, batch_size=4)
    parts = [b for part in blocks(table, 9) for b in part.to_batches()]  # record batches, not tables
    out = run(rerank_dataset(ray.data.from_arrow(parts), reranker, batch_size=4, concurrency=2))
    assert out.drop_columns(["_relevance_score"]).equals(expected.drop_columns(["_relevance_score"]))
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), expected["_relevance_score"].to_numpy(),
                               rtol=1e-6)


def test_passages_on_ray_match_one_process(local_ray, sort_shuffle, tmp_path) -> None:
    """crossencoder with passages and return_passage on Ray: the same rows, aggregate scores and best
    passages as one process. Every word here is one token of the tiny model, so a 3-word query and
    the 3 special tokens leave max_length=8 two tokens: each 5-word text is 4 passages of 2 words."""
    model = str(build_tiny(tmp_path / "tiny-ce"))
    table = candidates(12, seed=6)
    reranker = rerankit.get_reranker("crossencoder", model_name=model, device="cpu", return_score="all",
                                     passages={"max_length": 8, "stride": 1}, return_passage=True)
    expected = single_process(table, reranker, batch_size=4)
    assert [len(p.split()) for p in expected["_passage"].to_pylist()] == [2] * table.num_rows
    whole = single_process(table, rerankit.get_reranker("crossencoder", model_name=model, device="cpu",
                                                        return_score="all"), batch_size=4)
    assert not np.allclose(np.sort(expected["_relevance_score"].to_numpy()),
                           np.sort(whole["_relevance_score"].to_numpy()))

    out = run(rerank_dataset(ray.data.from_arrow(blocks(table, 10)), reranker, batch_size=4, concurrency=1))
    assert out.drop_columns(["_relevance_score"]).equals(expected.drop_columns(["_relevance_score"]))
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), expected["_relevance_score"].to_numpy(),
                               rtol=1e-6)
    for row in out.to_pylist():
        assert row["text"][row["_passage_start"]:row["_passage_end"]] == row["_passage"]


# -- failures ------------------------------------------------------------------------------------
def test_a_killed_actor_is_retried_without_losing_or_duplicating_rows(local_ray, sort_shuffle, tmp_path) -> None:
    table = candidates(16, seed=4)
    victim = table["query"][table["query_id"].to_pylist().index("q2")].as_py()  # a group mid-way
    marker, log = tmp_path / "killed", tmp_path / "log"
    config = rerankit.RerankerConfig(return_score="all")
    reranker = rerankit.ScoringReranker("kill-once", config, KillOnce(config, victim, marker, log))
    expected = single_process(table, rerankit.ScoringReranker("overlap", config, Overlap(config)))  # same scores

    out = run(rerank_dataset(ray.data.from_arrow(blocks(table, 10)), reranker, batch_size=2, concurrency=1))

    killed = marker.read_text()
    lines = [line.split(" ", 2) for line in log.read_text().splitlines()]
    assert [line for line in lines if line[0] == killed][-1] == [killed, "score", victim]  # it died there
    after = lines[lines.index([killed, "score", victim]) + 1:]
    retried = [pid for pid, what, *rest in after if what == "score" and rest == [victim]]
    assert retried and retried[0] != killed and [retried[0], "build"] in after  # a new actor did it again
    assert out.num_rows == table.num_rows
    assert sorted(out["_rowid"].to_pylist()) == sorted(table["_rowid"].to_pylist())
    assert out.equals(expected)
    builds = [pid for pid, what, *_ in lines if what == "build"]
    assert len(builds) == len(set(builds)) == 2  # the reranker is built once per actor, not per batch


def test_a_bad_row_fails_the_job_with_the_rerankit_error(local_ray, sort_shuffle) -> None:
    table = candidates(8, seed=5)
    texts = table["text"].to_pylist()
    texts[table["query_id"].to_pylist().index("q5") + 1] = None
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    config = rerankit.RerankerConfig()
    reranker = rerankit.ScoringReranker("overlap", config, Overlap(config))
    with pytest.raises(rerankit.InputError) as info:
        run(rerank_dataset(ray.data.from_arrow(blocks(table, 7)), reranker, batch_size=3))
    assert re.match(  # the worker's error, raised as its own class (Ray appends a retry note)
        r"group query_id='q5': results column 'text' has 1 null value\(s\) \(rows \[\d\]\); fill them",
        str(info.value.cause),
    )
    assert isinstance(info.value.cause, rerankit.InputError)


def test_two_datasets_must_fit_together(local_ray) -> None:
    """Checked on the driver, from the datasets' schemas, before any job."""
    table = candidates(3, hybrid=True)
    vector = ray.data.from_arrow(table.drop_columns(["_score"]))
    fts = ray.data.from_arrow(table.drop_columns(["_distance", "source"]))
    with pytest.raises(rerankit.InputError, match="ds already has a column 'source'; with fts="):
        rerank_dataset(vector, "rrf", fts=fts)
    ids = pa.array([[1]] * table.num_rows)  # a list column where fts has text
    clash = ray.data.from_arrow(table.drop_columns(["source"]).set_column(0, "query_id", ids))
    with pytest.raises(rerankit.InputError, match="ds and fts do not share their columns' types"):
        rerank_dataset(clash, "rrf", fts=fts)


def test_secrets_are_never_pickled_to_workers(local_ray) -> None:
    from rerankit_cohere import CohereScorer

    ds = ray.data.from_items([{"query_id": 1}])
    keyed = KeyedConfig(api_key=KEY)
    with pytest.raises(rerankit.ConfigError, match="would carry its api_key to every worker") as info:
        rerank_dataset(ds, rerankit.ScoringReranker("keyed", keyed, Overlap(keyed)))
    assert KEY not in str(info.value)
    config = CohereScorer.Config(api_key=KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(rerankit.ConfigError, match="cannot be sent to Ray's workers"):
        rerank_dataset(ds, rerankit.ScoringReranker("cohere", config, CohereScorer(config)))
    with pytest.raises(rerankit.UnknownRerankerError):  # a bad reranker fails on the driver, before any job
        rerank_dataset(ray.data.from_items([{"query_id": 1}]), "no-such-reranker")


# -- the command line ----------------------------------------------------------------------------
@pytest.fixture
def main():
    """The CLI's main, run in this process (to share the Ray runtime); the logging set-up it does
    for a terminal (its own handler on the 'rerankit' logger) is undone after the test."""
    from rerankit._cli import main

    logger = logging.getLogger("rerankit")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield main
    logger.handlers[:], logger.propagate = saved[:2]
    logger.setLevel(saved[2])


def test_cli_engine_ray_reads_and_writes_parquet(local_ray, sort_shuffle, tmp_path, capsys, main) -> None:
    table = candidates(12, seed=6, hybrid=True)
    source = tmp_path / "candidates.parquet"
    pq.write_table(table, source, row_group_size=10)
    code = main(["rerank", "--engine", "ray", "-r", "linear", "--set", "return_score=all", "-i", str(source),
                 "-o", str(tmp_path / "out"), "--batch-size", "3", "--concurrency", "2"])
    assert code == 0
    assert f"rerankit: wrote {table.num_rows - _overlap(table)} rows to" in capsys.readouterr().err
    out = pq.read_table(tmp_path / "out").sort_by([("query_id", "ascending"), ("_rank", "ascending")])
    expected = single_process(table, rerankit.get_reranker("linear", return_score="all"))
    assert out.equals(expected)

    bad = table.set_column(table.schema.get_field_index("_score"), "_score", pa.nulls(table.num_rows, pa.float64()))
    pq.write_table(bad, source)
    code = main(["rerank", "--engine", "ray", "-r", "linear", "-i", str(source), "-o", str(tmp_path / "bad")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert re.fullmatch(r"rerankit: error: group query_id='q\d+': its fts rows have no '_score' value .*", err[-1])
    assert "Failed to apply" not in err[-1] and "Traceback" not in "".join(err)


def _overlap(table: pa.Table) -> int:
    """Rows found by both searches (one output row each)."""
    keys = pc.binary_join_element_wise(table["query_id"], pc.cast(table["_rowid"], pa.string()), "/")
    return table.num_rows - len(pc.unique(keys))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-q", "solar"], "drop --query"),
        ([], "needs --output DIR"),
        (["-o", "out", "--format", "csv"], "--format csv is not supported"),
    ],
)
def test_cli_engine_ray_usage_mistakes(capsys, main, extra, message) -> None:
    assert main(["rerank", "--engine", "ray", "-r", "rrf", "-i", "in.parquet", *extra]) == 2
    assert message in capsys.readouterr().err


# -- calibration, min_score and cascades ---------------------------------------------------------
def test_calibration_min_score_and_a_cascade_match_one_process(local_ray, sort_shuffle) -> None:
    """They are options and a reranker like any: they travel to the workers in the pickled config."""
    table = candidates(16, seed=5)
    with FakeRerankServer("cohere", api_key=KEY, max_lifetime=120) as server:
        cohere = {"reranker": "cohere", "base_url": server.url, "api_key": KEY}
        calibrated = {**cohere, "calibration": {"method": "platt", "slope": 6.0, "intercept": -2.0}, "min_score": 0.3}
        cascade = {"reranker": "cascade", "stages": [{**cohere, "keep": 3}, cohere], "min_score": 0.2}
        for config in (calibrated, cascade):
            reranker = rerankit.from_config(config)
            expected = single_process(table, reranker)
            assert 0 < expected.num_rows < table.num_rows
            out = run(rerank_dataset(
                ray.data.from_arrow(blocks(table, 13)), reranker, batch_size=5, concurrency=2,
                num_cpus=0.5, runtime_env={"env_vars": {"CO_API_KEY": KEY}},
            ))
            assert out.equals(expected)
