"""rerankit.lancedb's drop-in classes against LanceDB's own, on result tables (no database).

The names, signatures and attributes are read from the installed ``lancedb.rerankers`` by
introspection, so a LanceDB release that adds a public method or attribute fails here. The fusion
classes are compared with LanceDB's through every public method on random search-shaped inputs.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import lancedb.rerankers as lance
import numpy as np
import pyarrow as pa
import pytest

import rerankit
import rerankit.lancedb as ours
from rerankit.lancedb import to_lancedb
from rerankit.testing.hosted import KEY

CLASSES = [
    "RRFReranker",
    "LinearCombinationReranker",
    "MRRReranker",
    "CohereReranker",
    "CrossEncoderReranker",
    "ColbertReranker",
    "AnswerdotaiRerankers",
    "JinaReranker",
    "OpenaiReranker",
    "VoyageAIReranker",
]
FUSION = ["RRFReranker", "LinearCombinationReranker", "MRRReranker"]
#: The rerankit reranker behind each class, and the plugin distribution that provides it.
KIND = {
    "RRFReranker": ("rrf", "rerankit"),
    "LinearCombinationReranker": ("linear", "rerankit"),
    "MRRReranker": ("mrr", "rerankit"),
    "CohereReranker": ("cohere", "rerankit-cohere"),
    "CrossEncoderReranker": ("crossencoder", "rerankit-crossencoder"),
    "ColbertReranker": ("colbert", "rerankit-colbert"),
    "AnswerdotaiRerankers": ("answerdotai", "rerankit-colbert"),
    "JinaReranker": ("jina", "rerankit-jina"),
    "OpenaiReranker": ("openai", "rerankit-openai"),
    "VoyageAIReranker": ("voyage", "rerankit-voyage"),
}
#: Defaults we change on purpose (README, "Deliberate differences").
DELIBERATE_DEFAULTS = {
    ("CrossEncoderReranker", "__init__", "trust_remote_code"): False,
    ("OpenaiReranker", "__init__", "model_name"): None,  # the plugin's default model
}

#: LanceDB's arguments for each class: both are built with them and their attributes compared.
LANCEDB_ARGS: dict[str, dict[str, Any]] = {
    "RRFReranker": {"K": 7, "return_score": "all"},
    "LinearCombinationReranker": {"weight": 0.4, "fill": 0.5},
    "MRRReranker": {"weight_vector": 0.8, "weight_fts": 0.2},
    "CohereReranker": {"model_name": "rerank-v3.5", "column": "body", "top_n": 3, "api_key": KEY},
    "JinaReranker": {"column": "body", "top_n": 2, "api_key": KEY, "return_score": "all"},
    "VoyageAIReranker": {"model_name": "rerank-2.5-lite", "top_n": 4, "api_key": KEY, "truncation": False},
    "CrossEncoderReranker": {"model_name": "some/model", "device": "cpu", "trust_remote_code": False,
                             "batch_size": 8, "max_length": 64},
    "OpenaiReranker": {"model_name": "gpt-4o-mini", "column": "body", "api_key": KEY},
    "ColbertReranker": {"model_name": "colbert-ir/colbertv2.0", "column": "body"},
    "AnswerdotaiRerankers": {"model_type": "colbert", "model_name": "answerdotai/answerai-colbert-small-v1"},
}
#: LanceDB's own ColBERT classes need AnswerDotAI's ``rerankers`` package at construction (not
#: installable beside our pins): ours are compared with what LanceDB's code sets and prints.
NEEDS_RERANKERS_PACKAGE = {"ColbertReranker", "AnswerdotaiRerankers"}
BUILDABLE = [name for name in CLASSES if name not in NEEDS_RERANKERS_PACKAGE]


# -- names, signatures, attributes -------------------------------------------------------------
def lancedb_public_names(cls: type) -> set[str]:
    """Public methods/properties of a LanceDB class plus every public ``self.x = ...`` it sets."""
    names = {n for n in dir(cls) if not n.startswith("_")}
    for klass in cls.__mro__:
        if klass.__module__.startswith("lancedb.rerankers."):
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
            names |= {
                node.attr
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and not node.attr.startswith("_")
            }
    return names


def assert_compatible(theirs: inspect.Signature, mine: inspect.Signature, where: tuple[str, str]) -> None:
    """Every call LanceDB's signature accepts, ours accepts with the same meaning."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    their_positional = [p.name for p in theirs.parameters.values() if p.kind in positional]
    my_positional = [p.name for p in mine.parameters.values() if p.kind in positional]
    assert my_positional[: len(their_positional)] == their_positional, (where, theirs, mine)
    for p in theirs.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            assert any(q.kind is p.kind for q in mine.parameters.values()), (where, "needs **kwargs")
            continue
        assert p.name in mine.parameters, (where, p.name)
        if p.default is not inspect.Parameter.empty:
            expected = DELIBERATE_DEFAULTS.get((*where, p.name), p.default)
            assert mine.parameters[p.name].default == expected, (where, p.name)
    for q in mine.parameters.values():
        if q.name not in theirs.parameters and q.kind not in (q.VAR_KEYWORD, q.VAR_POSITIONAL):
            assert q.default is not inspect.Parameter.empty, (where, f"our extra {q.name} must be optional")


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_name_of_lancedb_exists_with_a_compatible_signature(name):
    theirs, mine = getattr(lance, name), getattr(ours, name)
    assert issubclass(mine, lance.Reranker) and issubclass(mine, ours.LanceDBReranker)
    assert name in ours.__all__ and mine.__name__ == name and mine.__module__ == "rerankit.lancedb"
    assert_compatible(inspect.signature(theirs.__init__), inspect.signature(mine.__init__), (name, "__init__"))
    adapter_instance_names = set(vars(to_lancedb("rrf")))  # what every instance gets in __init__
    for attr in sorted(lancedb_public_names(theirs)):
        assert attr in dir(mine) or attr in adapter_instance_names, f"{name}.{attr} is missing"
        their_static = inspect.getattr_static(theirs, attr, None)
        if inspect.isfunction(their_static):
            assert_compatible(
                inspect.signature(their_static), inspect.signature(getattr(mine, attr)), (name, attr)
            )
        elif their_static is not None:  # a property or cached_property: not a method on ours either
            assert not inspect.isfunction(inspect.getattr_static(mine, attr))
    for other in CLASSES:  # ColbertReranker is an AnswerdotaiRerankers, as in LanceDB
        assert issubclass(mine, getattr(ours, other)) == issubclass(theirs, getattr(lance, other)), other


def secret(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


@pytest.mark.parametrize("name", BUILDABLE)
def test_attributes_read_as_lancedb_s_do(name, monkeypatch):
    for var in ("CO_API_KEY", "COHERE_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    args = LANCEDB_ARGS[name]
    theirs, mine = getattr(lance, name)(**args), getattr(ours, name)(**args)
    assert mine.reranker.name == KIND[name][0]
    for attr in sorted(lancedb_public_names(type(theirs)) - {"model", "reranker"}):  # model: loads weights
        value = getattr(theirs, attr)
        if not callable(value):
            assert secret(getattr(mine, attr)) == value, attr
    assert str(mine) == str(theirs)
    assert isinstance(to_lancedb(mine.reranker), type(mine))  # to_lancedb gives the same class back


@pytest.mark.parametrize("name", BUILDABLE)
def test_str_with_lancedb_defaults(name):
    hosted = ("rerankit-cohere", "rerankit-jina", "rerankit-voyage", "rerankit-openai")
    args = {"api_key": KEY} if KIND[name][1] in hosted else {}
    if name == "VoyageAIReranker":
        args["model_name"] = "rerank-2.5"
    if name == "OpenaiReranker":  # the default model differs on purpose
        args["model_name"] = "gpt-4-turbo-preview"
    assert str(getattr(ours, name)(**args)) == str(getattr(lance, name)(**args))


def lancedb_str(name: str, **attributes: Any) -> str:
    """What LanceDB's own ``__str__`` prints for an instance with these attributes (not built:
    LanceDB's ColBERT classes need the ``rerankers`` package at construction)."""
    obj = getattr(lance, name).__new__(getattr(lance, name))
    vars(obj).update(attributes)
    return str(obj)


@pytest.mark.parametrize("name", sorted(NEEDS_RERANKERS_PACKAGE))
def test_colbert_classes_read_as_lancedb_s_code_sets_them(name):
    args = LANCEDB_ARGS[name]
    mine = getattr(ours, name)(**args)  # the model loads on the first query, not here
    assert mine.reranker.name == KIND[name][0]
    expected = {"model_name": args["model_name"], "column": args.get("column", "text"), "model_type": "colbert",
                "score": "relevance"}
    for attr, value in expected.items():
        assert getattr(mine, attr) == value, attr
    assert str(mine) == lancedb_str(name, **expected)
    assert isinstance(to_lancedb(mine.reranker), type(mine))


def test_setting_an_attribute_rebuilds_the_reranker_like_lancedb():
    mine, theirs = ours.RRFReranker(), lance.RRFReranker()
    mine.K = theirs.K = 5
    assert str(mine) == str(theirs) == "RRFReranker(K=5)" and mine.reranker.config.K == 5
    linear = ours.LinearCombinationReranker()
    linear.score = "all"
    assert linear.reranker.return_score == "all"
    with pytest.raises(rerankit.ConfigError, match="weight"):
        linear.weight = 2.0
    assert linear.weight == 0.7  # a rejected value leaves the reranker as it was


@pytest.mark.parametrize("name", [n for n in CLASSES if n not in FUSION])
def test_a_model_class_without_its_plugin_says_what_to_install(name, monkeypatch):
    monkeypatch.setenv("RERANKIT_PLUGINS", "")  # no plugin loads: as if none were installed
    args = {k: v for k, v in LANCEDB_ARGS[name].items() if k != "max_length"}
    with pytest.raises(rerankit.UnknownRerankerError) as info:
        getattr(ours, name)(**args)
    kind, package = KIND[name]
    assert f"pip install {package}" in str(info.value) and name in str(info.value)
    assert info.value.name == kind


# -- LanceDB's messages for the conditions it checks ------------------------------------------
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("RRFReranker", {"K": 0}),
        ("LinearCombinationReranker", {"weight": 1.5}),
        ("MRRReranker", {"weight_vector": 1.2, "weight_fts": 0.5}),
        ("MRRReranker", {"weight_vector": 0.3, "weight_fts": 0.3}),
        ("RRFReranker", {"return_score": "everything"}),
        ("CohereReranker", {"return_score": "scores", "api_key": KEY}),
    ],
)
def test_constructor_errors_keep_lancedb_s_words(name, args):
    with pytest.raises(ValueError) as theirs:
        getattr(lance, name)(**args)
    with pytest.raises(rerankit.ConfigError) as mine:
        getattr(ours, name)(**args)
    assert str(theirs.value).rstrip(".") in str(mine.value)
    assert str(mine.value) != str(theirs.value)  # followed by what was given


def test_missing_api_key_keeps_lancedb_s_words(monkeypatch):
    for var in ("CO_API_KEY", "COHERE_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    for name, var in [("CohereReranker", "COHERE_API_KEY"), ("JinaReranker", "JINA_API_KEY"),
                      ("VoyageAIReranker", "VOYAGE_API_KEY")]:
        args = {"model_name": "rerank-2.5"} if name == "VoyageAIReranker" else {}
        with pytest.raises(rerankit.AuthenticationError, match=f"^{var} not set. .*pass api_key="):
            getattr(ours, name)(**args)  # at construction; LanceDB raises on the first query


@pytest.mark.parametrize("name", ["RRFReranker", "MRRReranker"])
def test_multivector_input_errors_keep_lancedb_s_words(name):
    no_rowid = [pa.table({"text": ["a"], "_distance": pa.array([0.1], pa.float32())})]
    for bad, words in [([], "vector_results must not be empty"), (no_rowid, "'_rowid' is required")]:
        with pytest.raises(ValueError, match=words):
            getattr(lance, name)().rerank_multivector(bad)
        with pytest.raises(rerankit.InputError, match=words):
            getattr(ours, name)().rerank_multivector(bad)
        with pytest.raises(rerankit.InputError, match=words):
            to_lancedb(KIND[name][0]).rerank_multivector(bad)


# -- fusion: the same rows, order and scores through every public method ----------------------
def search_results(rng: np.random.Generator, pool: int = 60) -> tuple[pa.Table, pa.Table]:
    """A vector and a full-text result set as searches return them: sorted, overlapping, with ties."""
    sizes = rng.integers(0, 25, size=2)
    vec_ids = rng.choice(pool, size=sizes[0], replace=False)
    fts_ids = rng.choice(pool, size=sizes[1], replace=False)
    dists = np.sort(np.round(rng.random(sizes[0]), 1))  # rounding: ties are common
    scores = np.sort(np.round(rng.random(sizes[1]) * 10, 0))[::-1]
    vector = pa.table({
        "_rowid": pa.array(vec_ids, pa.uint64()), "text": [f"doc {i}" for i in vec_ids],
        "side": [int(i) * 2 for i in vec_ids], "_distance": pa.array(dists, pa.float32()),
    })
    fts = pa.table({
        "_rowid": pa.array(fts_ids, pa.uint64()), "text": [f"doc {i}" for i in fts_ids],
        "_score": pa.array(scores, pa.float32()),
    })
    return vector, fts


SEEDS = range(25)
FUSION_ARGS = [
    ("RRFReranker", {}),
    ("RRFReranker", {"K": 3, "return_score": "all"}),
    ("LinearCombinationReranker", {}),
    ("LinearCombinationReranker", {"weight": 0.3, "fill": 0.6, "return_score": "all"}),
    ("MRRReranker", {}),
    ("MRRReranker", {"weight_vector": 0.9, "weight_fts": 0.1, "return_score": "all"}),
]


def nan_to_null(column: pa.ChunkedArray) -> list[Any]:
    return [None if v is None or v != v else v for v in column.to_pylist()]


def assert_same_table(mine: pa.Table, theirs: pa.Table, *, both_scores_kept: bool = False) -> None:
    """Same columns, rows, order and values; floats within float32 rounding. Where we differ on
    purpose: LanceDB writes NaN for a score a row never had, rerankit null; LanceDB drops the
    columns of an empty side, rerankit keeps them (all null); ``both_scores_kept``: LanceDB lost
    the full-text score of rows both searches found, rerankit kept it."""
    extra = set(mine.column_names) - set(theirs.column_names)
    assert set(theirs.column_names) <= set(mine.column_names)
    assert all(mine[name].null_count == mine.num_rows for name in extra), extra
    assert mine["_rowid"].to_pylist() == theirs["_rowid"].to_pylist()
    for name in theirs.column_names:
        a, b = nan_to_null(mine[name]), nan_to_null(theirs[name])
        if name == "_score" and both_scores_kept:
            assert all(y is None or x == y for x, y in zip(a, b)) and a.count(None) <= b.count(None)
            continue
        if pa.types.is_floating(theirs.schema.field(name).type):
            assert [x is None for x in a] == [y is None for y in b], name
            np.testing.assert_allclose(
                [x for x in a if x is not None], [y for y in b if y is not None], rtol=1e-6, atol=1e-7, err_msg=name
            )
        else:
            assert a == b, name


@pytest.mark.parametrize(("name", "args"), FUSION_ARGS)
def test_rerank_hybrid_equals_lancedb(name, args):
    theirs, mine = getattr(lance, name)(**args), getattr(ours, name)(**args)
    rng = np.random.default_rng(1)
    for _ in SEEDS:
        vector, fts = search_results(rng)
        if not (vector.num_rows or fts.num_rows):
            continue
        expected = theirs.rerank_hybrid("q", vector, fts)
        lost_fts_score = name != "LinearCombinationReranker"  # LanceDB's RRF/MRR keep the vector row only
        assert_same_table(mine.rerank_hybrid("q", vector, fts), expected, both_scores_kept=lost_fts_score)
        assert_same_table(
            to_lancedb(mine.reranker).rerank_hybrid("q", vector, fts), expected, both_scores_kept=lost_fts_score
        )


@pytest.mark.parametrize("args", [a for n, a in FUSION_ARGS if n == "LinearCombinationReranker"])
def test_linear_merge_results_with_fill_equals_lancedb(args):
    theirs, mine = lance.LinearCombinationReranker(**args), ours.LinearCombinationReranker(**args)
    wrapped = to_lancedb("linear", **args)
    rng = np.random.default_rng(2)
    checked = 0
    for _ in SEEDS:
        vector, fts = search_results(rng)
        if not (vector.num_rows or fts.num_rows):
            continue
        for fill in (1.0, 0.25, 0.0):
            expected = theirs.merge_results(vector, fts, fill)
            assert_same_table(mine.merge_results(vector, fts, fill), expected)
            assert_same_table(wrapped.merge_results(vector, fts, fill), expected)
            checked += 1
        assert_same_table(mine.merge_results(vector, fts), theirs.merge_results(vector, fts, mine.fill))
    assert checked > 40
    assert mine.fill == args.get("fill", 1.0)  # merge_results(..., fill) leaves the reranker's own


@pytest.mark.parametrize("name", ["RRFReranker", "MRRReranker"])
def test_base_merge_results_equals_lancedb(name):
    theirs, mine = getattr(lance, name)(), getattr(ours, name)()
    rng = np.random.default_rng(3)
    for _ in SEEDS:
        vector, fts = search_results(rng)
        if not (vector.num_rows and fts.num_rows):
            continue
        assert_same_table(mine.merge_results(vector, fts), theirs.merge_results(vector, fts), both_scores_kept=True)


@pytest.mark.parametrize(("name", "args"), [(n, a) for n, a in FUSION_ARGS if n != "LinearCombinationReranker"])
def test_rerank_multivector_equals_lancedb(name, args):
    theirs, mine = getattr(lance, name)(**args), getattr(ours, name)(**args)
    rng = np.random.default_rng(4)
    for i in SEEDS:
        tables = [search_results(rng)[0] for _ in range(1 + i % 4)]
        if not any(t.num_rows for t in tables):
            continue
        for call in ({}, {"deduplicate": True}, {"deduplicate": False}):
            expected = theirs.rerank_multivector(tables, None, **call)
            assert_same_table(mine.rerank_multivector(tables, None, **call), expected)
            assert_same_table(mine.rerank_multivector(tables, **call), expected)


@pytest.mark.parametrize(("name", "args"), FUSION_ARGS)
def test_single_list_methods_lancedb_leaves_unimplemented_are_defined(name, args):
    """LanceDB's fusion classes raise NotImplementedError for rerank_vector and rerank_fts (and
    linear for rerank_multivector); ours rank the one list (README, "Deliberate differences")."""
    theirs, mine = getattr(lance, name)(**args), getattr(ours, name)(**args)
    rng = np.random.default_rng(5)
    vector, fts = search_results(rng)
    while not (vector.num_rows and fts.num_rows):
        vector, fts = search_results(rng)
    with pytest.raises(NotImplementedError):
        theirs.rerank_vector("q", vector)
    with pytest.raises(NotImplementedError):
        theirs.rerank_fts("q", fts)
    out = mine.rerank_vector("q", vector)
    assert out["_rowid"].to_pylist() == vector["_rowid"].to_pylist()  # a search's own order is kept
    assert mine.rerank_fts("q", fts)["_rowid"].to_pylist() == fts["_rowid"].to_pylist()
    if name == "LinearCombinationReranker":
        with pytest.raises(NotImplementedError):
            theirs.rerank_multivector([vector], "q")
        np.testing.assert_allclose(out["_relevance_score"].to_numpy(), 1 - vector["_distance"].to_numpy(), rtol=1e-6)
        assert mine.rerank_multivector([vector], "q")["_rowid"].to_pylist() == vector["_rowid"].to_pylist()


def test_hybrid_on_two_empty_sides_gives_an_empty_scored_table():
    empty_v = pa.table({"_rowid": pa.array([], pa.uint64()), "text": pa.array([], pa.string()),
                        "_distance": pa.array([], pa.float32())})
    empty_f = pa.table({"_rowid": pa.array([], pa.uint64()), "text": pa.array([], pa.string()),
                        "_score": pa.array([], pa.float32())})
    for name in FUSION:
        out = getattr(ours, name)().rerank_hybrid("q", empty_v, empty_f)
        assert out.num_rows == 0 and out.schema.field("_relevance_score").type == pa.float32()
