"""LLM rerankers through the crossencoder plugin: tiny Qwen3, Qwen2 (mxbai-v2), Gemma (BGE) and T5
(MonoT5) checkpoints saved to disk, loaded by path through ``rerankit.get_reranker``, and checked
against references written here from each family's official code (full prompt token ids, scores
within 1e-5), against the official ``mxbai-rerank`` package, and against sentence-transformers'
``CrossEncoder`` with ``LogitScore`` for a Qwen3-style checkpoint in its format.

FlagEmbedding (BGE's official code) installs beside our pins but cannot be imported with
transformers 5 (``ModuleNotFoundError: No module named 'transformers.modeling_attn_mask_utils'``,
from its MiniCPM layerwise model), so the BGE recipe is checked against the reference below only.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest
import torch
from rerankit_crossencoder.recipes import BGE_PROMPT, MONOT5, MXBAI_TASK, QWEN3

import rerankit
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS
from tests.plugins.crossencoder.generative_models import INSTRUCTION, LONG_TEXT, QUERIES

TOL = dict(rtol=1e-5, atol=1e-5)


def scores(path: str, texts=TEXTS, query: str = QUERY, **options) -> np.ndarray:
    out = rerankit.get_reranker("crossencoder", model_name=path, **options).rerank(
        query, [{"id": i, "text": t} for i, t in enumerate(texts)]
    )
    by_id = dict(zip(out["id"].to_pylist(), out["_relevance_score"].to_pylist(), strict=True))
    return np.array([by_id[i] for i in range(len(texts))])


class Reference:
    """One unpadded forward pass per prompt, full vocabulary logits, as the model cards do."""

    def __init__(self, path: str, seq2seq: bool = False) -> None:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(path)
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        self.model = auto.from_pretrained(path).eval()
        self.seq2seq = seq2seq

    def ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    @torch.no_grad()
    def last_logits(self, ids: list[int]) -> torch.Tensor:
        x = torch.tensor([ids])
        if self.seq2seq:
            start = torch.tensor([[self.model.config.decoder_start_token_id]])
            return self.model(input_ids=x, decoder_input_ids=start).logits[0, -1]
        return self.model(input_ids=x).logits[0, -1]


# -- Qwen3-Reranker ----------------------------------------------------------------------------
def qwen3_reference(ref: Reference, query: str, doc: str, instruction: str, max_length: int = 8192):
    """README.md of QwenLM/Qwen3-Embedding: format_instruction, process_inputs, compute_logits."""
    prefix, suffix = ref.ids(QWEN3.prefix), ref.ids(QWEN3.suffix[0])
    body = f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"
    ids = prefix + ref.tok(body)["input_ids"][: max_length - len(prefix) - len(suffix)] + suffix
    logits = ref.last_logits(ids)
    yes, no = ref.tok.convert_tokens_to_ids("yes"), ref.tok.convert_tokens_to_ids("no")
    pair = torch.log_softmax(torch.stack([logits[no], logits[yes]]), dim=0)
    return ids, float(pair[1].exp()), float(logits[yes] - logits[no])


def test_qwen3_prompt_ids_and_scores_equal_the_model_card_code(qwen3_model):
    ref = Reference(qwen3_model)
    reranker = rerankit.get_reranker("crossencoder", model_name=qwen3_model)
    assert reranker.scorer.recipe == "qwen3"  # from the checkpoint's name
    rows, _ = reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS)
    want = [qwen3_reference(ref, QUERY, t, QWEN3.default_instruction) for t in TEXTS]
    assert rows == [w[0] for w in want]
    np.testing.assert_allclose(scores(qwen3_model), [w[1] for w in want], **TOL)
    np.testing.assert_allclose(scores(qwen3_model, activation="raw"), [w[2] for w in want], **TOL)
    assert np.ptp([w[1] for w in want]) > 0.01, "the tiny model must tell the texts apart"
    # the instruction option is written into the prompt
    custom = [qwen3_reference(ref, QUERY, t, INSTRUCTION)[1] for t in TEXTS]
    np.testing.assert_allclose(scores(qwen3_model, instruction=INSTRUCTION), custom, **TOL)
    assert not np.allclose(custom, [w[1] for w in want], atol=1e-4)


def test_qwen3_equals_sentence_transformers_logit_score_checkpoint(qwen3_st_model):
    from sentence_transformers import CrossEncoder

    official = CrossEncoder(qwen3_st_model).predict([[QUERY, t] for t in TEXTS])  # sigmoid(yes - no)
    detected = rerankit.get_reranker("crossencoder", model_name=qwen3_st_model)
    assert detected.scorer.recipe == "sequence-classification"  # its own template, via LogitScore
    np.testing.assert_allclose(scores(qwen3_st_model), official, **TOL)
    np.testing.assert_allclose(scores(qwen3_st_model, recipe="qwen3"), official, **TOL)


def test_seq_cls_conversion_equals_p_yes_of_the_causal_checkpoint(qwen3_model, qwen3_seq_cls_model):
    converted = rerankit.get_reranker("crossencoder", model_name=qwen3_seq_cls_model)
    assert converted.scorer.recipe == "qwen3" and converted.scorer.model.head == "classifier"
    np.testing.assert_allclose(scores(qwen3_seq_cls_model), scores(qwen3_model), **TOL)
    np.testing.assert_allclose(
        scores(qwen3_seq_cls_model, activation="raw"), scores(qwen3_model, activation="raw"), **TOL
    )


def test_long_document_is_cut_in_the_middle_and_keeps_the_suffix(qwen3_model, caplog):
    ref = Reference(qwen3_model)
    max_length = 160
    reranker = rerankit.get_reranker("crossencoder", model_name=qwen3_model, max_length=max_length)
    model = reranker.scorer.model
    texts = [LONG_TEXT, TEXTS[0]]
    rows, cut = model.encode([QUERY, QUERY], texts)
    prefix, suffix = ref.ids(QWEN3.prefix), ref.ids(QWEN3.suffix[0])
    assert len(rows[0]) == max_length and cut.tolist() == [True, False]
    assert rows[0][: len(prefix)] == prefix and rows[0][-len(suffix) :] == suffix
    assert rows[0][len(prefix) : -len(suffix)] == ref.tok(
        f"<Instruct>: {QWEN3.default_instruction}\n<Query>: {QUERY}\n<Document>: {LONG_TEXT}"
    )["input_ids"][: max_length - len(prefix) - len(suffix)]
    with caplog.at_level(logging.WARNING, logger="rerankit.crossencoder"):
        got = scores(qwen3_model, texts, max_length=max_length)
    want = [qwen3_reference(ref, QUERY, t, QWEN3.default_instruction, max_length)[1] for t in texts]
    np.testing.assert_allclose(got, want, **TOL)
    assert "1 of 2 query-text pairs were longer than max_length=160" in caplog.text

    # the room the template leaves for a document is exact: that many tokens fit, one more is cut
    room = reranker.scorer.document_room(QUERY)
    words = LONG_TEXT.split(" ")
    assert 0 < room < max_length
    fits, over = " ".join(words[: (room + 1) // 2]), " ".join(words[: (room + 3) // 2])
    assert len(ref.ids(fits)) <= room < len(ref.ids(over))
    assert model.encode([QUERY, QUERY], [fits, over])[1].tolist() == [False, True]



@pytest.mark.parametrize("fixture", ["qwen3_model", "mxbai_model"])
def test_passages_fit_the_recipe_prompt_and_nothing_is_truncated(fixture, request, caplog):
    """With passages, the recipe's template and query reserve their share: every passage fits its
    prompt uncut, and the longest nearly fills it (document_room is exact or one short)."""
    path = request.getfixturevalue(fixture)
    max_length = 200
    reranker = rerankit.get_reranker(
        "crossencoder", model_name=path, max_length=max_length, passages={"max_passages": None},
        return_passage=True,
    )
    sent: list[str] = []
    score = reranker.scorer.score
    reranker.scorer.score = lambda query, texts: sent.extend(texts) or score(query, texts)
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        out = reranker.rerank(QUERY, [LONG_TEXT, TEXTS[0]])
    assert caplog.text == "" and reranker.scorer.truncated_total == 0
    _, cut = reranker.scorer.model.encode([QUERY] * len(sent), sent)
    assert not cut.any() and len(sent) >= 3
    room = reranker.scorer.document_room(QUERY)
    assert room - 2 <= max(reranker.scorer.length_measure().counts(sent)) <= room
    for row in out.to_pylist():
        assert row["text"][row["_passage_start"] : row["_passage_end"]] == row["_passage"]

# -- mxbai-rerank-v2 ---------------------------------------------------------------------------
def mxbai_official(path: str, **kwargs):
    """The mxbai-rerank package's MxbaiRerankV2. Its prepare_inputs calls the tokenizer's
    ``prepare_for_model``, which transformers 5 removed; the stand-in below does what that call
    did for its arguments (ids joined, the second part cut from its end to ``max_length``,
    no special tokens). Everything else (prompt parts, query and document caps, templates,
    padding, the yes - no logit) is the package's own code."""
    from mxbai_rerank import MxbaiRerankV2

    official = MxbaiRerankV2(path, device="cpu", torch_dtype=torch.float32, **kwargs)

    def prepare_for_model(ids, pair_ids, *, truncation, max_length, add_special_tokens, **_):
        assert truncation == "only_second" and add_special_tokens is False
        return {"input_ids": ids + pair_ids[: max(0, max_length - len(ids))]}

    object.__setattr__(official.tokenizer, "prepare_for_model", prepare_for_model)
    return official


@pytest.mark.parametrize("instruction", [None, INSTRUCTION])
def test_mxbai_v2_equals_the_mxbai_rerank_package(mxbai_model, instruction):
    official = mxbai_official(mxbai_model)
    want = official.predict([QUERY] * len(TEXTS), TEXTS, instruction=instruction).numpy()
    options = {"instruction": instruction} if instruction else {}
    reranker = rerankit.get_reranker("crossencoder", model_name=mxbai_model, **options)
    assert reranker.scorer.recipe == "mxbai-v2"
    np.testing.assert_allclose(scores(mxbai_model, **options), want, **TOL)  # raw l("1") - l("0")
    np.testing.assert_allclose(scores(mxbai_model, activation="sigmoid", **options), 1 / (1 + np.exp(-want)), **TOL)
    # the same token ids, padding aside
    batch = official.prepare_inputs([QUERY] * len(TEXTS), TEXTS, instruction=instruction)
    theirs = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True)]
    assert reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS, instruction)[0] == theirs
    assert np.ptp(want) > 0.05


def test_mxbai_v2_truncation_equals_the_package(mxbai_model):
    official = mxbai_official(mxbai_model, max_length=96)
    texts = [LONG_TEXT, TEXTS[0]]
    want = official.predict([QUERY, QUERY], texts).numpy()
    np.testing.assert_allclose(scores(mxbai_model, texts, max_length=96), want, **TOL)
    rows = rerankit.get_reranker("crossencoder", model_name=mxbai_model, max_length=96).scorer.model.encode(
        [QUERY, QUERY], texts
    )[0]
    assert rows[0][-len(official.chat_template_suffix_inputs) :] == official.chat_template_suffix_inputs


# -- BGE gemma ---------------------------------------------------------------------------------
def test_bge_gemma_prompt_ids_and_raw_yes_logit(bge_model):
    ref = Reference(bge_model)
    reranker = rerankit.get_reranker("crossencoder", model_name=bge_model)
    assert reranker.scorer.recipe == "bge-gemma"
    yes = ref.ids("Yes")[0]
    want_ids = [
        [ref.tok.bos_token_id, *ref.ids(f"A: {QUERY}"), *ref.ids("\n"), *ref.ids(f"B: {t}"),
         *ref.ids("\n"), *ref.ids(BGE_PROMPT)]
        for t in TEXTS
    ]
    assert reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS)[0] == want_ids
    want = [float(ref.last_logits(ids)[yes]) for ids in want_ids]
    np.testing.assert_allclose(scores(bge_model), want, **TOL)
    np.testing.assert_allclose(scores(bge_model, activation="sigmoid"), 1 / (1 + np.exp(-np.array(want))), **TOL)


# -- MonoT5 ------------------------------------------------------------------------------------
def test_monot5_found_by_architecture_and_scored_as_pygaggle(t5_model):
    ref = Reference(t5_model, seq2seq=True)
    reranker = rerankit.get_reranker("crossencoder", model_name=t5_model)
    assert reranker.scorer.recipe == "monot5"
    want_ids = [ref.tok(f"Query: {QUERY} Document: {t} Relevant:")["input_ids"] for t in TEXTS]
    assert reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS)[0] == want_ids
    true, false = ref.tok.convert_tokens_to_ids([MONOT5.true_token, MONOT5.false_token])
    want = []
    for ids in want_ids:
        logits = ref.last_logits(ids)
        want.append(float(torch.softmax(torch.stack([logits[false], logits[true]]), 0)[1]))
    np.testing.assert_allclose(scores(t5_model), want, **TOL)
    assert np.ptp(want) > 0.01


# -- every family ------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["qwen3_model", "mxbai_model", "bge_model", "t5_model", "qwen3_seq_cls_model"])
def test_batch_sizes_1_and_16_agree_across_queries(fixture, request):
    path = request.getfixturevalue(fixture)
    texts = [TEXTS, [LONG_TEXT[:300], *TEXTS[:5]], TEXTS[3:]]
    runs = []
    for size in (1, 16):
        scorer = rerankit.get_reranker("crossencoder", model_name=path, batch_size=size, max_length=96).scorer
        runs.append(np.concatenate(scorer.score_batch(QUERIES, texts)))
    np.testing.assert_allclose(runs[0], runs[1], **TOL)


def test_lancedb_cross_encoder_reranker_gets_the_recipes(qwen3_model):
    from rerankit.lancedb import CrossEncoderReranker

    table = pa.table({"text": TEXTS, "_score": np.linspace(1, 2, len(TEXTS)), "_rowid": np.arange(len(TEXTS))})
    out = CrossEncoderReranker(model_name=qwen3_model, instruction=INSTRUCTION).rerank_fts(QUERY, table)
    got = dict(zip(out["_rowid"].to_pylist(), out["_relevance_score"].to_pylist(), strict=True))
    want = scores(qwen3_model, instruction=INSTRUCTION)
    np.testing.assert_allclose([got[i] for i in range(len(TEXTS))], want, **TOL)


# -- errors ------------------------------------------------------------------------------------
def test_an_unclassifiable_causal_lm_is_refused_naming_the_recipe_option(plain_causal_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=str(plain_causal_model))
    with pytest.raises(rerankit.ConfigError, match="recipe='qwen3'") as info:
        reranker.rerank(QUERY, TEXTS)
    assert "near-random" in str(info.value)
    with pytest.raises(rerankit.ConfigError, match="not a sequence-classification"):
        rerankit.get_reranker(
            "crossencoder", model_name=str(plain_causal_model), recipe="sequence-classification"
        ).rerank(QUERY, TEXTS)
    with pytest.raises(rerankit.ConfigError, match="needs a T5 model"):
        rerankit.get_reranker("crossencoder", model_name=str(plain_causal_model), recipe="monot5").rerank(QUERY, TEXTS)
    # named, it is scored by that recipe
    named = rerankit.get_reranker("crossencoder", model_name=str(plain_causal_model), recipe="qwen3")
    assert named.scorer.recipe == "qwen3"


def test_options_are_checked(bge_model):
    with pytest.raises(rerankit.ConfigError, match="instruction"):
        rerankit.get_reranker("crossencoder", model_name="x", recipe="bge-gemma", instruction="find")
    with pytest.raises(rerankit.ConfigError, match="recipe"):
        rerankit.get_reranker("crossencoder", model_name="x", recipe="qwen")
    with pytest.raises(rerankit.ConfigError, match="quantize"):
        rerankit.get_reranker("crossencoder", model_name="x", recipe="qwen3", quantize="int8")
    with pytest.raises(rerankit.ConfigError, match="instruction"):
        rerankit.get_reranker("crossencoder", model_name="x", instruction="")
    detected = rerankit.get_reranker("crossencoder", model_name=bge_model, instruction="find")
    with pytest.raises(rerankit.ConfigError, match="recipe='bge-gemma'; drop instruction"):
        detected.rerank(QUERY, TEXTS)


@pytest.mark.parametrize("fixture", ["qwen3_model", "mxbai_model", "bge_model", "qwen3_seq_cls_model"])
def test_max_length_above_the_model_positions_is_a_config_error(fixture, request):
    """As for cross-encoders: a max_length the model cannot take is refused, not silently lowered."""
    path = request.getfixturevalue(fixture)
    positions = 512  # the tiny models' max_position_embeddings
    reranker = rerankit.get_reranker("crossencoder", model_name=path, max_length=positions + 1)
    with pytest.raises(rerankit.ConfigError, match=rf"max_length={positions + 1} is above the {positions} token "
                       r"positions of model .*; set max_length to at most \d+"):
        reranker.rerank(QUERY, TEXTS)
    fits = rerankit.get_reranker("crossencoder", model_name=path, max_length=256)
    assert len(fits.rerank(QUERY, TEXTS)) == len(TEXTS)
    unset = rerankit.get_reranker("crossencoder", model_name=path)  # the recipe's default, capped
    assert unset.scorer.model.max_length <= positions


def test_recipe_and_instruction_are_part_of_the_config(qwen3_model):
    options = {"recipe": "qwen3", "instruction": INSTRUCTION}
    config = rerankit.get_reranker("crossencoder", model_name=qwen3_model, **options).config
    assert config.recipe == "qwen3" and config.instruction == INSTRUCTION
    assert MXBAI_TASK.endswith("\nRelevance:")
