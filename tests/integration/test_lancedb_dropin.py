"""rerankit.lancedb's drop-in classes inside real LanceDB queries (embedded tables).

Fusion classes are compared with LanceDB's own in vector, full-text, hybrid and multi-vector
queries. Model classes are built with LanceDB's arguments and checked against an independent
reference: hosted ones against local servers speaking the providers' wire formats (scores from
``fake_score``; OpenAI's chat completions with a fake model rating by it), the cross-encoder
against a tiny model built here, scored by LanceDB's own class.

Adding a model class is one more :class:`ModelCase` in ``MODEL_CASES``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lancedb.rerankers as lance
import numpy as np
import pyarrow as pa
import pytest

import rerankit
import rerankit.lancedb as ours
from rerankit.testing import FakeRerankServer, fake_score
from rerankit.testing.chat import ChatDialect
from rerankit.testing.hosted import KEY
from tests.integration.integration_support import embed, make_table

# Never reach the Hugging Face hub: the cross-encoder is built here and loaded by path.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.plugins.colbert.colbert_models import build_stanford
from tests.plugins.colbert.reference import NaiveColbert
from tests.plugins.crossencoder.crossencoder_models import QUERY as MODEL_QUERY
from tests.plugins.crossencoder.crossencoder_models import TEXTS, build_tiny
from tests.plugins.openai.fake_llm import FakeJudge

QUERY = "red apple orchard"
FUSION = {
    "RRFReranker": [{}, {"K": 5}],
    "LinearCombinationReranker": [{}, {"weight": 0.4, "fill": 0.6}],
    "MRRReranker": [{}, {"weight_vector": 0.8, "weight_fts": 0.2}],
}
FUSION_CASES = [(name, args) for name, variants in FUSION.items() for args in variants]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("dropin"))


def hybrid(tbl, query: str = QUERY, limit: int = 8):
    return tbl.search(query_type="hybrid").vector(embed(query)).text(query).limit(limit)


def ids(result: pa.Table) -> list[int]:
    return result["id"].to_pylist()


def assert_same_result(mine: pa.Table, theirs: pa.Table) -> None:
    assert ids(mine) == ids(theirs)
    np.testing.assert_allclose(
        mine["_relevance_score"].to_numpy(), theirs["_relevance_score"].to_numpy(), rtol=1e-6
    )
    assert set(mine.column_names) == set(theirs.column_names)
    for name in ("_distance", "_score"):
        if name in theirs.column_names:  # LanceDB restores the searches' own scores by _rowid
            assert mine[name].to_pylist() == theirs[name].to_pylist()


# -- fusion classes ------------------------------------------------------------------------------
@pytest.mark.parametrize("return_score", ["relevance", "all"])
@pytest.mark.parametrize(("name", "args"), FUSION_CASES)
def test_fusion_in_hybrid_queries_equals_lancedb(table, name, args, return_score):
    mine = getattr(ours, name)(**args, return_score=return_score)
    theirs = getattr(lance, name)(**args, return_score=return_score)
    for query in (QUERY, "apple cinnamon bread", "blue sky sea"):
        assert_same_result(
            hybrid(table, query).rerank(reranker=mine).to_arrow(),
            hybrid(table, query).rerank(reranker=theirs).to_arrow(),
        )


@pytest.mark.parametrize(("name", "args"), FUSION_CASES)
def test_fusion_explain_plan_names_the_reranker_as_lancedb_does(table, name, args):
    mine = hybrid(table).rerank(reranker=getattr(ours, name)(**args)).explain_plan()
    theirs = hybrid(table).rerank(reranker=getattr(lance, name)(**args)).explain_plan()
    assert mine.splitlines()[0] == theirs.splitlines()[0] == str(getattr(lance, name)(**args))


@pytest.mark.parametrize(("name", "args"), FUSION_CASES)
def test_fusion_in_vector_and_fts_queries(table, name, args):
    """LanceDB's fusion classes cannot rerank one search (NotImplementedError); ours rank it by
    its own order, linear by its own relevance (README, "Deliberate differences")."""
    mine, theirs = getattr(ours, name)(**args), getattr(lance, name)(**args)
    vector = table.search(embed(QUERY)).limit(6)
    fts = table.search("apple", query_type="fts").limit(6)
    with pytest.raises(NotImplementedError):
        table.search(embed(QUERY)).limit(6).rerank(reranker=theirs, query_string=QUERY).to_arrow()
    with pytest.raises(NotImplementedError):
        table.search("apple", query_type="fts").limit(6).rerank(reranker=theirs).to_arrow()
    out_v = table.search(embed(QUERY)).limit(6).rerank(reranker=mine, query_string=QUERY).to_arrow()
    out_f = table.search("apple", query_type="fts").limit(6).rerank(reranker=mine).to_arrow()
    assert ids(out_v) == ids(vector.to_arrow()) and ids(out_f) == ids(fts.to_arrow())
    if name == "LinearCombinationReranker":
        np.testing.assert_allclose(
            out_v["_relevance_score"].to_numpy(), 1 - vector.to_arrow()["_distance"].to_numpy(), rtol=1e-6
        )
        np.testing.assert_allclose(out_f["_relevance_score"].to_numpy(), fts.to_arrow()["_score"].to_numpy())


@pytest.mark.parametrize(("name", "args"), [c for c in FUSION_CASES if c[0] != "LinearCombinationReranker"])
def test_fusion_multivector_over_query_builders_equals_lancedb(table, name, args):
    def searches():
        return [table.search(embed(q)).limit(5).with_row_id(True) for q in ("red apple", "apple cake", "fast car")]

    theirs = getattr(lance, name)(**args).rerank_multivector(searches(), QUERY)
    mine = getattr(ours, name)(**args).rerank_multivector(searches(), QUERY)
    assert_same_result(mine, theirs)
    assert len(set(ids(mine))) == len(mine) < 15  # the searches overlap; each row once


def test_a_pickled_drop_in_works_in_a_query(table):
    restored = pickle.loads(pickle.dumps(ours.LinearCombinationReranker(weight=0.2, return_score="all")))
    assert type(restored) is ours.LinearCombinationReranker and str(restored).startswith(
        "LinearCombinationReranker(weight=0.2,"
    )
    assert_same_result(
        hybrid(table).rerank(reranker=restored).to_arrow(),
        hybrid(table).rerank(reranker=lance.LinearCombinationReranker(weight=0.2, return_score="all")).to_arrow(),
    )


# -- model classes ---------------------------------------------------------------------------------
@dataclass
class Context:
    """What model cases build on: local provider servers and tiny models (made once per module)."""

    servers: dict[str, FakeRerankServer]
    models: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelCase:
    """One model class: LanceDB's arguments (plus where the local server or model is), and the
    scores an independent reference gives ``(query, texts)``."""

    name: str
    args: Callable[[Context], dict[str, Any]]
    reference: Callable[[Context, str, list[str]], list[float]]
    #: The model name the provider must receive when LanceDB's default is kept (hosted only).
    default_model: str | None = None

    def __str__(self) -> str:
        return self.name


def fake_scores(ctx: Context, query: str, texts: list[str]) -> list[float]:
    return [fake_score(query, t) for t in texts]


def sentence_transformers_scores(ctx: Context, query: str, texts: list[str]) -> list[float]:
    """What LanceDB's CrossEncoderReranker computes: ``CrossEncoder.predict`` on the pairs."""
    if "crossencoder" not in ctx.cache:
        from sentence_transformers import CrossEncoder

        ctx.cache["crossencoder"] = CrossEncoder(ctx.models["crossencoder"], device="cpu")
    return ctx.cache["crossencoder"].predict([[query, t] for t in texts]).tolist()


def naive_colbert_scores(ctx: Context, query: str, texts: list[str]) -> list[float]:
    """MaxSim recomputed one text at a time by the colbert tests' independent reference."""
    return NaiveColbert(ctx.models["colbert"]).scores(query, texts)


MODEL_CASES = [
    ModelCase("CohereReranker", lambda c: {"api_key": KEY, "base_url": c.servers["cohere"].url}, fake_scores,
              default_model="rerank-english-v3.0"),
    ModelCase("JinaReranker", lambda c: {"api_key": KEY, "base_url": c.servers["jina"].url}, fake_scores,
              default_model="jina-reranker-v2-base-multilingual"),
    ModelCase("VoyageAIReranker",
              lambda c: {"model_name": "rerank-2.5", "api_key": KEY, "base_url": c.servers["voyage"].url},
              fake_scores),
    ModelCase("CrossEncoderReranker", lambda c: {"model_name": c.models["crossencoder"], "device": "cpu"},
              sentence_transformers_scores),
    # The fake chat model rates on a 0-10 scale what fake_score gives; normalized back, the same scores.
    ModelCase("OpenaiReranker", lambda c: {"api_key": KEY, "base_url": c.servers["openai"].url + "/v1"},
              fake_scores),
    ModelCase("ColbertReranker", lambda c: {"model_name": str(c.models["colbert"]), "device": "cpu"},
              naive_colbert_scores),
    ModelCase("AnswerdotaiRerankers",
              lambda c: {"model_type": "colbert", "model_name": str(c.models["colbert"]), "device": "cpu"},
              naive_colbert_scores),
]


@pytest.fixture(scope="module")
def model_table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("dropin-models"), docs=TEXTS)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    servers = {name: FakeRerankServer(name, api_key=KEY) for name in ("cohere", "jina", "voyage")}
    servers["openai"] = FakeRerankServer(ChatDialect(FakeJudge()), api_key=KEY)
    for server in servers.values():
        server.__enter__()
    models = {
        "crossencoder": str(build_tiny(tmp_path_factory.mktemp("tiny-ce"))),
        "colbert": build_stanford(tmp_path_factory.mktemp("tiny-colbert")),  # a Tiny: path and weights
    }
    try:
        yield Context(servers, models)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def expected_order(ctx: Context, case: ModelCase, query: str, candidates: pa.Table, limit: int):
    scores = case.reference(ctx, query, candidates["text"].to_pylist())
    order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")[:limit]
    return [ids(candidates)[i] for i in order], [scores[i] for i in order]


def union(*tables: pa.Table) -> pa.Table:
    """The rows of several searches, each once, in order of first appearance (as LanceDB merges)."""
    rows = {}
    for t in tables:
        for row in t.select(["id", "text"]).to_pylist():
            rows.setdefault(row["id"], row)
    return pa.Table.from_pylist(list(rows.values()))


@pytest.mark.parametrize("kind", ["vector", "fts", "hybrid"])
@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_model_class_with_lancedb_arguments_in_real_queries(model_table, ctx, case, kind):
    reranker = getattr(ours, case.name)(**case.args(ctx))
    query, limit = MODEL_QUERY, 5
    vector = model_table.search(embed(query)).limit(limit).to_arrow()
    fts = model_table.search(query, query_type="fts").limit(limit).to_arrow()
    if kind == "vector":
        out = model_table.search(embed(query)).limit(limit).rerank(reranker=reranker, query_string=query).to_arrow()
        candidates = vector
    elif kind == "fts":
        out = model_table.search(query, query_type="fts").limit(limit).rerank(reranker=reranker).to_arrow()
        candidates = fts
    else:
        out = hybrid(model_table, query, limit).rerank(reranker=reranker).to_arrow()
        candidates = union(vector, fts)
        assert len(candidates) > limit, "both searches should contribute for this test to mean anything"
    want_ids, want_scores = expected_order(ctx, case, query, candidates, limit)
    assert ids(out) == want_ids
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), want_scores, rtol=1e-5, atol=1e-6)
    assert out.schema.field("_relevance_score").type == pa.float32()
    assert "_distance" not in out.column_names and "_score" not in out.column_names


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_model_class_top_n_and_return_score_all_in_a_query(model_table, ctx, case):
    reranker = getattr(ours, case.name)(**case.args(ctx), top_n=2, return_score="all")
    assert reranker.score == "all" and reranker.top_n == 2
    out = model_table.search(embed(MODEL_QUERY)).limit(6).rerank(reranker=reranker, query_string=MODEL_QUERY)
    out = out.to_arrow()
    plain = model_table.search(embed(MODEL_QUERY)).limit(6).to_arrow()
    want_ids, _ = expected_order(ctx, case, MODEL_QUERY, plain, 2)
    assert ids(out) == want_ids
    distance = dict(zip(ids(plain), plain["_distance"].to_pylist(), strict=True))
    assert out["_distance"].to_pylist() == [distance[i] for i in ids(out)]


@pytest.mark.parametrize("case", [c for c in MODEL_CASES if c.default_model], ids=str)
def test_hosted_class_sends_lancedb_s_default_model(model_table, ctx, case):
    reranker = getattr(ours, case.name)(**case.args(ctx))
    server = ctx.servers[reranker.reranker.name]
    before = len(server.seen)
    model_table.search("heat", query_type="fts").limit(4).rerank(reranker=reranker).to_arrow()
    assert len(server.seen) == before + 1
    assert server.seen[-1].body["model"] == case.default_model == reranker.model_name


def test_voyage_truncation_reaches_the_request(model_table, ctx):
    server = ctx.servers["voyage"]
    for truncation, sent in [(False, False), (True, True), (None, True)]:
        reranker = ours.VoyageAIReranker("rerank-2.5-lite", api_key=KEY, base_url=server.url, truncation=truncation)
        model_table.search("heat", query_type="fts").limit(3).rerank(reranker=reranker).to_arrow()
        assert server.seen[-1].body["truncation"] is sent and server.seen[-1].body["model"] == "rerank-2.5-lite"
        assert reranker.truncation is sent


def test_a_rejected_key_reaches_the_caller_typed(model_table, ctx):
    reranker = ours.CohereReranker(api_key="wrong-key", base_url=ctx.servers["cohere"].url)
    with pytest.raises(rerankit.AuthenticationError) as info:
        model_table.search("heat", query_type="fts").limit(3).rerank(reranker=reranker).to_arrow()
    assert "wrong-key" not in str(info.value) and "wrong-key" not in repr(reranker)


def test_explicit_api_key_wins_over_the_environment(model_table, ctx, monkeypatch):
    monkeypatch.setenv("COHERE_API_KEY", "from-the-environment")  # LanceDB's class would send this one
    monkeypatch.delenv("CO_API_KEY", raising=False)
    url = ctx.servers["cohere"].url  # accepts only KEY

    def query(reranker):
        return model_table.search("heat", query_type="fts").limit(3).rerank(reranker=reranker).to_arrow()

    assert len(query(ours.CohereReranker(api_key=KEY, base_url=url))) == 3
    with pytest.raises(rerankit.AuthenticationError):  # without the argument, the environment's key is sent
        query(ours.CohereReranker(base_url=url))


@pytest.mark.parametrize("kind", ["vector", "fts", "hybrid"])
def test_crossencoder_equals_lancedb_s_own_class(model_table, ctx, kind):
    path = ctx.models["crossencoder"]
    mine = ours.CrossEncoderReranker(model_name=path, device="cpu", batch_size=4)
    theirs = lance.CrossEncoderReranker(model_name=path, device="cpu", batch_size=4)

    def run(reranker):
        if kind == "vector":
            builder = model_table.search(embed(MODEL_QUERY)).limit(6)
            builder = builder.rerank(reranker=reranker, query_string=MODEL_QUERY)
        elif kind == "fts":
            builder = model_table.search(MODEL_QUERY, query_type="fts").limit(6).rerank(reranker=reranker)
        else:
            builder = hybrid(model_table, MODEL_QUERY, 6).rerank(reranker=reranker)
        return builder.to_arrow()

    mine_out, theirs_out = run(mine), run(theirs)
    assert ids(mine_out) == ids(theirs_out)
    np.testing.assert_allclose(
        mine_out["_relevance_score"].to_numpy(), theirs_out["_relevance_score"].to_numpy(), rtol=1e-5, atol=1e-6
    )
    assert type(mine.model).__name__ == type(theirs.model).__name__ == "CrossEncoder"
    assert mine.device == theirs.device == "cpu" and mine.trust_remote_code is False


def test_openai_class_sends_the_plugin_s_default_model_and_never_rewrites_rows(model_table, ctx):
    import rerankit_openai

    reranker = ours.OpenaiReranker(api_key=KEY, base_url=ctx.servers["openai"].url + "/v1")
    default = rerankit_openai.DEFAULT_MODEL
    assert reranker.model_name == default and str(reranker) == f"OpenaiReranker(model_name={default})"
    plain = model_table.search("heat", query_type="fts").limit(4).to_arrow()
    out = model_table.search("heat", query_type="fts").limit(4).rerank(reranker=reranker).to_arrow()
    assert ctx.servers["openai"].seen[-1].body["model"] == default
    rows = {r["id"]: r["text"] for r in plain.to_pylist()}
    assert {r["id"]: r["text"] for r in out.to_pylist()} == rows  # every row, its own text


PASSAGE_CASES = {  # each leaves 4 units a passage: the 6-word query (plus 3 special tokens) takes the rest
    "CohereReranker": {"max_length": 10, "stride": 0},
    "CrossEncoderReranker": {"max_length": 13, "stride": 0},
}


@pytest.mark.parametrize("case", [c for c in MODEL_CASES if c.name in PASSAGE_CASES], ids=str)
def test_model_class_passes_passages_through_in_a_query(model_table, ctx, case):
    """passages= and return_passage= reach the rerankit reranker behind the class: long rows are
    scored by their passages, each row's score is its best passage's, which comes back with offsets."""
    reranker = getattr(ours, case.name)(**case.args(ctx), passages=PASSAGE_CASES[case.name], return_passage=True)
    assert reranker.reranker.config.return_passage is True
    server = ctx.servers["cohere"]
    before = len(server.seen)
    out = model_table.search(MODEL_QUERY, query_type="fts").limit(8).rerank(reranker=reranker).to_arrow()
    plain = model_table.search(MODEL_QUERY, query_type="fts").limit(8).to_arrow()
    assert sorted(ids(out)) == sorted(ids(plain))
    assert out.column_names[-3:] == ["_passage", "_passage_start", "_passage_end"]
    rows = out.to_pylist()
    assert any(len(row["text"].split()) > 4 for row in rows)
    for row in rows:
        assert row["text"][row["_passage_start"]:row["_passage_end"]] == row["_passage"]
        (best,) = case.reference(ctx, MODEL_QUERY, [row["_passage"]])
        np.testing.assert_allclose(row["_relevance_score"], best, rtol=1e-5, atol=1e-6)
        if len(row["text"].split()) > 4:
            assert row["_passage"] != row["text"]
    if case.name == "CohereReranker":
        sent = [d for request in server.seen[before:] for d in request.body["documents"]]
        assert len(sent) > len(rows) and all(len(d.split()) <= 4 for d in sent)
