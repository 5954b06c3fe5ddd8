"""The built-in ``cascade`` reranker: each stage scores exactly the rows the previous stage kept
(counted at the fake servers), every row comes back with the stage its score came from, the
result equals running the stages by hand, and ``budget_ms`` / ``skip_if_margin`` skip stages."""

from __future__ import annotations

import asyncio
import pickle

import pyarrow as pa
import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault

QUERY = "heat transfer boundary layer"
DOCS = [
    "heat flow", "heat transfer in the boundary layer", "wing lift", "boundary layer heat", "jet noise",
    "transfer of heat", "a laminar boundary layer", "shock wave", "heat transfer at high speed", "drag",
    "layer of boundary heat transfer", "the boundary",
]


@pytest.fixture(scope="module")
def servers():
    with FakeRerankServer("cohere", api_key="k") as first, FakeRerankServer("jina", api_key="j") as second, \
            FakeRerankServer("voyage", api_key="v") as third:
        yield first, second, third


@pytest.fixture(autouse=True)
def _fresh(servers, monkeypatch):
    for server in servers:
        server.reset()
    for env, key in (("CO_API_KEY", "k"), ("JINA_API_KEY", "j"), ("VOYAGE_API_KEY", "v")):
        monkeypatch.setenv(env, key)


def stage_configs(servers):
    first, second, third = servers
    return [
        {"reranker": "cohere", "base_url": first.url, "max_retries": 0},
        {"reranker": "jina", "base_url": second.url, "max_retries": 0},
        {"reranker": "voyage", "model_name": "rerank-2", "base_url": third.url, "max_retries": 0},
    ]


def cascade(servers, keeps=(5, None), **options):
    stages = [{**c, **({} if k is None else {"keep": k})} for c, k in zip(stage_configs(servers), keeps)]
    return rerankit.get_reranker("cascade", stages=stages, **options)


def documents_seen(server) -> list[list[str]]:
    return [s.body["documents"] for s in server.seen]


def by_hand(servers, query, docs, keeps):
    """The stages run one after the other by the user: each on the previous one's best rows."""
    table = pa.table({"text": docs})
    tail: list[pa.Table] = []
    for i, (config, keep) in enumerate(zip(stage_configs(servers), keeps)):
        out = rerankit.from_config(config).rerank(query, table)
        out = out.append_column("_stage", pa.array([i] * out.num_rows, pa.int32()))
        last = i == len(keeps) - 1
        n = out.num_rows if keep is None or last else keep
        tail.insert(0, out.slice(n))
        table = out.slice(0, n).select(["text"])
        head = out.slice(0, n)
    return pa.concat_tables([head, *tail])


def test_each_stage_scores_exactly_what_the_previous_kept(servers):
    first, second, _ = servers
    out = cascade(servers, keeps=(5, None)).rerank(QUERY, DOCS)
    assert documents_seen(first) == [DOCS]
    stage0 = rerankit.from_config(stage_configs(servers)[0]).rerank(QUERY, DOCS)
    assert documents_seen(second) == [stage0["text"].to_pylist()[:5]]  # the best five, in stage 0's order
    assert sorted(out["text"].to_pylist()) == sorted(DOCS)  # every row, once
    assert out["_stage"].to_pylist() == [1] * 5 + [0] * 7


@pytest.mark.parametrize("keeps", [(5, None), (8, 3, None), (4, 10, 2), (20, None)])
def test_it_equals_running_the_stages_by_hand(servers, keeps):
    out = cascade(servers, keeps=keeps).rerank(QUERY, DOCS)
    expected = by_hand(servers, QUERY, DOCS, keeps)
    assert out.equals(expected)


def test_every_entry_point_keeps_every_row(servers):
    r = cascade(servers, keeps=(4, None))
    vector = pa.table({"text": DOCS[:8], "_rowid": list(range(8)), "_distance": [0.1 * i for i in range(8)]})
    fts = pa.table({"text": DOCS[4:], "_rowid": list(range(4, 12)), "_score": [8.0 - i for i in range(8)]})
    plain = r.rerank(QUERY, pa.table({"text": DOCS, "_rowid": list(range(12))}))
    hybrid = r.rerank_hybrid(QUERY, vector, fts)
    assert hybrid["_rowid"].to_pylist() == plain["_rowid"].to_pylist()
    assert hybrid["_relevance_score"].to_pylist() == plain["_relevance_score"].to_pylist()
    assert asyncio.run(r.arerank(QUERY, DOCS)).equals(r.rerank(QUERY, DOCS))
    batch = r.rerank_batch([QUERY, "wing"], [DOCS, DOCS[:6]])
    assert batch[0].equals(r.rerank(QUERY, DOCS)) and batch[1].num_rows == 6
    multi = r.rerank_multivector([vector, fts.drop_columns(["_score"])], QUERY, deduplicate=True)
    assert sorted(multi["_rowid"].to_pylist()) == list(range(12))


def test_top_n_and_min_score_cut_the_cascade_as_any_reranker(servers):
    full = cascade(servers, keeps=(5, None)).rerank(QUERY, DOCS)
    assert cascade(servers, keeps=(5, None), top_n=7).rerank(QUERY, DOCS).equals(full.slice(0, 7))
    cut = cascade(servers, keeps=(5, None), min_score=0.3).rerank(QUERY, DOCS)
    assert cut.equals(full.filter(pa.array(full["_relevance_score"].to_numpy() >= 0.3)))


def test_a_stage_that_would_start_past_the_budget_is_skipped_and_counted(servers):
    first, second, _ = servers
    first.script(Fault.slow(0.4))
    r = cascade(servers, keeps=(5, None), budget_ms=100)
    out = r.rerank(QUERY, DOCS)
    assert second.attempts == 0
    assert out["_stage"].to_pylist() == [0] * 12
    assert out.select(["text", "_relevance_score"]).equals(
        rerankit.from_config(stage_configs(servers)[0]).rerank(QUERY, DOCS)
    )
    usage = r.usage.counters()
    assert usage["stage1.skipped_budget"] == 1 and usage["stage1.calls"] == 0 and usage["stage0.rows"] == 12
    r.rerank(QUERY, DOCS)  # fast this time: inside the budget
    assert second.attempts == 1 and r.usage.counters()["stage1.rows"] == 5


def test_a_clear_leader_skips_the_next_stage(servers):
    _, second, _ = servers
    r = cascade(servers, keeps=(5, None), skip_if_margin=0.0)
    out = r.rerank(QUERY, DOCS)
    assert second.attempts == 0 and out["_stage"].to_pylist() == [0] * 12
    assert r.usage.counters()["stage1.skipped_margin"] == 1
    cascade(servers, keeps=(5, None), skip_if_margin=0.99).rerank(QUERY, DOCS)
    assert second.attempts == 1


def test_usage_per_stage(servers):
    r = cascade(servers, keeps=(5, None))
    r.rerank(QUERY, DOCS)
    r.rerank(QUERY, DOCS[:3])
    usage = r.usage.counters()
    assert (usage["stage0.documents"], usage["stage1.documents"]) == (15, 8)
    assert (usage["stage0.calls"], usage["stage1.calls"]) == (2, 2)
    r.usage.reset()
    assert not any(r.usage.counters().values())


def test_it_pickles_without_its_keys(servers):
    r = rerankit.get_reranker("cascade", stages=[
        {"reranker": "cohere", "base_url": servers[0].url, "api_key": "k", "keep": 3},
        {"reranker": "jina", "base_url": servers[1].url, "api_key": "j"},
    ])
    data = pickle.dumps(r)
    assert b"'k'" not in data and b"'j'" not in data and "api_key" not in repr(r)
    assert pickle.loads(data).rerank(QUERY, DOCS).equals(r.rerank(QUERY, DOCS))


@pytest.mark.parametrize(
    ("stages", "words"),
    [
        ([{"reranker": "cohere", "keep": 0}], "keep must be a whole number"),
        ([{"reranker": "cohere", "top_n": 5}], "belong on the cascade"),
        ([{"keep": 5}], "naming its reranker"),
        ([{"reranker": "cohere", "base_url": "http://127.0.0.1:1", "bogus": 1}], "stages[0]"),
        ([], "stages"),
    ],
)
def test_bad_stages_are_config_errors_naming_them(stages, words):
    with pytest.raises(rerankit.ConfigError) as caught:
        rerankit.get_reranker("cascade", stages=stages)
    assert words in str(caught.value)
