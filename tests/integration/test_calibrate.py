"""``rerankit calibrate`` on a tiny BEIR collection written by the test, with the packaged MiniLM
(the ``embedding`` reranker scoring from the index's stored vectors): the config it writes is
read by ``from_config`` and calibrates without changing the ranking, the fit equals
``fit_calibration`` on the same candidates, the cross-validation holds each fold out, the graded
judgments are cut where ``--relevant`` says, and what cannot be calibrated is refused."""

from __future__ import annotations

import logging

import numpy as np
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import rerankit
from rerankit._cli import main
from rerankit.eval import EvalError, calibrate, evaluate, fit_calibration, load_collection
from tests.integration.test_eval import model_path, write_collection


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_collection(tmp_path_factory.mktemp("tiny-cal") / "tiny")


@pytest.fixture(scope="module")
def cache(tiny, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cal-cache")
    evaluate(tiny, retrievers=["bm25"], cache_dir=cache, embedding_model=model_path())
    return cache


@pytest.fixture(scope="module")
def embedding():
    return {"reranker": "embedding", "model_name": model_path(), "vector_column": "vector"}


@pytest.fixture(autouse=True)
def _cli_logging_restored():
    logger = logging.getLogger("rerankit")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def run(tiny, cache, embedding, **options):
    defaults = {"retriever": "vector", "candidates": 12, "folds": 2, "cache_dir": cache,
                "embedding_model": model_path()}
    return calibrate([tiny], embedding, **{**defaults, **options})


def test_the_command_writes_a_config_that_calibrates(tiny, cache, embedding, tmp_path, capsys):
    config = tmp_path / "embedding.toml"
    config.write_text("\n".join(f'{k} = "{v}"' for k, v in embedding.items()) + "\n")
    out, png = tmp_path / "calibrated.toml", tmp_path / "reliability.png"
    code = main(["calibrate", str(tiny), "-c", str(config), "--method", "isotonic", "--retriever", "vector",
                 "--candidates", "12", "--folds", "2", "--cache-dir", str(cache), "--embedding-model",
                 model_path(), "--no-progress", "-o", str(out), "--plot", str(png)])
    printed = capsys.readouterr().out
    assert code == 0 and "ECE" in printed and "Brier" in printed and "isotonic (held out)" in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = tomllib.loads(out.read_text())
    assert written["calibration"]["method"] == "isotonic" and written["vector_column"] == "vector"
    assert rerankit.from_config(out).config.calibration.model_dump(exclude_none=True) == written["calibration"]
    # the same model scoring the texts themselves (the documents here carry no vectors)
    text_only = {k: v for k, v in written.items() if k != "vector_column"}
    calibrated = rerankit.from_config(text_only)
    plain = rerankit.from_config({k: v for k, v in text_only.items() if k != "calibration"})
    query = "planets and moons of the solar system"
    docs = load_collection(tiny).texts
    a, b = calibrated.rerank(query, docs), plain.rerank(query, docs)
    assert a["text"].to_pylist() == b["text"].to_pylist()
    assert a["_raw_score"].to_pylist() == b["_relevance_score"].to_pylist()
    assert 0 <= min(a["_relevance_score"].to_pylist()) <= max(a["_relevance_score"].to_pylist()) <= 1


def test_the_fit_and_the_cross_validation(tiny, cache, embedding):
    result = run(tiny, cache, embedding, method="platt")
    assert result.calibration == fit_calibration(result.raw, result.labels, "platt")
    assert result.collections == [("tiny", 6)] and result.scored == 6 * 12
    # the held-out probabilities of each query come from a fit that did not see it
    fitted = result.calibration
    on_all = 1 / (1 + np.exp(-(fitted["slope"] * result.raw + fitted["intercept"])))
    assert not np.allclose(result.held_out, on_all)
    for half in (result.held_out < 0, result.held_out > 1):
        assert not half.any()
    assert result.before.ece != result.after.ece and 0 <= result.after.brier <= 1


def test_relevant_is_the_lowest_grade_counted(tiny, cache, embedding):
    # every topic's first two documents are graded 2, the other two 1 (see write_collection)
    any_grade = run(tiny, cache, embedding, relevant=1, candidates=24)  # every document a candidate
    top_grade = run(tiny, cache, embedding, relevant=2, candidates=24)
    assert any_grade.positives == 6 * 4 and top_grade.positives == 6 * 2
    with pytest.raises(EvalError, match="every scored candidate is not relevant"):
        run(tiny, cache, embedding, relevant=3, candidates=24)


@pytest.mark.parametrize(
    ("reranker", "words"),
    [("rrf", "has no calibration option"), ({"reranker": "cascade", "stages": [{"reranker": "rrf"}]}, "cascades")],
)
def test_what_cannot_be_calibrated_is_refused(tiny, cache, reranker, words):
    with pytest.raises(EvalError, match=words):
        calibrate([tiny], reranker, cache_dir=cache, embedding_model=model_path())
