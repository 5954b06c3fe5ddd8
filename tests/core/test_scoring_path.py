"""The scoring path: the seam every scoring reranker's calls pass through (passages, cache, rate
limits and fallbacks plug in here). These tests put a step of their own on the path and check what
the seam promises any step: jobs in call order, scores mapped back, added columns ordered with the
rows, every entry point and the async twins alike, and nothing built when no option asks for it."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pyarrow as pa
import pytest

import rerankit
from rerankit._scoring import steps as _steps
from rerankit._scoring.steps.base import Job, Step


class Length(rerankit.Scorer):
    """Scores a text by its length; counts calls so tests see what reached it."""

    def __init__(self, config: rerankit.RerankerConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query, texts):
        self.calls.append((query, list(texts)))
        return [float(len(t)) for t in texts]


class Upper(Step):
    """Scores the upper-cased texts, negates the scores and adds a column: a step that changes
    the jobs on the way down, the scores on the way up and the output."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def _down(self, jobs):
        self.seen.append([j.query for j in jobs])
        for job in jobs:
            job.columns["_upper"] = pa.array([t.upper() for t in job.texts])
        return [Job(j.query, [t.upper() + "!" for t in j.texts]) for j in jobs]

    def score(self, jobs, call_next):
        return [-s for s in call_next(self._down(jobs))]

    async def ascore(self, jobs, call_next):
        return [-s for s in await call_next(self._down(jobs))]


@pytest.fixture
def with_step(monkeypatch):
    step = Upper()
    monkeypatch.setattr(_steps, "STEPS", [lambda ctx: step])
    return step


def make(config=None) -> rerankit.ScoringReranker:
    config = config or rerankit.RerankerConfig()
    return rerankit.ScoringReranker("length", config, Length(config))


def test_a_step_changes_the_texts_the_scores_and_the_output(with_step):
    reranker = make()
    out = reranker.rerank("q", ["ccc", "a", "bb"])
    # the scorer saw the step's texts; the step negated the scores, so the shortest text wins
    assert reranker.scorer.calls == [("q", ["CCC!", "A!", "BB!"])]
    assert out["text"].to_pylist() == ["a", "bb", "ccc"]
    assert out["_relevance_score"].to_pylist() == [-2.0, -3.0, -4.0]
    # the column the step added sits after _relevance_score and follows the rows' new order
    assert out.column_names[-2:] == ["_relevance_score", "_upper"]
    assert out["_upper"].to_pylist() == ["A", "BB", "CCC"]


def test_every_entry_point_goes_through_the_path(with_step):
    reranker = make(rerankit.RerankerConfig(top_n=1))
    vec = pa.table({"_rowid": pa.array([1, 2], pa.uint64()), "text": ["xx", "y"], "_distance": [0.1, 0.2]})
    fts = pa.table({"_rowid": pa.array([2, 3], pa.uint64()), "text": ["y", "zzz"], "_score": [1.0, 2.0]})
    outs = [
        reranker.rerank_vector("q", vec),
        reranker.rerank_hybrid("q", vec, fts),
        reranker.rerank_multivector([vec, fts.drop_columns(["_score"])], "q", deduplicate=True),
        asyncio.run(reranker.arerank_fts("q", fts)),
        *reranker.rerank_batch(["a", "b"], [vec, fts]),
        *asyncio.run(reranker.arerank_batch(["a", "b"], [vec, fts])),
    ]
    assert [o["_upper"].to_pylist() for o in outs] == [["Y"]] * 8
    # a batch is one trip down the path, its jobs in the order of the queries
    assert with_step.seen[-2:] == [["a", "b"], ["a", "b"]]


def test_jobs_without_texts_never_reach_the_scorer(with_step):
    reranker = make()
    empty = pa.table({"text": pa.array([], pa.string())})
    outs = reranker.rerank_batch(["a", "b", "c"], [empty, ["x", "yy"], empty])
    assert [o.num_rows for o in outs] == [0, 2, 0]
    assert reranker.scorer.calls == [("b", ["X!", "YY!"])]  # only the job with texts
    assert reranker.rerank("q", empty).num_rows == 0
    assert len(reranker.scorer.calls) == 1


def test_steps_run_outermost_first(monkeypatch):
    order: list[str] = []

    class Named(Step):
        def __init__(self, name):
            self.name = name

        def score(self, jobs, call_next):
            order.append(self.name)
            scores = call_next(jobs)
            order.append("/" + self.name)
            return scores

    monkeypatch.setattr(_steps, "STEPS", [lambda c: Named("outer"), lambda c: None, lambda c: Named("inner")])
    make().rerank("q", ["a"])
    assert order == ["outer", "inner", "/inner", "/outer"]


def test_no_step_is_built_without_its_option():
    reranker = make()
    assert reranker.path.steps == []
    assert np.array_equal(reranker.path.score([Job("q", ["ab", "c"])])[0], [2.0, 1.0])


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
