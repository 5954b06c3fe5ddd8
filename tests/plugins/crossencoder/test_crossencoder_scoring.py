"""The crossencoder reranker end to end: tiny models saved to disk, loaded by path through
``rerankit.get_reranker``, checked against sentence-transformers' own ``CrossEncoder.predict``."""

from __future__ import annotations

import asyncio
import logging
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest
import rerankit_crossencoder
import torch
from sentence_transformers import CrossEncoder

import rerankit
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS


def direct(path: str, pairs: list[list[str]], **kwargs) -> np.ndarray:
    """What LanceDB's CrossEncoderReranker computes: CrossEncoder(path).predict(pairs)."""
    model_kwargs = {k: kwargs.pop(k) for k in ("max_length", "trust_remote_code") if k in kwargs}
    return CrossEncoder(path, **model_kwargs).predict(pairs, **kwargs)


def scores_by_id(table: pa.Table) -> dict[int, float]:
    return dict(zip(table["id"].to_pylist(), table["_relevance_score"].to_pylist(), strict=True))


def docs(texts=TEXTS, start: int = 0) -> list[dict]:
    return [{"id": start + i, "text": t} for i, t in enumerate(texts)]


def expected(path: str, texts=TEXTS, query: str = QUERY, **kwargs) -> np.ndarray:
    return direct(path, [[query, t] for t in texts], **kwargs)


# -- scores ------------------------------------------------------------------------------------
def test_scores_equal_direct_predict(tiny_model):
    out = rerankit.get_reranker("crossencoder", model_name=tiny_model).rerank(QUERY, docs())
    got = scores_by_id(out)
    want = expected(tiny_model)
    np.testing.assert_allclose([got[i] for i in range(len(TEXTS))], want, rtol=1e-5, atol=1e-6)
    assert np.ptp(want) > 0.05, (
        "the tiny model must tell the texts apart for the order checks to mean anything"
    )


def test_activation_auto_matches_predict_and_raw_or_sigmoid_are_explicit(tiny_model, identity_model):
    def run(path: str, activation: str) -> np.ndarray:
        out = rerankit.get_reranker("crossencoder", model_name=path, activation=activation).rerank(
            QUERY, docs()
        )
        got = scores_by_id(out)
        return np.array([got[i] for i in range(len(TEXTS))])

    logits = expected(tiny_model, activation_fn=torch.nn.Identity())
    # saved without an activation: predict (and so LanceDB) applies a sigmoid; 'auto' does the same
    np.testing.assert_allclose(run(tiny_model, "auto"), expected(tiny_model), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tiny_model, "auto"), 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tiny_model, "raw"), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tiny_model, "sigmoid"), 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    # saved with an identity activation (as the ms-marco models are): 'auto' returns logits
    np.testing.assert_allclose(run(identity_model, "auto"), expected(identity_model), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(identity_model, "auto"), logits, rtol=1e-5, atol=1e-6)


def test_batch_size_does_not_change_scores(tiny_model):
    texts = TEXTS * 3
    runs = []
    for size in (1, 5, 32):
        out = rerankit.get_reranker("crossencoder", model_name=tiny_model, batch_size=size).rerank(
            QUERY, docs(texts)
        )
        got = scores_by_id(out)
        runs.append(np.array([got[i] for i in range(len(texts))]))
    np.testing.assert_allclose(runs[0], runs[2], atol=1e-5)
    np.testing.assert_allclose(runs[1], runs[2], atol=1e-5)


def test_output_is_the_input_rows_sorted_by_score(tiny_model):
    table = pa.table(
        {
            "id": list(range(len(TEXTS))),
            "text": TEXTS,
            "meta": [f"m{i}" for i in range(len(TEXTS))],
            "_distance": [float(i) / 10 for i in range(len(TEXTS))],
        }
    )
    out = rerankit.get_reranker("crossencoder", model_name=tiny_model).rerank_vector(QUERY, table)
    assert out.num_rows == table.num_rows
    assert out.column_names == ["id", "text", "meta", "_relevance_score"]
    assert out.schema.field("_relevance_score").type == pa.float32()
    scores = out["_relevance_score"].to_numpy()
    assert np.all(np.diff(scores) <= 0)
    assert sorted(out["id"].to_pylist()) == list(range(len(TEXTS)))
    for row in out.to_pylist():  # every row unchanged, only the score added
        assert row["text"] == TEXTS[row["id"]] and row["meta"] == f"m{row['id']}"
    want = expected(tiny_model)
    np.testing.assert_array_equal(out["id"].to_numpy(), np.argsort(-want.astype(np.float32), kind="stable"))

    top = rerankit.get_reranker("crossencoder", model_name=tiny_model, top_n=3).rerank_vector(QUERY, table)
    assert top["id"].to_pylist() == out["id"].to_pylist()[:3]


# -- the LanceDB entry points ------------------------------------------------------------------
def _results(ids: list[int], score_column: str) -> pa.Table:
    return pa.table(
        {
            "_rowid": pa.array(ids, pa.uint64()),
            "text": [TEXTS[i] for i in ids],
            score_column: pa.array([float(k) for k in range(len(ids))], pa.float32()),
        }
    )


def _check_scores(out: pa.Table, tiny_model: str) -> None:
    ids = out["_rowid"].to_pylist()
    want = expected(tiny_model, [TEXTS[i] for i in ids])
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), want, rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(out["_relevance_score"].to_numpy()) <= 0)


def test_rerank_vector_and_fts(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model)
    vec = reranker.rerank_vector(QUERY, _results([0, 1, 2, 3, 4], "_distance"))
    assert "_distance" not in vec.column_names and vec.num_rows == 5
    _check_scores(vec, tiny_model)
    fts = reranker.rerank_fts(QUERY, _results([5, 6, 7], "_score"))
    assert "_score" not in fts.column_names and fts.num_rows == 3
    _check_scores(fts, tiny_model)

    keep = rerankit.get_reranker("crossencoder", model_name=tiny_model, return_score="all")
    vec_all = keep.rerank_vector(QUERY, _results([0, 1, 2, 3, 4], "_distance"))
    assert vec_all.column_names == ["_rowid", "text", "_distance", "_relevance_score"]
    assert dict(zip(vec_all["_rowid"].to_pylist(), vec_all["_distance"].to_pylist(), strict=True)) == {
        0: 0.0,
        1: 1.0,
        2: 2.0,
        3: 3.0,
        4: 4.0,
    }
    fts_all = keep.rerank_fts(QUERY, _results([5, 6, 7], "_score"))
    assert "_score" in fts_all.column_names


def test_rerank_hybrid_merges_by_rowid_and_keeps_both_scores(tiny_model):
    vector = _results([0, 1, 2, 3], "_distance")
    fts = _results([2, 3, 4, 5, 6], "_score")
    out = rerankit.get_reranker("crossencoder", model_name=tiny_model).rerank_hybrid(QUERY, vector, fts)
    assert sorted(out["_rowid"].to_pylist()) == [0, 1, 2, 3, 4, 5, 6]
    assert "_distance" not in out.column_names and "_score" not in out.column_names
    _check_scores(out, tiny_model)

    full = rerankit.get_reranker("crossencoder", model_name=tiny_model, return_score="all").rerank_hybrid(
        QUERY, vector, fts
    )
    rows = {r["_rowid"]: r for r in full.to_pylist()}
    assert rows[2]["_distance"] == 2.0 and rows[2]["_score"] == 0.0  # found by both searches
    assert rows[0]["_score"] is None and rows[6]["_distance"] is None  # found by one: null, not invented
    _check_scores(full, tiny_model)


def test_rerank_multivector(tiny_model):
    first = _results([0, 1, 2], "_distance")
    second = _results([2, 3, 4], "_distance")
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model)
    both = reranker.rerank_multivector([first, second], query=QUERY)
    assert sorted(both["_rowid"].to_pylist()) == [0, 1, 2, 2, 3, 4]
    _check_scores(both, tiny_model)
    unique = reranker.rerank_multivector([first, second], query=QUERY, deduplicate=True)
    assert sorted(unique["_rowid"].to_pylist()) == [0, 1, 2, 3, 4]
    _check_scores(unique, tiny_model)


def test_rerank_batch_and_async_agree_with_single_calls(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, batch_size=4)
    queries = [QUERY, "supersonic wing", "jet engine drag"]
    sets = [docs(TEXTS[:5]), docs(TEXTS[3:]), docs(TEXTS[::2])]
    batch = reranker.rerank_batch(queries, sets)
    abatch = asyncio.run(reranker.arerank_batch(queries, sets))
    for query, docs_, out, aout in zip(queries, sets, batch, abatch, strict=True):
        single = reranker.rerank(query, docs_)
        assert out["id"].to_pylist() == single["id"].to_pylist() == aout["id"].to_pylist()
        np.testing.assert_allclose(
            out["_relevance_score"].to_numpy(), single["_relevance_score"].to_numpy(), atol=1e-5
        )
    vec = _results([0, 1, 2, 3], "_distance")
    assert asyncio.run(reranker.arerank_vector(QUERY, vec)).equals(reranker.rerank_vector(QUERY, vec))


def test_reranker_pickles_by_name_and_config(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, top_n=4, activation="raw")
    clone = pickle.loads(pickle.dumps(reranker))
    assert clone.config == reranker.config
    assert clone.rerank(QUERY, docs()).equals(reranker.rerank(QUERY, docs()))


# -- input errors ------------------------------------------------------------------------------
def test_missing_column_is_a_typed_error_naming_the_column(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, column="body")
    with pytest.raises(rerankit.MissingColumnError) as info:
        reranker.rerank_vector(QUERY, _results([0, 1], "_distance"))
    assert info.value.column == "body"
    assert "no column 'body'" in str(info.value) and "columns: _rowid, text, _distance" in str(info.value)


def test_null_text_is_a_typed_error_naming_rows_and_fix(tiny_model):
    table = pa.table({"_rowid": pa.array([0, 1, 2], pa.uint64()), "text": ["the wing", None, "heat"]})
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model)
    with pytest.raises(rerankit.InputError) as info:
        reranker.rerank_fts(QUERY, table)
    message = str(info.value)
    assert "column 'text' has 1 null value(s) (rows [1])" in message and "fill_null" in message


def test_empty_query_is_rejected(tiny_model):
    with pytest.raises(rerankit.InputError, match="query must be a non-empty string"):
        rerankit.get_reranker("crossencoder", model_name=tiny_model).rerank("  ", docs())


# -- loading -----------------------------------------------------------------------------------
def test_trust_remote_code_is_off_unless_asked(remote_code_model, fresh_models):
    default = rerankit.get_reranker("crossencoder", model_name=remote_code_model)
    assert default.config.trust_remote_code is False
    with pytest.raises(rerankit.ConfigError) as info:
        default.rerank(QUERY, docs())
    assert "trust_remote_code" in str(info.value) and remote_code_model in str(info.value)
    assert rerankit_crossencoder.model_cache_info()["models"] == []

    trusted = rerankit.get_reranker(
        "crossencoder", model_name=remote_code_model, trust_remote_code=True, activation="raw"
    )
    scores = trusted.rerank(QUERY, docs())["_relevance_score"].to_numpy()
    assert np.all(scores > 90), "the model's own code (adding 100 to each logit) ran"


def test_model_loads_lazily_and_once_per_load_options(tiny_model, fresh_models):
    loads = rerankit_crossencoder.model_cache_info()["loads"]
    first = rerankit.get_reranker("crossencoder", model_name=tiny_model)
    assert rerankit_crossencoder.model_cache_info() == {"loads": loads, "models": []}
    first.rerank(QUERY, docs())
    assert rerankit_crossencoder.model_cache_info()["loads"] == loads + 1
    first.rerank(QUERY, docs())
    # options that do not change the weights share the loaded model
    second = rerankit.get_reranker(
        "crossencoder", model_name=tiny_model, batch_size=2, top_n=3, activation="raw", column="text"
    )
    second.rerank(QUERY, docs())
    assert rerankit_crossencoder.model_cache_info()["loads"] == loads + 1
    assert second.scorer.model is first.scorer.model
    # options that do change what is loaded get their own copy
    rerankit.get_reranker("crossencoder", model_name=tiny_model, max_length=32).rerank(QUERY, docs())
    assert rerankit_crossencoder.model_cache_info()["loads"] == loads + 2


def test_concurrent_threads_get_the_same_scores(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, batch_size=3)
    queries = [QUERY, "supersonic wing", "jet engine drag", "laminar plate"] * 4
    sequential = [reranker.rerank(q, docs()) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: reranker.rerank(q, docs()), queries))
    for a, b in zip(sequential, parallel, strict=True):
        assert a["id"].to_pylist() == b["id"].to_pylist()
        np.testing.assert_allclose(
            a["_relevance_score"].to_numpy(), b["_relevance_score"].to_numpy(), atol=1e-6
        )


def test_prompted_model_goes_through_predict(prompted_model, tiny_model):
    out = rerankit.get_reranker("crossencoder", model_name=prompted_model).rerank(QUERY, docs())
    got = scores_by_id(out)
    got = np.array([got[i] for i in range(len(TEXTS))])
    np.testing.assert_allclose(got, expected(prompted_model), rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, expected(tiny_model), atol=1e-4), "the saved prompt was applied"


def test_multi_label_model_is_rejected(two_label_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=two_label_model)
    with pytest.raises(rerankit.ConfigError, match="has 2 output labels"):
        reranker.rerank(QUERY, docs())


def test_unloadable_model_is_a_config_error(tmp_path):
    reranker = rerankit.get_reranker("crossencoder", model_name=str(tmp_path / "no-such-model"))
    with pytest.raises(rerankit.ConfigError, match="could not load cross-encoder"):
        reranker.rerank(QUERY, docs())


# -- truncation --------------------------------------------------------------------------------
def test_truncated_pairs_are_counted_in_one_warning(tiny_model, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    limit = 16

    def length(query: str, text: str) -> int:
        return len(tokenizer(query, text)["input_ids"])

    query = "heat transfer"  # [CLS] heat transfer [SEP] ... [SEP]: 5 tokens before the text
    fits_exactly = " ".join(["wing"] * (limit - 5))
    texts = [
        "the wing",
        fits_exactly,  # exactly at the limit: nothing is cut
        fits_exactly + "   \n",  # trailing whitespace is not content
        fits_exactly + " lift",  # one word over
        " ".join(["shock wave"] * 20),
        "thin body",
        "supersonic " * 30,
    ]
    pairs = [(query, t) for t in texts]
    pairs.append((" ".join(["boundary layer"] * 12), "heat"))  # the query is what gets cut
    assert length(query, fits_exactly) == limit
    want = sum(length(q, t) > limit for q, t in pairs)
    assert want == 4

    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, max_length=limit)
    caplog.set_level(logging.WARNING, logger="rerankit")
    reranker.rerank_batch([q for q, _ in pairs], [[t] for _, t in pairs])
    warnings = [r for r in caplog.records if r.name == "rerankit.crossencoder"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert (
        f"{want} of {len(pairs)} query-text pairs were longer than max_length={limit}"
        in warnings[0].getMessage()
    )
    assert reranker.scorer.truncated_total == want

    # scores are those of the truncated input, exactly as sentence-transformers computes them
    out = reranker.rerank(query, docs(texts))
    got = scores_by_id(out)
    want_scores = direct(tiny_model, [[query, t] for t in texts], max_length=limit)
    np.testing.assert_allclose([got[i] for i in range(len(texts))], want_scores, rtol=1e-5, atol=1e-6)

    caplog.clear()
    reranker.rerank(query, docs(["the wing", fits_exactly]))
    assert not [r for r in caplog.records if r.name == "rerankit.crossencoder"]


# -- precision and the fast CPU path -----------------------------------------------------------
def test_int8_quantization_quantizes_the_body_and_stays_close(tiny_model):
    base = rerankit.get_reranker("crossencoder", model_name=tiny_model, activation="raw")
    fast = rerankit.get_reranker("crossencoder", model_name=tiny_model, activation="raw", quantize="int8")
    a = scores_by_id(base.rerank(QUERY, docs()))
    b = scores_by_id(fast.rerank(QUERY, docs()))
    a = np.array([a[i] for i in range(len(TEXTS))])
    b = np.array([b[i] for i in range(len(TEXTS))])
    kinds = {name: type(m).__name__ for name, m in fast.scorer.model.hf.named_modules()}
    assert kinds["bert.encoder.layer.0.attention.self.query"] == "Linear"
    assert type(fast.scorer.model.hf.bert.encoder.layer[0].intermediate.dense).__module__.startswith(
        "torch.ao.nn.quantized"
    )
    assert type(fast.scorer.model.hf.classifier) is torch.nn.Linear  # the head stays float32
    assert type(base.scorer.model.hf.bert.encoder.layer[0].intermediate.dense) is torch.nn.Linear
    assert not np.array_equal(a, b)
    assert np.corrcoef(a, b)[0, 1] > 0.95
    assert fast.scorer.model.device.type == "cpu"


def test_bfloat16_on_cpu_stays_close_to_float32(tiny_model):
    a = scores_by_id(rerankit.get_reranker("crossencoder", model_name=tiny_model).rerank(QUERY, docs()))
    low = rerankit.get_reranker("crossencoder", model_name=tiny_model, dtype="bfloat16", device="cpu")
    b = scores_by_id(low.rerank(QUERY, docs()))
    assert next(low.scorer.model.hf.parameters()).dtype == torch.bfloat16
    np.testing.assert_allclose(
        [b[i] for i in range(len(TEXTS))], [a[i] for i in range(len(TEXTS))], atol=0.03
    )


def test_float16_on_an_auto_detected_cpu_is_refused(tiny_model, monkeypatch, fresh_models):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, dtype="float16")
    with pytest.raises(rerankit.ConfigError, match=r"float16.*bfloat16"):
        reranker.rerank(QUERY, docs())
    assert rerankit_crossencoder.model_cache_info()["models"] == []


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_on_cuda_matches_float32(tiny_model, dtype):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (half precision runs on GPUs only)")
    ref = scores_by_id(
        rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cpu").rerank(QUERY, docs())
    )
    half = rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cuda", dtype=dtype)
    got = scores_by_id(half.rerank(QUERY, docs()))
    assert half.scorer.model.device.type == "cuda"
    assert next(half.scorer.model.hf.parameters()).dtype == getattr(torch, dtype)
    np.testing.assert_allclose(
        [got[i] for i in range(len(TEXTS))], [ref[i] for i in range(len(TEXTS))], atol=0.03
    )


# -- packaging ---------------------------------------------------------------------------------
def test_registered_through_the_entry_point():
    info = {i.name: i for i in rerankit.list_rerankers()}["crossencoder"]
    assert info.kind == "scorer" and info.distribution == "rerankit-crossencoder" and info.status == "ok"
    assert issubclass(info.config, rerankit_crossencoder.CrossEncoderConfig)  # plus the scoring path's options


def test_import_and_construction_do_not_import_torch(tiny_model):
    code = (
        "import sys, rerankit, rerankit_crossencoder\n"
        f"r = rerankit.get_reranker('crossencoder', model_name={tiny_model!r})\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "r.rerank('heat', ['the wing'])\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = done.stdout.strip().splitlines()
    assert before == "[]"
    assert after == "['sentence_transformers', 'torch', 'transformers']"  # the check can tell
