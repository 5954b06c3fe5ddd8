"""``passages`` on a hosted scorer: the passages go to Cohere's /v2/rerank in requests within the
server's document limit, and each row gets the best score of its own passages."""

from __future__ import annotations

import numpy as np
import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY
from rerankit.testing.server import fake_score


def row_text(i: int, at: int) -> str:
    """60 words unique to row i, with the query word at position ``at``."""
    return " ".join("solar" if j == at else f"r{i}w{j}" for j in range(60))


def test_passages_are_sent_within_limits_and_aggregated_to_their_rows():
    texts = [row_text(i, at) for i, at in enumerate([5, 55, 30, 59])] + ["short r4 text"]
    with FakeRerankServer("cohere", api_key=KEY, max_documents=8) as server:
        reranker = rerankit.get_reranker(
            "cohere", api_key=KEY, base_url=server.url, batch_size=8,
            passages={"max_length": 21, "stride": 5}, return_passage=True,
        )
        out = reranker.rerank("solar", texts)
        seen = server.seen
    sent = [d for request in seen for d in request.body["documents"]]
    assert all(len(r.body["documents"]) <= 8 for r in seen) and len(seen) >= 3
    assert len(sent) == len(set(sent)) > len(texts)  # every passage once, more documents than rows
    assert all(len(d.split()) <= 20 for d in sent)  # 21 words less the query's one
    assert out.num_rows == len(texts)
    for row in out.to_pylist():
        i = texts.index(row["text"])
        mine = [d for d in sent if any(w.startswith(f"r{i}w") for w in d.split()) or d == row["text"]]
        assert ("solar" in row["_passage"]) == (i < 4)
        assert row["_relevance_score"] == np.float32(max(fake_score("solar", d) for d in mine))
        assert row["text"][row["_passage_start"] : row["_passage_end"]] == row["_passage"]
    assert [r["text"] for r in out.to_pylist()][-1] == texts[-1]  # the one row without the word is last


def test_text_without_spaces_reaches_the_provider_in_passages():
    # 1,320 Chinese characters: once one "word", sent whole for the provider to cut at its window
    text = "".join(chr(0x4E00 + i) for i in range(1320)) + " solar"
    with FakeRerankServer("cohere", api_key=KEY) as server:
        reranker = rerankit.get_reranker(
            "cohere", api_key=KEY, base_url=server.url, passages={"max_length": 201, "max_passages": None},
            return_passage=True,
        )
        out = reranker.rerank("solar", ["short text", text]).to_pylist()
        sent = [d for request in server.seen for d in request.body["documents"]]
    assert len(sent) >= 8 and max(len(d) for d in sent) <= 200  # a character is a unit
    best = next(r for r in out if r["text"] == text)
    assert best["_passage"].endswith("solar")
    assert text[best["_passage_start"] : best["_passage_end"]] == best["_passage"]


@pytest.mark.parametrize("select", ["lexical", "spread"])
def test_a_capped_row_sends_at_most_max_passages_chosen_over_its_whole_text(select):
    # 60 words a row, 10 a passage: 6 passages, cap 2; the query word in the last passage of row 0
    texts = [row_text(0, 57), row_text(1, -1), row_text(2, -1), "short r3 text"]
    with FakeRerankServer("cohere", api_key=KEY) as server:
        reranker = rerankit.get_reranker(
            "cohere", api_key=KEY, base_url=server.url, return_passage=True,
            passages={"max_length": 11, "stride": 0, "max_passages": 2, "select": select},
        )
        out = reranker.rerank("solar", texts).to_pylist()
        sent = [d for request in server.seen for d in request.body["documents"]]
    for i in range(3):
        assert len([d for d in sent if f"r{i}w" in d]) == 2  # the cap: two passages a row reach the provider
    assert sorted(r["text"] for r in out) == sorted(texts)
    top = out[0]
    assert top["text"] == texts[0] and "solar" in top["_passage"] and top["_passage_end"] == len(texts[0])
    assert texts[0][top["_passage_start"] : top["_passage_end"]] == top["_passage"]
    usage = reranker.usage
    assert len(sent) == 7 and (usage.passages_selected, usage.passages_skipped, usage.documents) == (7, 12, 7)
