"""The ``passages`` option: long texts scored in parts that fit the scorer, aggregated per row.

A deterministic scorer counts a marker word in each passage it is sent, so a row's score says
which of its passages the scorer saw; it records every call, so the tests see the passages too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pytest

import rerankit
from rerankit._scoring.steps import scoring_config

MARK = "zebra"
FILLER = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()


def words(n: int, offset: int = 0) -> str:
    return " ".join(FILLER[(offset + i) % len(FILLER)] for i in range(n))


class Marker(rerankit.Scorer):
    """Scores a text by how many times the marker word occurs in it; records what it was sent."""

    def __init__(self, config: rerankit.RerankerConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query, texts):
        self.calls.append((query, list(texts)))
        return [float(len(re.findall(rf"\b{MARK}\b", t))) for t in texts]

    @property
    def sent(self) -> list[str]:
        return [t for _, texts in self.calls for t in texts]


Config = scoring_config(rerankit.RerankerConfig)


def make(**options) -> rerankit.ScoringReranker:
    config = Config(**options)
    return rerankit.ScoringReranker("marker", config, Marker(config))


# the query "find it" takes 2 of max_length words, so each passage gets max_length - 2
LATE = words(40) + f" {MARK} " + words(10)  # the marker past the first window of 20 words
EARLY = words(5) + f" {MARK} " + words(5)


def test_a_marker_past_the_first_window_ranks_first_with_max_and_not_with_first():
    texts = ["no marker here", LATE, "nothing either"]
    best = make(passages={"max_length": 22}).rerank("find it", texts)
    assert best["text"][0].as_py() == LATE and best["_relevance_score"][0].as_py() == 1.0
    first = make(passages={"max_length": 22, "aggregate": "first"}).rerank("find it", texts)
    assert first["text"].to_pylist() == texts  # all 0: input order kept, LATE not first
    # without passages the scorer reads the whole text (a word scorer has no window)
    assert make().rerank("find it", texts)["text"][0].as_py() == LATE


def test_first_scores_only_the_first_passage():
    reranker = make(passages={"max_length": 22, "aggregate": "first"})
    reranker.rerank("find it", [LATE])
    (sent,) = reranker.scorer.sent
    assert LATE.startswith(sent) and len(sent.split()) <= 20


def test_offsets_slice_the_row_text_to_exactly_the_passage():
    texts = [LATE, "  étoile " + words(30) + f"\n\n{MARK} ünïcode " + words(30) + "  ", EARLY, "", "   "]
    out = make(passages={"max_length": 12, "stride": 3}, return_passage=True).rerank("q", texts)
    assert out.column_names == ["text", "_relevance_score", "_passage", "_passage_start", "_passage_end"]
    for row in out.to_pylist():
        assert row["text"][row["_passage_start"] : row["_passage_end"]] == row["_passage"]
        assert (MARK in row["_passage"]) == (MARK in row["text"])  # the best passage is the one with it
    # empty and whitespace texts keep today's behaviour: sent unchanged, one passage, the whole text
    blank = [r for r in out.to_pylist() if not r["text"].strip()]
    assert [(r["_passage"], r["_passage_start"], r["_passage_end"]) for r in blank] == [("", 0, 0), ("   ", 0, 3)]


def test_a_text_that_fits_is_one_passage_unchanged():
    reranker = make(passages={"max_length": 22})
    text = "  exactly twenty words  " + words(17) + " \n"
    reranker.rerank("find it", [text])
    assert reranker.scorer.sent == [text]


def test_passages_fit_overlap_and_cut_at_the_strongest_boundary():
    room, stride = 20, 4
    # 20 sentences of 4 distinct words
    text = " ".join(f"w{i}" + ("." if i % 4 == 3 else "") for i in range(80))
    reranker = make(passages={"max_length": room + 1, "stride": stride, "max_passages": None})
    reranker.rerank("q", [text])
    sent = reranker.scorer.sent
    all_words = text.split()
    position, previous_end, overlaps = 0, 0, []
    for i, passage in enumerate(sent):
        parts = passage.split()
        assert 1 <= len(parts) <= room
        start = _find(all_words, parts, position)  # whole words, in order, from the text
        if i:
            overlaps.append(previous_end - start)  # the overlap, at most stride words
        if i < len(sent) - 1:
            # a sentence end fell in the last quarter of every window here: cut right after it
            assert passage.endswith(".")
        previous_end, position = start + len(parts), start + 1
    assert previous_end == len(all_words)  # the last passage reaches the end of the text
    assert min(overlaps) >= 0 and max(overlaps) == stride


def _find(haystack: list[str], needle: list[str], start: int) -> int:
    for i in range(start, len(haystack) - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    raise AssertionError(f"{needle} is not a run of whole words of the text")


def test_a_paragraph_break_wins_over_a_sentence_end_and_no_cut_is_inside_a_word():
    text = words(16) + "\n\n" + words(2) + ". " + words(20)  # room 20: break at 16, sentence at 18
    reranker = make(passages={"max_length": 21, "stride": 0})
    reranker.rerank("q", [text])
    assert reranker.scorer.sent[0] == words(16)
    # one word longer than the window is the only cut made inside a word
    reranker = make(passages={"max_length": 5, "stride": 0})
    reranker.rerank("q", ["a b c d e f g h"])
    assert reranker.scorer.sent == ["a b c d", "e f g h"]


@pytest.mark.parametrize(
    ("aggregate", "want"),
    [("max", [2.0, 1.0, 0.0]), ("sum", [3.0, 1.0, 0.0]), ("mean", [1.0, 0.5, 0.0]),
     ("top_k_mean", [1.5, 0.5, 0.0]), ("first", [0.0, 1.0, 0.0])],
)
def test_aggregates(aggregate, want):
    # passages of 10 words (query "q" takes 1 of 11), no overlap: [0 marks, 2 marks, 1 mark]
    three = " ".join([words(10) + ".", f"{MARK} {MARK} " + words(8) + ".", f"{MARK} " + words(9) + "."])
    two = " ".join([f"{MARK} " + words(9) + ".", words(10) + "."])
    texts = [three, two, words(5)]
    out = make(passages={"max_length": 11, "stride": 0, "aggregate": aggregate, "top_k": 2}).rerank("q", texts)
    got = dict(zip(out["text"].to_pylist(), out["_relevance_score"].to_pylist()))
    assert [got[t] for t in texts] == want


def test_every_row_kept_in_a_stable_order_and_top_n():
    texts = [words(30, i) for i in range(6)]
    texts[4] += f" {MARK}"
    out = make(passages={"max_length": 12}).rerank("q", texts)
    assert out["text"].to_pylist() == [texts[4], *texts[:4], texts[5]]
    assert make(passages={"max_length": 12}, top_n=2).rerank("q", texts)["text"].to_pylist() == texts[4:5] + texts[:1]


def test_identical_passages_in_one_call_are_scored_once():
    shared = words(10) + "."
    texts = [shared + " " + words(10, 3) + ".", shared + " " + words(10, 5) + ".", shared + " " + words(10, 3) + "."]
    reranker = make(passages={"max_length": 11, "stride": 0})
    outs = reranker.rerank_batch(["q", "q", "other"], [texts, texts[:1], texts[:2]])
    assert [o.num_rows for o in outs] == [3, 1, 2]
    sent = {q: t for q, t in reranker.scorer.calls}
    # one job per distinct query, each distinct passage once
    assert sorted(sent) == ["other", "q"]
    assert sent["q"] == [shared, words(10, 3) + ".", words(10, 5) + "."]
    assert sent["other"] == [shared, words(10, 3) + ".", words(10, 5) + "."]
    assert reranker.usage.passages_scored == 6 and reranker.usage.passage_rows == 6


def test_max_passages_caps_the_cost_and_says_so(caplog):
    text = words(50) + f" {MARK}"  # 6 passages of 9 words; the marker in the last
    reranker = make(passages={"max_length": 10, "stride": 0, "max_passages": 3, "select": "head"})
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        out = reranker.rerank("q", [text, "short"])
    assert out["_relevance_score"].to_pylist() == [0.0, 0.0]  # the marker's passage was not scored
    assert len(reranker.scorer.sent) == 4
    assert (
        "marker: 1 of 2 texts have more than max_passages=3 passages; 3 passages chosen by select='head' "
        "were scored for them and 3 were not" in caplog.text
    )
    assert (reranker.usage.passages_selected, reranker.usage.passages_skipped) == (4, 3)


def test_async_and_batch_entry_points_agree():
    reranker = make(passages={"max_length": 22}, return_passage=True)
    texts = ["no marker", LATE, EARLY]
    want = reranker.rerank("find it", texts)
    assert asyncio.run(reranker.arerank("find it", texts)).equals(want)
    assert all(o.equals(want) for o in reranker.rerank_batch(["find it"] * 2, [texts, texts]))
    assert all(o.equals(want) for o in asyncio.run(reranker.arerank_batch(["find it"] * 2, [texts, texts])))


class Tokens(rerankit.LengthMeasure):
    """A measure with a window and a template, like a local model's: characters, 3 for the template."""

    unit = "characters"

    def spans(self, texts):
        return [np.asarray([(i, i + 1) for i in range(len(t))], dtype=np.int64).reshape(-1, 2) for t in texts]

    def reserved(self, query):
        return len(query) + 3


class Windowed(Marker):
    def length_measure(self):
        return Tokens(window=40)


def test_a_scorer_measure_sets_the_window_and_the_room():
    config = Config(passages=True)
    reranker = rerankit.ScoringReranker("windowed", config, Windowed(config))
    text = " ".join([MARK] * 30)
    reranker.rerank("abcde", [text])  # room 40 - 5 - 3 = 32 characters
    assert all(len(p) <= 32 for p in reranker.scorer.sent)
    assert max(len(p) for p in reranker.scorer.sent) > 24
    config = Config(passages={"max_length": 41})
    with pytest.raises(rerankit.ConfigError, match=r"max_length=41 exceeds the window .* \(40 characters\)"):
        rerankit.ScoringReranker("windowed", config, Windowed(config)).rerank("q", [text])


def test_a_query_longer_than_the_window_is_an_input_error():
    with pytest.raises(rerankit.InputError, match=r"max_length=4 leaves no room .* take 5 words"):
        make(passages={"max_length": 4}).rerank("one two three four five", ["text"])


def test_stored_inputs_cannot_be_split():
    class Stored(Marker):
        def select_inputs(self, table):
            return table["text"]

    config = Config(passages=True)
    reranker = rerankit.ScoringReranker("stored", config, Stored(config))
    with pytest.raises(rerankit.ConfigError, match="passages needs texts to split"):
        reranker.rerank("q", ["a"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"passages": {"max_length": 32, "stride": 32}}, "stride=32 must be smaller than max_length=32"),
        ({"passages": {"aggregate": "median"}}, "unknown passages aggregate 'median'; use one of max, first"),
        ({"passages": {"max_lenght": 3}}, "passages.max_lenght"),
        ({"return_passage": True}, "return_passage=True needs passages"),
    ],
)
def test_bad_options_are_config_errors_naming_the_option(options, message):
    with pytest.raises(rerankit.ConfigError, match=re.escape(message)):
        rerankit.get_reranker("cohere", api_key="k", **options)


def test_options_through_the_registry_spellings_and_pickling(monkeypatch):
    import pickle

    from rerankit.testing import FakeRerankServer

    monkeypatch.setenv("CO_API_KEY", "k")  # keys are re-read from the environment after pickling
    with FakeRerankServer("cohere", api_key="k") as server:
        options = {"aggregate": "top-k mean", "max_length": 12}
        reranker = rerankit.get_reranker("cohere", api_key="k", base_url=server.url, passages=options)
        assert reranker.config.passages.aggregate == "top_k_mean"
        assert rerankit.get_reranker("cohere", api_key="k", passages=False).config.passages is None
        again = pickle.loads(pickle.dumps(reranker))
        assert again.config.passages == reranker.config.passages
        again.rerank("q", [words(30)])  # the rebuilt reranker still scores in passages
        assert again.usage.passages_scored > 1 and again.usage.passage_rows == 1


def test_rerankit_batch_groups_carry_passages():
    from rerankit.batch import rerank_batches

    texts = ["no marker", LATE, EARLY, words(60)]
    table = pa.table({"query_id": [1, 1, 2, 2], "query": ["find it"] * 4, "text": texts})
    reranker = make(passages={"max_length": 22}, return_passage=True)
    out = pa.Table.from_batches(list(rerank_batches(table.to_batches(max_chunksize=3), reranker)))
    assert out["text"].to_pylist() == [LATE, "no marker", EARLY, words(60)]
    assert out["_relevance_score"].to_pylist() == [1.0, 0.0, 1.0, 0.0]
    assert all(MARK in p for p in out["_passage"].to_pylist()[::2])


def test_top_n_keeps_the_best_rows_not_the_rows_of_the_best_passages():
    # The provider scores passages; a top_n sent to it would keep the best passages (here both of
    # the first row's) and give every other row a stand-in score. The passages step asks for every
    # passage's own score, so the second row kept is the second best row.
    from rerankit.testing import FakeRerankServer

    texts = ["pie crust. pie dish", "kiwi melon", "pie tart", "apple cider"]
    with FakeRerankServer("cohere", api_key="k") as server:
        def rerank(top_n):
            return rerankit.get_reranker(
                "cohere", api_key="k", base_url=server.url, passages={"max_length": 3, "stride": 0}, top_n=top_n
            ).rerank("pie", texts)

        every = rerank(None)
        best = rerank(2)
        assert "top_n" not in server.seen[-1].body
    assert best["text"].to_pylist() == every["text"].to_pylist()[:2] == ["pie crust. pie dish", "pie tart"]
    assert best["_relevance_score"].to_pylist() == every["_relevance_score"].to_pylist()[:2]


# -- text without spaces: cut by characters, for every script ------------------------------------

NEEDLE = "\u91dd"  # 針, "needle": a character of no other text below


def unspaced_texts() -> dict[str, str]:
    """Texts the word measure once read as one word (no passage repeats): each ends with the needle."""
    pick = random.Random(0).choice
    han = "".join(chr(0x4E00 + i) for i in range(1320))  # 1,320 CJK characters
    token = "".join(pick("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(3000))
    zwsp = "\u200b".join(f"w{i}" for i in range(700))  # words joined by zero-width spaces
    thai = "".join(pick("\u0e01\u0e02\u0e04\u0e07\u0e08") + pick("\u0e34\u0e35\u0e38") for _ in range(700))
    # consonant + virama + consonant (a conjunct), then a consonant with a vowel sign
    hindi = "".join(
        "\u0915\u094d" + pick("\u0937\u0924\u0930") + pick("\u0915\u092e\u0928") + "\u093f" for _ in range(300)
    )
    return {name: text + NEEDLE for name, text in
            {"han": han, "token": token, "zwsp": zwsp, "thai": thai, "hindi": hindi}.items()}


class Needle(Marker):
    def score(self, query, texts):
        self.calls.append((query, list(texts)))
        return [float(NEEDLE in t) for t in texts]


@pytest.mark.parametrize("name", sorted(unspaced_texts()))
def test_text_without_spaces_is_cut_by_characters_with_exact_offsets(name):
    text = unspaced_texts()[name]
    config = Config(passages={"max_length": 101, "stride": 10, "max_passages": None}, return_passage=True)
    reranker = rerankit.ScoringReranker("needle", config, Needle(config))
    out = reranker.rerank("q", ["other", text]).to_pylist()
    sent = reranker.scorer.sent
    assert len(sent) >= 4 and "other" in sent  # cut, not one passage for the provider to cut
    measure = rerankit.LengthMeasure()
    assert max(measure.counts(sent)) <= 100  # each passage fits (the query takes 1 of 101)
    longest = {"han": 100, "thai": 200, "hindi": 500, "token": 300 + 3, "zwsp": 100 * 5}[name]
    assert max(len(p) for p in sent) <= longest  # units of a few characters at most
    # every part of the text is in some passage, and no cut splits a character
    covered = sorted((text.index(p), text.index(p) + len(p)) for p in sent if p != "other")
    assert covered[0][0] == 0 and covered[-1][1] == len(text)
    assert all(b >= c for (_, b), (c, _) in itertools.pairwise(covered))
    for start, _ in covered[1:]:
        assert unicodedata.category(text[start])[0] != "M" and unicodedata.combining(text[start - 1]) != 9
    top = out[0]
    assert top["text"] == text and top["_relevance_score"] == 1.0  # the needle's passage, the last, found
    assert text[top["_passage_start"] : top["_passage_end"]] == top["_passage"] and top["_passage"].endswith(NEEDLE)


def test_a_long_run_in_spaced_text_is_cut_and_ordinary_words_are_not():
    url = "https://example.org/" + "".join(f"seg{i}/" for i in range(200))  # one 1,200-character word
    text = words(40) + " " + url + " " + words(40)
    units = rerankit.LengthMeasure().spans([text])[0]
    pieces = [text[a:b] for a, b in units]
    assert pieces[:40] == text.split()[:40] and pieces[-40:] == text.split()[-40:]  # a word is a unit
    assert "".join(pieces[40:-40]) == url and max(len(p) for p in pieces[40:-40]) <= 4
    assert rerankit.LengthMeasure().counts(["東京 tower だ。"]) == [5]  # 東 京 tower だ 。


# -- max_passages: which passages a row over the cap has scored ----------------------------------


def sentences(needle_at: int | None, n: int = 9) -> str:
    """``n`` sentences of 9 words (one passage each at max_length 10), the marker in one of them."""
    parts = []
    for i in range(n):
        found = words(9, i).split()
        if i == needle_at:
            found[4] = MARK
        parts.append(" ".join(found) + ".")
    return " ".join(parts)


@pytest.mark.parametrize(("select", "found"), [("lexical", True), ("spread", True), ("head", False)])
def test_a_needle_in_the_last_passage_of_a_row_three_times_over_the_cap(select, found):
    needle, others = sentences(8), [sentences(None), "short text", sentences(None, 5)]
    options = {"max_length": 10, "stride": 0, "max_passages": 3, "select": select}
    reranker = make(passages=options, return_passage=True)
    out = reranker.rerank(MARK, [*others, needle]).to_pylist()
    assert sorted(r["text"] for r in out) == sorted([*others, needle])  # every row kept, once
    assert all(r["text"][r["_passage_start"] : r["_passage_end"]] == r["_passage"] for r in out)
    top = out[0]
    assert (top["text"] == needle and top["_relevance_score"] == 1.0) == found
    if found:
        assert top["_passage"] == sentences(8).split(". ")[-1] and top["_passage_end"] == len(needle)
    # 3 passages for each of the three long rows, 1 for the short one; 6 + 6 + 2 left out
    assert len(reranker.scorer.sent) <= 10
    assert (reranker.usage.passages_selected, reranker.usage.passages_skipped) == (10, 14)


@pytest.mark.parametrize(("needle_at", "spread_finds"), [(4, True), (2, False), (0, True)])
def test_spread_scores_evenly_spaced_passages_and_lexical_the_query_s(needle_at, spread_finds):
    text = sentences(needle_at)
    options = {"max_length": 10, "stride": 0, "max_passages": 3}
    spread = make(passages={**options, "select": "spread"})
    assert spread.rerank(MARK, [text])["_relevance_score"][0].as_py() == float(spread_finds)
    assert [s.split()[0] for s in spread.scorer.sent] == [sentences(None).split(". ")[i].split()[0] for i in (0, 4, 8)]
    lexical = make(passages={**options, "select": "lexical"})
    assert lexical.rerank(MARK, [text])["_relevance_score"][0].as_py() == 1.0
    # the scored passages go to the scorer in text order
    sent = lexical.scorer.sent
    assert sent == sorted(sent, key=text.index) and len(sent) == 3


def test_lexical_ranks_passages_by_bm25_over_the_row():
    # query terms: "rare" is in one passage, "common" in every one: the rare term's passage wins
    parts = [f"common {words(7, i)} x{i}." for i in range(9)]
    parts[6] = f"common rare {words(6, 6)} x6."
    text = " ".join(parts)
    reranker = make(passages={"max_length": 11, "stride": 0, "max_passages": 1, "select": "lexical"})
    reranker.rerank("common rare", [text])
    assert reranker.scorer.sent == [parts[6]]


def test_select_is_checked_and_first_always_reads_the_head():
    with pytest.raises(rerankit.ConfigError, match=r"unknown passages select 'middle'; use one of head, spread"):
        rerankit.get_reranker("cohere", api_key="k", passages={"select": "middle"})
    assert Config(passages={"select": " Spread "}).passages.select == "spread"
    reranker = make(passages={"max_length": 10, "stride": 0, "aggregate": "first", "select": "lexical"})
    reranker.rerank(MARK, [sentences(8)])
    assert reranker.scorer.sent == [sentences(8).split(". ")[0] + "."]
