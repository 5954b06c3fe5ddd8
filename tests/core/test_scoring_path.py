"""The scoring path: the seam every scoring reranker's calls pass through (passages, cache, rate
limits and fallbacks plug in here). Through a step users turn on (``passages``, which changes texts,
scores and output), these tests check what the seam promises any step: jobs in call order, scores
mapped back, added columns ordered with the rows, every entry point and the async twins alike, the
steps in their documented order, and nothing counted when no option asks for a step."""

from __future__ import annotations

import asyncio
import pickle

import pyarrow as pa
import pytest

import rerankit
from rerankit._scoring import steps as _steps


class Length(rerankit.Scorer):
    """Scores a text by its length; records calls and batches so tests see what reached it."""

    def __init__(self, config: rerankit.RerankerConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, list[str]]] = []
        self.batches: list[list[str]] = []

    def score(self, query, texts):
        self.calls.append((query, list(texts)))
        return [float(len(t)) for t in texts]

    def score_batch(self, queries, texts, max_concurrency=16):
        self.batches.append(list(queries))
        return super().score_batch(queries, texts, max_concurrency)

    async def ascore_batch(self, queries, texts, max_concurrency=16):
        self.batches.append(list(queries))
        return await super().ascore_batch(queries, texts, max_concurrency)


#: The ``passages`` step as the step under test: it changes the texts on the way down (one word per
#: passage, the query taking the other), the scores on the way up (a row scores its best passage)
#: and adds output columns (the best passage).
SPLIT = {"passages": {"max_length": 2, "stride": 0}, "return_passage": True}


def make(**options) -> rerankit.ScoringReranker:
    config = _steps.scoring_config(rerankit.RerankerConfig)(**options)
    return rerankit.ScoringReranker("length", config, Length(config))


def test_a_step_changes_the_texts_the_scores_and_the_output():
    reranker = make(**SPLIT)
    out = reranker.rerank("q", ["a bb ccc dddd", "eeeee f", "gg"])
    # the scorer saw the step's texts; the step mapped their scores back to the rows
    assert reranker.scorer.calls == [("q", ["a", "bb", "ccc", "dddd", "eeeee", "f", "gg"])]
    assert out["text"].to_pylist() == ["eeeee f", "a bb ccc dddd", "gg"]
    assert out["_relevance_score"].to_pylist() == [5.0, 4.0, 2.0]
    # the columns the step added sit after _relevance_score and follow the rows' new order
    assert out.column_names[1:] == ["_relevance_score", "_passage", "_passage_start", "_passage_end"]
    assert out["_passage"].to_pylist() == ["eeeee", "dddd", "gg"]


def test_every_entry_point_goes_through_the_path():
    reranker = make(top_n=1, **SPLIT)
    vec = pa.table({"_rowid": pa.array([1, 2], pa.uint64()), "text": ["xx y", "y"], "_distance": [0.1, 0.2]})
    fts = pa.table({"_rowid": pa.array([2, 3], pa.uint64()), "text": ["y", "z zzz"], "_score": [1.0, 2.0]})
    outs = [
        reranker.rerank_vector("q", vec),
        reranker.rerank_hybrid("q", vec, fts),
        reranker.rerank_multivector([vec, fts.drop_columns(["_score"])], "q", deduplicate=True),
        asyncio.run(reranker.arerank_fts("q", fts)),
        *reranker.rerank_batch(["a", "b"], [vec, fts]),
        *asyncio.run(reranker.arerank_batch(["a", "b"], [vec, fts])),
    ]
    assert [o["_passage"].to_pylist() for o in outs] == [["xx"], ["zzz"], ["zzz"], ["zzz"], *[["xx"], ["zzz"]] * 2]
    # a batch is one trip down the path to the scorer, its jobs in the order of the queries
    assert reranker.scorer.batches == [["a", "b"], ["a", "b"]]


def test_jobs_without_texts_never_reach_the_scorer():
    reranker = make(**SPLIT)
    empty = pa.table({"text": pa.array([], pa.string())})
    outs = reranker.rerank_batch(["a", "b", "c"], [empty, ["x", "yy z"], empty])
    assert [o.num_rows for o in outs] == [0, 2, 0]
    assert reranker.scorer.calls == [("b", ["x", "yy", "z"])]  # only the job with texts
    assert reranker.rerank("q", empty).num_rows == 0
    assert len(reranker.scorer.calls) == 1


def test_the_steps_run_in_the_documented_order():
    # passages -> cache -> rate limit -> scorer (steps/__init__.py says why); one request a minute
    reranker = make(passages={"max_length": 2, "stride": 0}, cache={"backend": "memory"},
                    rate_limit={"requests_per_minute": 1})
    reranker.rerank("q", ["a bb", "ccc"])
    # the cache sits inside passages: it keys passages, not rows
    assert (reranker.usage.passages_scored, reranker.usage.passage_rows) == (3, 2)
    assert (reranker.usage.cache_misses, reranker.usage.cache_hits) == (3, 0)
    reranker.rerank("q", ["ccc", "a bb"])
    # ... and outside the rate limit: hits spend no request, so nothing waits for the next minute
    assert (reranker.usage.cache_hits, reranker.usage.rate_limit_waits) == (3, 0)
    assert len(reranker.scorer.calls) == 1


def test_without_step_options_the_scorer_answers_alone():
    reranker = make()
    out = reranker.rerank("q", ["ab", "c"])
    assert out.column_names == ["text", "_relevance_score"]
    assert out["_relevance_score"].to_pylist() == [2.0, 1.0] and reranker.scorer.calls == [("q", ["ab", "c"])]
    assert not any(reranker.usage.counters().values())  # no step counted anything


def test_a_scorer_answering_too_few_lists_is_a_scoring_error():
    class Short(Length):
        def score_batch(self, queries, texts, max_concurrency=16):
            return [[1.0] * len(texts[0])]

    config = rerankit.RerankerConfig()
    reranker = rerankit.ScoringReranker("short", config, Short(config))
    with pytest.raises(rerankit.ScoringError, match="1 score lists for 2 queries"):
        reranker.rerank_batch(["a", "b"], [["x"], ["y"]])


def test_registered_scorers_get_the_path_options_and_still_pickle():
    config_model = next(i.config for i in rerankit.list_rerankers() if i.kind == "scorer")
    assert issubclass(config_model, _steps.ScoringOptions)
    fusion_model = next(i.config for i in rerankit.list_rerankers() if i.kind == "fusion")
    assert not issubclass(fusion_model, _steps.ScoringOptions)
    # the combined model is made at run time, yet a config of it survives pickling
    config = _steps.scoring_config(rerankit.RerankerConfig)(top_n=3)
    again = pickle.loads(pickle.dumps(config))
    assert type(again) is type(config) and again == config
    assert _steps.scoring_config(type(config)) is type(config)
