"""``rerankit serve`` with a server-side ``min_score`` per served model (Cohere's and Jina's APIs
have no threshold field), a calibrated model and a ``cascade``: each answer holds exactly what the
same reranker keeps in process, and ``/metrics`` shows the cascade's usage per stage."""

from __future__ import annotations

import re

import httpx
import pyarrow as pa
import pytest

import rerankit
from rerankit.serve import ServeSettings, create_app, load_models
from rerankit.testing import FakeRerankServer
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS
from tests.serve.serve_support import LiveServer

CALIBRATION = {"method": "platt", "slope": 6.0, "intercept": -2.0}


@pytest.fixture(scope="module")
def provider():
    with FakeRerankServer("cohere", api_key="k") as srv:
        yield srv


@pytest.fixture(scope="module")
def config(provider) -> dict:
    cohere = {"reranker": "cohere", "base_url": provider.url}
    return {
        "thresholded": {**cohere, "min_score": 0.3},
        "calibrated": {**cohere, "calibration": CALIBRATION, "min_score": 0.5},
        "cascade": {"reranker": "cascade", "stages": [{**cohere, "keep": 4}, cohere], "min_score": 0.2},
        "rrf": {"reranker": "rrf", "min_score": 0.03},  # two lists' 1 / (60 + rank) > 0.03 > one list's
    }


@pytest.fixture(scope="module")
def server(config, monkeypatch_module):
    monkeypatch_module.setenv("CO_API_KEY", "k")
    live = LiveServer(create_app(load_models(config), ServeSettings())).start()
    live.wait_ready()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def in_process(config: dict, docs) -> list[tuple[int, float]]:
    table = pa.table({"text": TEXTS, "_rowid": list(range(len(TEXTS)))}) if docs is None else docs
    out = rerankit.from_config(config).rerank(QUERY, table)
    return list(zip(out["_rowid"].to_pylist(), out["_relevance_score"].to_pylist()))


@pytest.mark.parametrize("model", ["thresholded", "calibrated", "cascade"])
@pytest.mark.parametrize("route", ["/v2/rerank", "/v1/rerank"])
def test_a_served_min_score_drops_what_the_reranker_drops(server, config, model, route):
    body = {"model": model, "query": QUERY, "documents": TEXTS}
    answer = httpx.post(f"{server.url}{route}", json=body, timeout=60).json()
    got = [(r["index"], r["relevance_score"]) for r in answer["results"]]
    want = in_process(config[model], None)
    assert 0 < len(want) < len(TEXTS), "the threshold should cut inside the list"
    assert [i for i, _ in got] == [i for i, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6)


def test_a_served_fusion_min_score(server):
    docs = [{"text": "a", "_distance": 0.1}, {"text": "b", "_distance": 0.5, "_score": 3.0},
            {"text": "c", "_score": 9.0}, {"text": "d", "_distance": 0.2, "_score": 1.0}]
    body = {"model": "rrf", "query": "q", "documents": docs}
    answer = httpx.post(f"{server.url}/v1/rerank", json=body, timeout=60).json()
    assert {r["index"] for r in answer["results"]} == {1, 3}  # b and d: found by both searches


def usage(server, field: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=60).text
    match = re.search(rf'rerankit_reranker_usage{{field="{re.escape(field)}",model="cascade"}} (\S+)', text)
    assert match, f"/metrics has no {field} of the cascade"
    return float(match.group(1))


def test_metrics_show_the_cascade_per_stage(server):
    before = [usage(server, f) for f in ("stage0.rows", "stage1.rows", "stage1.documents")]
    body = {"model": "cascade", "query": QUERY, "documents": TEXTS}
    httpx.post(f"{server.url}/v2/rerank", json=body, timeout=60)
    after = [usage(server, f) for f in ("stage0.rows", "stage1.rows", "stage1.documents")]
    assert [a - b for a, b in zip(after, before)] == [len(TEXTS), 4, 4]
