"""rerankit serve on Ray Serve: 2 replicas on a local 2-CPU Ray runtime answer like in process.

The served scorer is deterministic and light (word overlap), so the test measures the deployment
(replicas, routing, the same routes and errors), not model loading.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pyarrow as pa
import pytest

import rerankit
from rerankit.serve import ServeSettings, ray_app
from tests.serve import serve_support
from tests.serve.serve_support import word_reranker

QUERIES = [f"wing {w} flow" for w in ("lift", "drag", "heat", "shock", "jet", "body", "thin", "mach")]
DOCS = ["lift of a thin wing", "drag at high mach", "heat flow in a layer", "shock on a body", "jet flow", "wing"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def url():
    import ray
    from ray import serve

    ray.init(num_cpus=2, include_dashboard=False)
    ray.cloudpickle.register_pickle_by_value(serve_support)  # replicas need not find the tests package
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = ray_app({"words": word_reranker(), "rrf": rerankit.get_reranker("rrf")},
                      ServeSettings(), replicas=2, num_cpus=0.5)
        serve.run(app, route_prefix="/", blocking=False)
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(serve_support)
        ray.shutdown()


def test_two_replicas_answer_like_in_process(url: str) -> None:
    async def call_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*(
                client.post("/v2/rerank", json={"model": "words", "query": q, "documents": DOCS})
                for q in QUERIES * 4
            ))

    answers = asyncio.run(call_all())
    local = word_reranker()
    for query, response in zip(QUERIES * 4, answers):
        assert response.status_code == 200, response.text
        out = local.rerank(query, pa.table({"text": DOCS, "i": list(range(len(DOCS)))}))
        got = [(r["index"], r["relevance_score"]) for r in response.json()["results"]]
        assert [i for i, _ in got] == out["i"].to_pylist()
        assert [s for _, s in got] == pytest.approx(out["_relevance_score"].to_pylist(), abs=1e-6)
    assert len({r.headers["x-rerankit-replica"] for r in answers}) == 2  # both replicas answered


def test_replicas_speak_the_same_errors(url: str) -> None:
    unknown = httpx.post(f"{url}/v1/rerank", json={"model": "ghost", "query": "q", "documents": ["a"]})
    assert unknown.status_code == 404 and "'ghost' not found" in unknown.json()["detail"]
    tei = httpx.post(f"{url}/rerank", json={"query": "wing lift", "texts": DOCS})
    assert tei.status_code == 200 and {r["index"] for r in tei.json()} == set(range(len(DOCS)))
    assert httpx.get(f"{url}/ready").status_code == 200
