"""With ``passages``, every (query, passage) pair fits the cross-encoder's window exactly: nothing
is truncated (no WARNING), and the longest pairs fill the window to the token."""

from __future__ import annotations

import logging

import pytest

import rerankit
from tests.plugins.crossencoder.crossencoder_models import MAX_POSITIONS, QUERY, WORDS

# 300 in-vocabulary words (one token each): several windows of the tiny model's 64 positions
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(300))


def recorded(reranker: rerankit.ScoringReranker) -> list[str]:
    """Texts the scorer receives, recorded on the way in (the scorer itself runs unchanged)."""
    sent: list[str] = []
    score = reranker.scorer.score

    def spy(query, texts):
        sent.extend(texts)
        return score(query, texts)

    reranker.scorer.score = spy
    return sent


def test_passages_fit_the_window_exactly_and_nothing_is_truncated(tiny_model, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    cut = rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cpu")
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        cut.rerank(QUERY, [LONG, "the wing"])
    # today: the first window, cut, and a WARNING that names the passages option
    assert "1 of 2 query-text pairs were longer than max_length=64" in caplog.text
    assert "set passages=True to score long texts in passages" in caplog.text
    caplog.clear()

    reranker = rerankit.get_reranker(
        "crossencoder", model_name=tiny_model, device="cpu", passages={"stride": 8, "max_passages": None},
        return_passage=True,
    )
    sent = recorded(reranker)
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        out = reranker.rerank(QUERY, [LONG, "the wing"])
    assert caplog.text == "" and reranker.scorer.truncated_total == 0
    lengths = [len(tokenizer(QUERY, p)["input_ids"]) for p in sent]
    assert max(lengths) == MAX_POSITIONS and all(n <= MAX_POSITIONS for n in lengths)
    assert len(sent) >= 6 and "the wing" in sent  # every part of LONG, and the short text as it is
    # each row's score is its best passage's, as the cross-encoder scores that passage alone
    alone = rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cpu")
    for row in out.to_pylist():
        (score,) = alone.rerank(QUERY, [row["_passage"]])["_relevance_score"].to_pylist()
        assert row["_relevance_score"] == pytest.approx(score, abs=1e-6)
        assert row["text"][row["_passage_start"] : row["_passage_end"]] == row["_passage"]


def test_a_max_length_beyond_the_model_window_is_a_config_error(tiny_model):
    reranker = rerankit.get_reranker("crossencoder", model_name=tiny_model, device="cpu", passages={"max_length": 65})
    with pytest.raises(rerankit.ConfigError, match=r"max_length=65 exceeds the window .*\(64 tokens\)"):
        reranker.rerank(QUERY, [LONG])
