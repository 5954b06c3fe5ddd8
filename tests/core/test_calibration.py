"""The ``calibration`` option: a fitted monotone map of each row's final score to a probability.

Fitted by ``rerankit.eval.fit_calibration`` (scikit-learn is the oracle of both methods), applied
on the scoring path of a hosted reranker (a fake Cohere, whose scores are known), the raw score
kept in ``_raw_score``, the ranking unchanged, and the fitted parameters carried through config
files and pickles as any option is."""

from __future__ import annotations

import asyncio
import json
import pickle

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

import rerankit
from rerankit.eval import brier_score, expected_calibration_error, fit_calibration
from rerankit.testing import FakeRerankServer, fake_score

QUERY = "heat transfer boundary layer flow"
DOCS = [
    "heat transfer in a boundary layer",
    "boundary layer flow",
    "heat flow",
    "wing lift",
    "transfer of heat in a laminar flow",
    "boundary conditions",
    "shock wave",
    "layer of heat transfer flow boundary",
    "flow",
    "jet noise",
]


def training_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [0, 1) with many ties, labels drawn from a known curve."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.random(n), 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-(6 * x - 3)))).astype(float)
    return x, y


@pytest.fixture(scope="module")
def server():
    with FakeRerankServer("cohere", api_key="k") as srv:
        yield srv


def cohere(server, **options):
    return rerankit.get_reranker("cohere", api_key="k", base_url=server.url, **options)


def raw_scores() -> np.ndarray:
    return np.array([fake_score(QUERY, d) for d in DOCS])


def test_isotonic_equals_scikit_learn(server):
    x, y = training_data()
    fitted = fit_calibration(x, y, "isotonic")
    oracle = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    grid = np.linspace(-0.5, 1.5, 2001)
    reranker = cohere(server, calibration=fitted)
    out = reranker.rerank(QUERY, DOCS)
    expected = oracle.predict(out["_raw_score"].to_numpy().astype(np.float64))
    # the reranker's map on the fake's scores, and the fitted points on a fine grid
    assert out["_relevance_score"].to_numpy() == pytest.approx(expected.astype(np.float32), abs=1e-6)
    assert np.interp(grid, fitted["x"], fitted["y"]) == pytest.approx(oracle.predict(grid), abs=1e-12)


def test_platt_equals_scikit_learn_logistic_regression(server):
    x, y = training_data()
    fitted = fit_calibration(x, y, "platt")
    oracle = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    assert fitted["slope"] == pytest.approx(oracle.coef_[0][0], rel=1e-6)
    assert fitted["intercept"] == pytest.approx(oracle.intercept_[0], rel=1e-6)
    out = cohere(server, calibration=fitted).rerank(QUERY, DOCS)
    expected = oracle.predict_proba(out["_raw_score"].to_numpy().astype(np.float64)[:, None])[:, 1]
    assert out["_relevance_score"].to_numpy() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_the_ranking_is_unchanged_and_the_raw_score_kept(server, method):
    plain = cohere(server).rerank(QUERY, DOCS)
    calibrated = cohere(server, calibration=fit_calibration(*training_data(), method)).rerank(QUERY, DOCS)
    assert calibrated["text"].to_pylist() == plain["text"].to_pylist()
    assert calibrated["_raw_score"].to_pylist() == plain["_relevance_score"].to_pylist()
    probabilities = calibrated["_relevance_score"].to_numpy()
    assert np.all(np.diff(probabilities) <= 0) and probabilities.min() >= 0 and probabilities.max() <= 1
    assert not np.array_equal(probabilities, plain["_relevance_score"].to_numpy())


def test_rows_an_isotonic_step_ties_keep_their_raw_order(server):
    # one flat step over every score: all rows tie at 0.5, the raw order decides
    flat = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.5, 0.5]}
    out = cohere(server, calibration=flat).rerank(QUERY, DOCS)
    assert out["_relevance_score"].to_pylist() == [0.5] * len(DOCS)
    assert out["text"].to_pylist() == [DOCS[i] for i in np.argsort(-raw_scores(), kind="stable")]


def test_every_entry_point_and_the_async_twins_calibrate(server):
    fitted = fit_calibration(*training_data(), "platt")
    reranker = cohere(server, calibration=fitted)
    tables = [
        reranker.rerank(QUERY, DOCS),
        reranker.rerank_batch([QUERY], [DOCS])[0],
        asyncio.run(reranker.arerank(QUERY, DOCS)),
        asyncio.run(reranker.arerank_batch([QUERY], [DOCS]))[0],
    ]
    for out in tables:
        raw = out["_raw_score"].to_numpy().astype(np.float64)
        expected = 1 / (1 + np.exp(-(fitted["slope"] * raw + fitted["intercept"])))
        assert out["_relevance_score"].to_numpy() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_fitted_parameters_round_trip_through_config_files(server, tmp_path, monkeypatch, method, suffix):
    monkeypatch.setenv("CO_API_KEY", "k")  # keys never sit in config files, nor travel in pickles
    fitted = fit_calibration(*training_data(), method)
    path = tmp_path / f"reranker{suffix}"
    config = {"reranker": "cohere", "base_url": server.url, "calibration": fitted}
    if suffix == ".json":
        path.write_text(json.dumps(config))
    else:  # floats and lists of floats are written alike in TOML and JSON
        table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in fitted.items())
        path.write_text(f'reranker = "cohere"\nbase_url = "{server.url}"\n[calibration]\n{table}\n')
    read = rerankit.from_config(path)
    assert read.config.calibration.model_dump(exclude_none=True) == fitted
    direct = cohere(server, calibration=fitted).rerank(QUERY, DOCS)
    assert read.rerank(QUERY, DOCS).equals(direct)
    again = pickle.loads(pickle.dumps(read))
    assert again.config.calibration == read.config.calibration
    assert again.rerank(QUERY, DOCS).equals(direct)


@pytest.mark.parametrize(
    ("calibration", "words"),
    [
        ({"method": "platt", "slope": 2.0}, "needs slope and intercept"),
        ({"method": "platt", "slope": -2.0, "intercept": 0.0}, "greater than 0"),
        ({"method": "isotonic", "x": [0.0, 0.5], "y": [0.6, 0.2]}, "non-decreasing"),
        ({"method": "isotonic", "x": [0.5, 0.0], "y": [0.1, 0.2]}, "strictly increasing"),
        ({"method": "sigmoid", "slope": 1.0, "intercept": 0.0}, "calibration.method"),
    ],
)
def test_a_bad_calibration_is_a_config_error_naming_it(server, calibration, words):
    with pytest.raises(rerankit.ConfigError) as caught:
        cohere(server, calibration=calibration)
    assert "calibration" in str(caught.value) and words in str(caught.value)


def test_ece_and_brier_match_a_reference_computation():
    p = np.array([0.05, 0.15, 0.15, 0.95, 0.5, 0.55, 1.0, 0.0])
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0], dtype=float)
    # by hand: bins 0 {0.05, 0.0}, 1 {0.15, 0.15}, 5 {0.5, 0.55}, 9 {0.95, 1.0}
    ece = (2 * abs(0.025 - 0) + 2 * abs(0.15 - 0.5) + 2 * abs(0.525 - 0.5) + 2 * abs(0.975 - 1)) / 8
    assert expected_calibration_error(p, y) == pytest.approx(ece)
    assert brier_score(p, y) == pytest.approx(np.mean((p - y) ** 2))
    with pytest.raises(rerankit.eval.EvalError, match="labels must be 0"):
        brier_score(p, y * 2)


def test_the_cache_keeps_raw_scores_so_a_refitted_calibration_rescores_nothing(server, tmp_path):
    cache = {"backend": "sqlite", "path": str(tmp_path / "scores.sqlite")}
    first = cohere(server, cache=cache, calibration={"method": "platt", "slope": 2.0, "intercept": 0.0})
    before = server.attempts
    a = first.rerank(QUERY, DOCS)
    assert server.attempts == before + 1
    refitted = cohere(server, cache=cache, calibration={"method": "platt", "slope": 9.0, "intercept": -3.0})
    b = refitted.rerank(QUERY, DOCS)
    assert server.attempts == before + 1 and refitted.usage.cache_hits == len(DOCS)
    assert b["_raw_score"].equals(a["_raw_score"]) and not b["_relevance_score"].equals(a["_relevance_score"])
