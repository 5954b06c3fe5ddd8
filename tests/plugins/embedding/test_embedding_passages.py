"""``passages`` on the embedding reranker: passages measured in the model's tokens fit its
``max_length`` exactly (the query is encoded apart; a document prompt takes its tokens), so
nothing is truncated, and each row scores as its best passage encoded alone."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import rerankit
from tests.plugins.embedding.embedding_models import QUERY, TEXTS
from tests.plugins.embedding.test_embedding_local import cosine, reference

LONG = [t for t in TEXTS if len(t.split()) > 6]


def tokens(scorer, text: str) -> int:
    return len(scorer.tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize(("fixture", "max_length"), [("tiny_model", 8), ("prompted_model", 10)])
def test_passages_fit_max_length_and_score_as_their_best_passage(request, caplog, fixture, max_length) -> None:
    """[CLS] and [SEP] take 2 tokens; the saved prompts ('query: ', 'passage: ') 2 more, so
    the 6-token query fits alone and every passage gets 6 tokens."""
    room = 6
    path = request.getfixturevalue(fixture)
    caplog.set_level(logging.WARNING, logger="rerankit")
    whole = rerankit.get_reranker("embedding", model_name=path, device="cpu", max_length=max_length)
    whole.rerank(QUERY, TEXTS)
    assert whole.scorer.truncated_total >= len(LONG)  # without passages the long texts are cut

    caplog.clear()
    r = rerankit.get_reranker("embedding", model_name=path, device="cpu", max_length=max_length,
                              passages={"stride": 0}, return_passage=True)
    out = r.rerank(QUERY, TEXTS)
    assert r.scorer.truncated_total == 0 and not caplog.records
    assert r.scorer.length_measure().window == max_length
    rows = out.to_pylist()
    assert sorted(row["text"] for row in rows) == sorted(TEXTS)
    ref = reference(path)
    query = ref.encode(QUERY, prompt_name="query" if fixture == "prompted_model" else None)
    for row in rows:
        passage = row["_passage"]
        assert row["text"][row["_passage_start"]:row["_passage_end"]] == passage
        assert tokens(r.scorer, passage) <= room
        if row["text"] in LONG:
            assert passage != row["text"]
        prompt = {"prompt_name": "passage"} if fixture == "prompted_model" else {}
        (want,) = cosine(query, ref.encode([passage], **prompt))
        np.testing.assert_allclose(row["_relevance_score"], want, rtol=1e-5, atol=1e-6)
    # the long texts went as several passages
    assert r.usage.passages_scored > len(TEXTS) and r.usage.passage_rows == len(TEXTS)


def test_remote_embedding_sends_passages_counted_in_words(embeddings_server) -> None:
    """With base_url the server's tokenizer is unknown: passages count words (the query is encoded
    apart, so all of max_length is the passage's)."""
    from rerankit.testing.hosted import KEY

    r = rerankit.get_reranker("embedding", base_url=embeddings_server.url + "/v1", api_key=KEY, model_name="m",
                              passages={"max_length": 4, "stride": 0})
    assert r.scorer.length_measure().unit == "words" and r.scorer.length_measure().reserved(QUERY) == 0
    before = len(embeddings_server.seen)
    out = r.rerank(QUERY, TEXTS)
    sent = [t for request in embeddings_server.seen[before:] for t in request.body["input"]]
    assert out.num_rows == len(TEXTS) and QUERY in sent
    documents = [t for t in sent if t != QUERY]
    assert len(documents) > len(TEXTS) and all(len(t.split()) <= 4 for t in documents)


def test_vector_column_with_passages_fails_when_built() -> None:
    """Stored vectors cannot be split: a ConfigError at construction, not at the first rerank."""
    with pytest.raises(rerankit.ConfigError, match="passages splits texts, but with vector_column"):
        rerankit.get_reranker("embedding", vector_column="vector", passages=True)
