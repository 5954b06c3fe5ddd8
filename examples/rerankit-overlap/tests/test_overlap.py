"""What the overlap scorer itself does, through the public API."""

import pytest

import rerankit


def test_more_shared_terms_rank_higher():
    reranker = rerankit.get_reranker("overlap")
    out = reranker.rerank("rank search results", ["cooking pasta", "search results", "rank search results"])
    assert out["text"].to_pylist() == ["rank search results", "search results", "cooking pasta"]
    assert out["_relevance_score"].to_pylist() == pytest.approx([1.0, 2 / 3, 0.0])


def test_stopwords_and_case():
    texts = ["The Cat", "the dog"]
    assert rerankit.get_reranker("overlap").rerank("the cat", texts)["text"][0].as_py() == "The Cat"
    strict = rerankit.get_reranker("overlap", case_sensitive=True, stopwords=[])
    assert strict.rerank("the cat", texts)["_relevance_score"].to_pylist() == [0.5, 0.0]


def test_min_token_length_is_validated():
    with pytest.raises(rerankit.ConfigError, match="min_token_length"):
        rerankit.get_reranker("overlap", min_token_length=0)
