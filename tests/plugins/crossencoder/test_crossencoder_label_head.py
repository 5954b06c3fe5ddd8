"""The label-row head of the LLM recipes: every family scores from its label tokens' rows of the
output head, with the scores of the full vocabulary head (within 1e-5); what a model does around
its head (T5's scaling of tied embeddings, Gemma 2's final soft-capping) is kept; a model that
does something across the whole vocabulary keeps its full head, and scores as before.

The references here run each tiny checkpoint loaded on its own, with its full head, one unpadded
prompt at a time, on the prompt ids rerankit builds (those are checked against each family's
official code in test_crossencoder_generative.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

import rerankit
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS
from tests.plugins.crossencoder.generative_models import LONG_TEXT, build_tokenizer

TOL = dict(rtol=1e-5, atol=1e-5)
LOGGER = "rerankit.crossencoder"


def full_head_raw(path: str, rows: list[list[int]], labels: list[int], seq2seq: bool, **load) -> np.ndarray:
    """The raw score (true logit, minus the false one where the recipe has it) from the model's
    full vocabulary logits at the last position."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    model = auto.from_pretrained(path, **load).eval()
    out = []
    with torch.no_grad():
        for ids in rows:
            x = torch.tensor([ids])
            if seq2seq:
                logits = model(input_ids=x, decoder_input_ids=torch.tensor([[model.config.decoder_start_token_id]]))
            else:
                logits = model(input_ids=x)
            last = logits.logits[0, -1]
            assert last.shape[0] > 2  # the reference's head is the full vocabulary
            out.append(float(last[labels[0]] - (last[labels[1]] if len(labels) > 1 else 0.0)))
    return np.array(out)


def labels_of(reranker) -> list[int]:
    model = reranker.scorer.model
    return [model.true_id] if model.false_id is None else [model.true_id, model.false_id]


def raw_scores(reranker, texts: list[str]) -> np.ndarray:
    return np.asarray(reranker.scorer.score(QUERY, texts))


@pytest.mark.parametrize("fixture", ["qwen3_model", "mxbai_model", "bge_model", "t5_model"])
def test_every_recipe_scores_from_its_label_rows_as_the_full_head_does(fixture, request, caplog, fresh_models):
    path = request.getfixturevalue(fixture)
    texts = [*TEXTS, LONG_TEXT[:400]]
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        reranker = rerankit.get_reranker("crossencoder", model_name=path, activation="raw", batch_size=4)
        got = raw_scores(reranker, texts)
    labels = labels_of(reranker)
    assert f"scoring from {len(labels)} label rows of the" in caplog.text
    rows, _ = reranker.scorer.model.encode([QUERY] * len(texts), texts)
    want = full_head_raw(path, rows, labels, seq2seq=fixture == "t5_model")
    np.testing.assert_allclose(got, want, **TOL)
    assert np.ptp(want) > 0.01, "the tiny model must tell the texts apart"


# -- Gemma 2: final logit soft-capping after the head ------------------------------------------
SOFTCAP = 0.5


@pytest.fixture(scope="module")
def gemma2_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny Gemma 2 named like BGE's gemma reranker, with a soft-cap small enough to matter."""
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    path = tmp_path_factory.mktemp("gemma2") / "bge-reranker-v2-gemma2-tiny"
    build_tokenizer(path, family="gemma")
    torch.manual_seed(3)
    config = Gemma2Config(
        vocab_size=len(AutoTokenizer.from_pretrained(str(path))), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
        max_position_embeddings=512, initializer_range=0.3, final_logit_softcapping=SOFTCAP,
        query_pre_attn_scalar=8, sliding_window=64, pad_token_id=0, eos_token_id=1, bos_token_id=2,
        tie_word_embeddings=True,
    )
    Gemma2ForCausalLM(config).eval().save_pretrained(str(path))
    return str(path)


def test_gemma2_soft_capping_is_kept_with_the_label_rows(gemma2_model, caplog, fresh_models):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        reranker = rerankit.get_reranker("crossencoder", model_name=gemma2_model, recipe="bge-gemma")
        got = raw_scores(reranker, TEXTS)
    assert "scoring from 1 label rows of the" in caplog.text
    rows, _ = reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS)
    want = full_head_raw(gemma2_model, rows, labels_of(reranker), seq2seq=False)
    np.testing.assert_allclose(got, want, **TOL)
    assert np.abs(got).max() < SOFTCAP and np.ptp(got) > 0.01  # the cap was applied, and the texts differ


# -- a model that normalizes over the whole vocabulary: the full head stays --------------------
NORMALIZED_CODE = """\
import torch
from transformers import GemmaForCausalLM


class NormalizedGemmaForCausalLM(GemmaForCausalLM):
    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        out.logits = torch.log_softmax(out.logits, dim=-1)
        return out
"""


@pytest.fixture(scope="module")
def normalized_model(tmp_path_factory: pytest.TempPathFactory, bge_model: str) -> str:
    """The tiny BGE gemma whose forward returns log-probabilities over the vocabulary (custom code):
    one label row alone would give log-softmax over itself, 0 for every text."""
    import shutil

    path = Path(shutil.copytree(bge_model, tmp_path_factory.mktemp("normalized") / "bge-reranker-v2-gemma-logprobs"))
    (path / "modeling_normalized.py").write_text(NORMALIZED_CODE, encoding="utf-8")
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["NormalizedGemmaForCausalLM"]
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_normalized.NormalizedGemmaForCausalLM"}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def test_a_head_the_label_rows_cannot_reproduce_is_kept(normalized_model, caplog, fresh_models):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        reranker = rerankit.get_reranker("crossencoder", model_name=normalized_model, trust_remote_code=True)
        got = raw_scores(reranker, TEXTS)
    assert reranker.scorer.recipe == "bge-gemma"
    assert "keeping the full output head" in caplog.text and "label rows of the" not in caplog.text
    rows, _ = reranker.scorer.model.encode([QUERY] * len(TEXTS), TEXTS)
    want = full_head_raw(normalized_model, rows, labels_of(reranker), seq2seq=False, trust_remote_code=True)
    np.testing.assert_allclose(got, want, **TOL)
    assert (got < -0.1).all() and np.ptp(got) > 0.01  # log-probabilities over the vocabulary, not 0
