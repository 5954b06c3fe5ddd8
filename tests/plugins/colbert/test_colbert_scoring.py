"""ColBERT scores end to end: tiny checkpoints in both layouts, saved to disk, loaded by path through
``rerankit.get_reranker``, checked against the naive per-token reference in reference.py."""

from __future__ import annotations

import asyncio
import logging
import pickle
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import rerankit_colbert
import torch

import rerankit
from tests.plugins.colbert.colbert_models import QUERY, TEXTS
from tests.plugins.colbert.reference import NaiveColbert

LAYOUTS = ["stanford", "stanford_attend", "stanford_punct", "pylate", "pylate_plain"]


def docs(texts=TEXTS) -> list[dict]:
    return [{"id": i, "text": t} for i, t in enumerate(texts)]


def in_order(table: pa.Table, n: int) -> np.ndarray:
    got = dict(zip(table["id"].to_pylist(), table["_relevance_score"].to_pylist(), strict=True))
    return np.array([got[i] for i in range(n)])


def scores(path, texts=TEXTS, query=QUERY, name="colbert", **options) -> np.ndarray:
    reranker = rerankit.get_reranker(name, model_name=str(path), **options)
    return in_order(reranker.rerank(query, docs(texts)), len(texts))


# -- the scores are the reference's ----------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
def test_maxsim_equals_the_naive_reference(layout, request):
    tiny = request.getfixturevalue(layout)
    want = NaiveColbert(tiny).scores(QUERY, TEXTS)
    np.testing.assert_allclose(scores(tiny, batch_size=5), want, rtol=1e-5, atol=1e-5)
    assert np.ptp(want) > 0.1, "the tiny model must tell the texts apart for the checks to mean anything"


def test_attending_to_mask_tokens_follows_the_checkpoint(stanford, stanford_attend):
    # same weights, only artifact.metadata's attend_to_mask_tokens differs
    plain, attend = scores(stanford), scores(stanford_attend)
    assert np.abs(plain - attend).max() > 1e-3
    np.testing.assert_allclose(attend, NaiveColbert(stanford_attend).scores(QUERY, TEXTS), atol=1e-5)


def test_punctuation_is_masked_in_documents_only_when_the_checkpoint_says_so(stanford, stanford_punct):
    masked, kept = scores(stanford), scores(stanford_punct)  # same weights; mask_punctuation on / off
    has_punct = np.array([any(c in t for c in ",;!().") for t in TEXTS])
    np.testing.assert_allclose(masked[~has_punct], kept[~has_punct], atol=1e-6)
    assert np.abs(masked[has_punct] - kept[has_punct]).max() > 1e-4
    # query punctuation always counts: a comma in the query changes its scores either way
    assert np.abs(scores(stanford, query=QUERY + " ,") - masked).max() > 1e-4


def test_own_skiplist_words_are_left_out(pylate_plain):
    # this checkpoint skips 'the' and ',' (not '.'): compare documents differing only in those
    texts = ["wing lift", "the wing lift", "wing, lift", "wing. lift"]
    got = scores(pylate_plain, texts)
    np.testing.assert_allclose(got, NaiveColbert(pylate_plain).scores(QUERY, texts), atol=1e-5)
    assert len({round(v, 4) for v in got}) == 4  # skipped tokens still shape the others through attention


@pytest.mark.parametrize("layout", ["stanford", "pylate"])
def test_batch_sizes_agree(layout, request):
    tiny = request.getfixturevalue(layout)
    texts = TEXTS * 2
    np.testing.assert_allclose(scores(tiny, texts, batch_size=1), scores(tiny, texts, batch_size=16), atol=1e-5)


def test_lengths_can_be_overridden(stanford):
    got = scores(stanford, query_max_length=8, doc_max_length=10)
    np.testing.assert_allclose(
        got, NaiveColbert(stanford, query_length=8, doc_length=10).scores(QUERY, TEXTS), atol=1e-5
    )
    assert np.abs(got - scores(stanford)).max() > 1e-3
    with pytest.raises(rerankit.ConfigError, match="doc_max_length=100 exceeds the 64 positions"):
        scores(stanford, doc_max_length=100)


def test_checkpoint_lengths_beyond_the_positions_are_capped(tmp_path):
    from tests.plugins.colbert.colbert_models import build_stanford

    tiny = build_stanford(tmp_path / "long", doc_maxlen=300)  # COLBERT.md point 8: 64 positions here
    texts = [" ".join(["wing lift"] * 40), "the wing"]
    np.testing.assert_allclose(scores(tiny, texts), NaiveColbert(tiny, doc_length=64).scores(QUERY, texts), atol=1e-5)


# -- output and entry points -----------------------------------------------------------------------
def _results(ids: list[int], score_column: str) -> pa.Table:
    return pa.table(
        {
            "_rowid": pa.array(ids, pa.uint64()),
            "text": [TEXTS[i] for i in ids],
            score_column: pa.array([float(k) for k in range(len(ids))], pa.float32()),
        }
    )


def _check(out: pa.Table, tiny) -> None:
    want = NaiveColbert(tiny).scores(QUERY, [TEXTS[i] for i in out["_rowid"].to_pylist()])
    np.testing.assert_allclose(out["_relevance_score"].to_numpy(), want, rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(out["_relevance_score"].to_numpy()) <= 0)
    assert out.schema.field("_relevance_score").type == pa.float32()


def test_vector_fts_hybrid_and_multivector(stanford):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford))
    vec = reranker.rerank_vector(QUERY, _results([0, 1, 2, 3, 4], "_distance"))
    assert vec.column_names == ["_rowid", "text", "_relevance_score"]
    _check(vec, stanford)
    fts = reranker.rerank_fts(QUERY, _results([5, 6, 7], "_score"))
    assert "_score" not in fts.column_names
    _check(fts, stanford)
    hybrid = reranker.rerank_hybrid(QUERY, _results([0, 1, 2, 3], "_distance"), _results([2, 3, 4, 5], "_score"))
    assert sorted(hybrid["_rowid"].to_pylist()) == [0, 1, 2, 3, 4, 5]
    _check(hybrid, stanford)
    both = reranker.rerank_multivector([_results([0, 1, 2], "_distance"), _results([2, 3], "_distance")], query=QUERY)
    assert sorted(both["_rowid"].to_pylist()) == [0, 1, 2, 2, 3]
    _check(both, stanford)
    unique = reranker.rerank_multivector(
        [_results([0, 1, 2], "_distance"), _results([2, 3], "_distance")], query=QUERY, deduplicate=True
    )
    assert sorted(unique["_rowid"].to_pylist()) == [0, 1, 2, 3]


def test_return_score_all_keeps_both_scores(stanford):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), return_score="all", top_n=4)
    out = reranker.rerank_hybrid(QUERY, _results([0, 1, 2, 3], "_distance"), _results([2, 3, 4, 5], "_score"))
    assert out.num_rows == 4 and out.column_names == ["_rowid", "text", "_distance", "_score", "_relevance_score"]
    rows = {r["_rowid"]: r for r in out.to_pylist()}
    full = rerankit.get_reranker("colbert", model_name=str(stanford), return_score="all").rerank_hybrid(
        QUERY, _results([0, 1, 2, 3], "_distance"), _results([2, 3, 4, 5], "_score")
    )
    assert list(rows) == full["_rowid"].to_pylist()[:4]
    for r in full.to_pylist():
        assert (r["_distance"] is None) == (r["_rowid"] > 3) and (r["_score"] is None) == (r["_rowid"] < 2)
    _check(full, stanford)


def test_rerank_batch_and_async_agree_with_single_calls(pylate):
    reranker = rerankit.get_reranker("colbert", model_name=str(pylate), batch_size=4)
    queries = [QUERY, "supersonic wing", "jet engine drag"]
    sets = [docs(TEXTS[:5]), docs(TEXTS[3:]), docs(TEXTS[::2])]
    batch = reranker.rerank_batch(queries, sets)
    abatch = asyncio.run(reranker.arerank_batch(queries, sets))
    for query, rows, out, aout in zip(queries, sets, batch, abatch, strict=True):
        single = reranker.rerank(query, rows)
        assert out["id"].to_pylist() == single["id"].to_pylist() == aout["id"].to_pylist()
        np.testing.assert_allclose(out["_relevance_score"].to_numpy(), single["_relevance_score"].to_numpy(), atol=1e-5)


def test_answerdotai_scores_like_colbert_and_shares_its_model(stanford, fresh_models):
    a = scores(stanford, name="answerdotai")
    np.testing.assert_allclose(a, scores(stanford), atol=1e-6)
    assert rerankit_colbert.model_cache_info()["loads"] >= 1 and len(rerankit_colbert.model_cache_info()["models"]) == 1


def test_pickles_by_name_and_config(stanford):
    reranker = rerankit.get_reranker("answerdotai", model_name=str(stanford), top_n=3, doc_max_length=16)
    clone = pickle.loads(pickle.dumps(reranker))
    assert clone.config == reranker.config and clone.name == "answerdotai"
    assert clone.rerank(QUERY, docs()).equals(reranker.rerank(QUERY, docs()))


# -- loading ---------------------------------------------------------------------------------------
def test_loads_lazily_once_per_load_options(stanford, fresh_models):
    loads = rerankit_colbert.model_cache_info()["loads"]
    first = rerankit.get_reranker("colbert", model_name=str(stanford))
    assert rerankit_colbert.model_cache_info() == {"loads": loads, "models": []}
    first.rerank(QUERY, docs())
    second = rerankit.get_reranker(
        "answerdotai", model_name=str(stanford), batch_size=2, query_max_length=8, doc_max_length=12, top_n=3
    )
    second.rerank(QUERY, docs())
    assert rerankit_colbert.model_cache_info()["loads"] == loads + 1
    assert second.scorer.model is first.scorer.model
    rerankit.get_reranker("colbert", model_name=str(stanford), dtype="bfloat16", device="cpu").rerank(QUERY, docs())
    assert rerankit_colbert.model_cache_info()["loads"] == loads + 2


def test_bfloat16_on_cpu_stays_close(pylate):
    low = rerankit.get_reranker("colbert", model_name=str(pylate), dtype="bfloat16", device="cpu")
    got = in_order(low.rerank(QUERY, docs()), len(TEXTS))
    assert next(low.scorer.model.body.parameters()).dtype == torch.bfloat16
    np.testing.assert_allclose(got, scores(pylate), atol=0.1)


def test_float16_on_an_auto_detected_cpu_is_refused(stanford, monkeypatch, fresh_models):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), dtype="float16")
    with pytest.raises(rerankit.ConfigError, match=r"float16.*bfloat16"):
        reranker.rerank(QUERY, docs())
    assert rerankit_colbert.model_cache_info()["models"] == []


def test_a_plain_encoder_is_not_a_colbert_checkpoint(tmp_path):
    from tests.plugins.colbert.colbert_models import _body, write_tokenizer

    write_tokenizer(tmp_path)
    _body(0).save_pretrained(str(tmp_path))
    with pytest.raises(rerankit.ConfigError, match="is not a ColBERT checkpoint"):
        scores(tmp_path)


def test_a_marker_missing_from_the_vocabulary_is_refused(tmp_path):
    from tests.plugins.colbert.colbert_models import build_pylate

    tiny = build_pylate(tmp_path / "m", query_prefix="[Q] ")  # PyLate's fallback, never added here
    with pytest.raises(rerankit.ConfigError, match=r"query marker '\[Q\] ' is not in the tokenizer's vocabulary"):
        scores(tiny)


def test_trust_remote_code_is_off_unless_asked(tmp_path, fresh_models):
    import json

    from tests.plugins.colbert.colbert_models import build_stanford

    tiny = build_stanford(tmp_path / "remote")
    (tiny.path / "modeling_tiny.py").write_text(
        "from transformers import BertConfig, BertModel\n\n\n"
        "class TinyRemoteConfig(BertConfig):\n"
        "    model_type = 'tiny-remote'\n\n\n"
        "class TinyRemoteModel(BertModel):\n"
        "    config_class = TinyRemoteConfig\n\n"
        "    def forward(self, *args, **kwargs):\n"
        "        out = super().forward(*args, **kwargs)\n"
        "        out.last_hidden_state = out.last_hidden_state + 1.0\n"
        "        return out\n",
        encoding="utf-8",
    )
    config = json.loads((tiny.path / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "tiny-remote"
    config["auto_map"] = {"AutoConfig": "modeling_tiny.TinyRemoteConfig", "AutoModel": "modeling_tiny.TinyRemoteModel"}
    (tiny.path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(rerankit.ConfigError) as info:
        scores(tiny)
    assert "trust_remote_code" in str(info.value) and str(tiny.path) in str(info.value)
    assert rerankit_colbert.model_cache_info()["models"] == []
    got = scores(tiny, trust_remote_code=True)  # the model's own code (shifting the states) ran
    assert np.abs(got - NaiveColbert(tiny).scores(QUERY, TEXTS)).max() > 1e-3


def test_missing_model_is_a_config_error(tmp_path):
    with pytest.raises(rerankit.ConfigError, match="could not load ColBERT"):
        scores(tmp_path / "nowhere")


# -- truncation ------------------------------------------------------------------------------------
def test_truncated_texts_and_queries_are_counted_in_warnings(stanford, caplog):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), doc_max_length=8)
    # [CLS] [D] + 5 pieces + [SEP] fit in 8 tokens
    texts = ["wing lift drag heat flow", "wing lift drag heat flow   ", "wing lift drag heat flow jet", "a", "x " * 9]
    caplog.set_level(logging.WARNING, logger="rerankit")
    reranker.rerank(" ".join(["heat"] * 11), docs(texts))
    messages = [r.getMessage() for r in caplog.records if r.name == "rerankit.colbert"]
    assert messages == [
        f"colbert: 1 of 1 queries were longer than query_max_length=12 tokens and were truncated (model {stanford}); "
        "raise query_max_length or shorten the query",
        f"colbert: 2 of 5 texts were longer than doc_max_length=8 tokens and were truncated (model {stanford}); "
        "raise doc_max_length (the model has 64 positions) or split long texts; "
        "or set passages=True to score long texts in passages that fit, not cut",
    ]
    assert reranker.scorer.truncated_total == 3


def test_a_document_in_several_queries_lists_is_encoded_once(stanford, caplog):
    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), doc_max_length=8, batch_size=2)
    long_texts = [f"wing lift drag heat flow jet {word}" for word in ("a", "b", "c", "d")]  # each one cut
    sets = [docs(long_texts[:3]), docs(long_texts[1:]), docs(long_texts[::-1])]
    caplog.set_level(logging.WARNING, logger="rerankit")
    outs = reranker.rerank_batch(["heat", "wing", "drag"], sets)
    assert reranker.scorer.truncated_total == 4  # 4 distinct documents in 10 rows
    assert "4 of 4 texts were longer than doc_max_length=8" in caplog.text
    for query, rows, out in zip(["heat", "wing", "drag"], sets, outs, strict=True):
        single = reranker.rerank(query, rows)
        assert out["id"].to_pylist() == single["id"].to_pylist()
        np.testing.assert_allclose(out["_relevance_score"].to_numpy(), single["_relevance_score"].to_numpy(), atol=1e-5)


# -- packaging -------------------------------------------------------------------------------------
def test_registered_through_the_entry_point():
    info = {i.name: i for i in rerankit.list_rerankers()}
    configs = {"colbert": rerankit_colbert.ColbertConfig, "answerdotai": rerankit_colbert.AnswerdotaiConfig}
    for name, config in configs.items():
        assert info[name].kind == "scorer" and info[name].distribution == "rerankit-colbert"
        # the registered model is the plugin's own, with the scoring path's options added
        assert issubclass(info[name].config, config) and info[name].status == "ok"


def test_import_and_construction_do_not_import_torch(stanford):
    code = (
        "import sys, rerankit, rerankit_colbert\n"
        f"r = rerankit.get_reranker('colbert', model_name={str(stanford)!r})\n"
        "heavy = ('torch', 'transformers', 'safetensors')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "r.rerank('heat', ['the wing'])\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    before, after = done.stdout.strip().splitlines()
    assert before == "[]"
    assert after == "['safetensors', 'torch', 'transformers']"  # the check can tell
