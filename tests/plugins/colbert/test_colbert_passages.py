"""With ``passages``, every document passage fits ColBERT's document length exactly ([CLS], the
marker and [SEP] included): nothing is truncated, and the longest passages fill it."""

from __future__ import annotations

import logging

import rerankit
from tests.plugins.colbert.colbert_models import QUERY, WORDS

LONG = " ".join(WORDS[i % len(WORDS)] for i in range(120))


def test_passages_fit_the_document_length_and_nothing_is_truncated(stanford, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(stanford))
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        rerankit.get_reranker("colbert", model_name=str(stanford), device="cpu").rerank(QUERY, [LONG])
    assert "were longer than doc_max_length=24" in caplog.text and "passages=True" in caplog.text
    caplog.clear()

    reranker = rerankit.get_reranker("colbert", model_name=str(stanford), device="cpu", passages={"stride": 2})
    sent: list[str] = []
    score_batch = reranker.scorer.score_batch

    def spy(queries, texts, max_concurrency=16):
        sent.extend(t for docs in texts for t in docs)
        return score_batch(queries, texts, max_concurrency)

    reranker.scorer.score_batch = spy
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        out = reranker.rerank_batch([QUERY], [[LONG, "the wing"]])[0]
    assert caplog.text == "" and reranker.scorer.truncated_total == 0
    assert out.num_rows == 2
    # [CLS] passage [SEP] plus the document marker: at most doc_max_length=24, the longest exactly
    lengths = [len(tokenizer(p)["input_ids"]) + 1 for p in sent]
    assert max(lengths) == stanford.doc_length == 24 and all(n <= 24 for n in lengths)
    assert len(sent) >= 6
