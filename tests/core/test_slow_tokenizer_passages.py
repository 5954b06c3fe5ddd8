"""``passages`` measured in a slow tokenizer's tokens (no character offsets): a word of more tokens
than a window, and a run of Chinese with no space, are cut inside, every passage fits, offsets exact.

The tokenizer is a real ``transformers.BertTokenizerLegacy`` (the Python one) over a vocabulary the test
writes; the scorer's measure is the public :class:`rerankit.local.TokenLength`, as local plugins use.
"""

from __future__ import annotations

import pytest

import rerankit
from rerankit._scoring.steps import scoring_config
from rerankit.local import TokenLength

transformers = pytest.importorskip("transformers")

WINDOW = 12
CJK = "中文字词句段"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "start", "end", "of", "find", "ab", "##ab"]
    vocab += list(CJK)
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = transformers.BertTokenizerLegacy(str(path))  # the Python one: no offsets
    assert not tok.is_fast
    return tok


class Recorder(rerankit.Scorer):
    """Scores each passage 1.0; records what it was sent."""

    def __init__(self, config, tokenizer) -> None:
        super().__init__(config)
        self.tokenizer = tokenizer
        self.sent: list[str] = []

    def score(self, query, texts):
        self.sent.extend(texts)
        return [1.0] * len(texts)

    def length_measure(self):
        return TokenLength(self.tokenizer, WINDOW)


Config = scoring_config(rerankit.RerankerConfig)


@pytest.mark.parametrize(
    "text",
    [
        "the start " + "ab" * 40 + " the end",  # one word of 40 tokens (under BERT's 100-character limit)
        "the start " + CJK * 8 + " the end",  # 48 characters of Chinese, each its own token, no space
    ],
    ids=["huge-word", "chinese-run"],
)
def test_a_word_longer_than_the_window_is_cut_and_every_passage_fits(tokenizer, text):
    config = Config(passages={"stride": 0, "max_passages": None}, return_passage=True)
    scorer = Recorder(config, tokenizer)
    reranker = rerankit.ScoringReranker("slow", config, scorer)
    out = reranker.rerank("find", [text]).to_pylist()
    assert len(out) == 1 and out[0]["text"] == text
    assert text[out[0]["_passage_start"] : out[0]["_passage_end"]] == out[0]["_passage"]
    # room: the window less the query and [CLS] [SEP] [SEP]
    room = WINDOW - 1 - tokenizer.num_special_tokens_to_add(pair=True)
    counts = [len(tokenizer.tokenize(p)) for p in scorer.sent]
    assert max(counts) <= room, (counts, scorer.sent)
    assert all(p in text for p in scorer.sent)
    # the whole text is read: as many passages as its tokens need (identical ones are sent once)
    assert reranker.usage.passages_selected >= -(-len(tokenizer.tokenize(text)) // room)
    assert reranker.usage.passages_skipped == 0
