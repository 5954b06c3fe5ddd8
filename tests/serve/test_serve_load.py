"""rerankit serve under load and faults (loopback only, bounded): a few hundred concurrent requests
of mixed sizes, clients that disconnect mid-request, a scorer that raises; then timeouts, a full
queue and a graceful shutdown. Nothing is lost or crossed, errors are typed, the server stays up.

The scorers are deterministic per (query, text) pair (``fake_score``) and every query is unique,
so an answer carrying another request's scores would not match its in-process ranking.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time

import httpx
import pyarrow as pa
import pytest

import rerankit
from rerankit.serve import Batching, Limits, ServeSettings, create_app
from rerankit.serve._models import ServedModel
from tests.serve.serve_support import LiveServer, WordScorer, word_reranker

WORDS = "heat flow wing shock layer plate jet drag lift mach body thin turbulent laminar engine speed".split()


def sleepy(delay: float) -> rerankit.ScoringReranker:
    reranker = word_reranker("sleepy")
    reranker.scorer.delay = delay
    return reranker


@pytest.fixture(scope="module")
def server():
    models = {"words": word_reranker(), "sleepy": sleepy(2.0), "rrf": rerankit.get_reranker("rrf")}
    settings = ServeSettings(limits=Limits(request_timeout=20), batching=Batching(max_wait_ms=5, max_documents=128))
    live = LiveServer(create_app(models, settings)).start()
    live.wait_ready()
    yield live
    live.stop()


def expected(query: str, docs: list) -> list[tuple[int, float]]:
    out = word_reranker().rerank(query, pa.table({"text": docs, "i": list(range(len(docs)))}))
    return list(zip(out["i"].to_pylist(), out["_relevance_score"].to_pylist()))


def hang_up(url: str, i: int) -> None:
    """A client that sends a slow request and closes the connection before the answer."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": "sleepy", "query": f"slow {i}", "documents": ["a", "b"]}).encode()
    head = f"POST /v2/rerank HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(1.0)  # long enough for a busy server to have started on it
    # closed: the answer (due two seconds after the server started on it) has nobody to go to


def metric_sum(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_hundreds_of_concurrent_requests_with_faults(server: LiveServer) -> None:
    rng = random.Random(7)
    normal = []
    for i in range(180):
        docs = [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 40))]
        normal.append((f"request {i} " + " ".join(rng.choices(WORDS, k=3)), docs))
    fusion_docs = [{"text": f"d{i}", "_distance": i / 10} if i % 2 else {"text": f"d{i}", "_score": float(i)}
                   for i in range(10)]

    async def run() -> tuple[list, list, list]:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            async def rerank(model: str, query: str, docs: list) -> httpx.Response:
                return await client.post("/v2/rerank" if model != "rrf" else "/v1/rerank",
                                         json={"model": model, "query": query, "documents": docs})

            return await asyncio.gather(
                asyncio.gather(*(rerank("words", q, d) for q, d in normal)),
                asyncio.gather(*(rerank("words", f"boom {i}", ["x", "y"]) for i in range(30))),
                asyncio.gather(*(rerank("rrf", f"fuse {i}", fusion_docs) for i in range(20))),
            )

    quitters = [threading.Thread(target=hang_up, args=(server.url, i)) for i in range(8)]
    for thread in quitters:
        thread.start()
    answers, booms, fused = asyncio.run(run())
    for thread in quitters:
        thread.join()
    for (query, docs), response in zip(normal, answers):  # every request got exactly its own scores
        assert response.status_code == 200, response.text
        got = [(r["index"], r["relevance_score"]) for r in response.json()["results"]]
        want = expected(query, docs)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    for response in booms:  # the raising scorer fails only its own requests, typed, no traceback
        assert response.status_code == 500
        assert "RuntimeError" in response.json()["message"] and "Traceback" not in response.text
    vector = pa.table({"text": [f"d{i}" for i in range(1, 10, 2)], "_rowid": list(range(1, 10, 2)),
                       "_distance": [i / 10 for i in range(1, 10, 2)]})
    fts = pa.table({"text": [f"d{i}" for i in range(8, -1, -2)], "_rowid": list(range(8, -1, -2)),
                    "_score": [float(i) for i in range(8, -1, -2)]})  # best first
    want_fused = rerankit.get_reranker("rrf").rerank_hybrid("q", vector, fts)["_rowid"].to_pylist()
    for response in fused:
        assert [r["index"] for r in response.json()["results"]] == want_fused

    deadline = time.monotonic() + 10
    while True:  # the server notices the disconnects, and drains
        text = httpx.get(f"{server.url}/metrics").text
        gone = metric_sum(text, 'rerankit_errors_total{api="cohere",type="client_disconnected"}')
        if gone == 8 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert gone == 8
    assert metric_sum(text, "rerankit_requests_in_flight") == 0
    assert metric_sum(text, "rerankit_queue_depth{") == 0  # the requests waiting for a batch: none left behind
    assert metric_sum(text, 'rerankit_requests_total{api="cohere",model="words",status="200"}') == 180
    assert metric_sum(text, 'rerankit_requests_total{api="cohere",model="words",status="500"}') == 30
    batches = metric_sum(text, 'rerankit_batch_requests_count{model="words"}')
    assert batches < 210  # requests shared batches
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    scorer = server.service.models["words"].reranker.scorer
    assert scorer.largest_batch > 1
    usage = httpx.get(f"{server.url}/metrics").text  # the reranker's `usage`, per field
    assert metric_sum(usage, 'rerankit_reranker_usage{field="requests",model="words"}') == scorer.calls


def test_timeout_and_full_queue_are_typed() -> None:
    models = {"sleepy": sleepy(2.0)}
    settings = ServeSettings(limits=Limits(request_timeout=0.5, max_queue_documents=5))
    live = LiveServer(create_app(models, settings)).start()
    try:
        url = f"{live.url}/v2/rerank"
        slow = httpx.post(url, json={"model": "sleepy", "query": "slow", "documents": ["a"]})
        assert slow.status_code == 504 and "timed out after 0.5 s" in slow.json()["message"]

        def busy() -> None:  # occupies the model's only thread for a second
            httpx.post(url, json={"model": "sleepy", "query": "slow again", "documents": ["a"]})

        thread = threading.Thread(target=busy)
        thread.start()
        time.sleep(0.2)

        async def two() -> list[httpx.Response]:
            async with httpx.AsyncClient() as client:
                body = {"model": "sleepy", "query": "q", "documents": ["a", "b", "c", "d"]}
                return await asyncio.gather(client.post(url, json=body), client.post(url, json=body))

        responses = asyncio.run(two())
        thread.join()
        statuses = sorted(r.status_code for r in responses)
        # one did not fit the queue of 5 documents (503); the other waited past the timeout (504)
        assert statuses == [503, 504], statuses
        refused = next(r for r in responses if r.status_code == 503)
        assert refused.headers["retry-after"] == "1" and "overloaded" in refused.json()["message"]
        assert httpx.get(f"{live.url}/health").status_code == 200
    finally:
        live.stop()


def test_graceful_shutdown_finishes_in_flight_requests() -> None:
    scorer_reranker = sleepy(1.0)
    live = LiveServer(create_app({"sleepy": ServedModel("sleepy", scorer_reranker)})).start()
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{live.url}/v2/rerank", json={"model": "sleepy", "query": "slow", "documents": ["a", "b"]}, timeout=30
    )))
    thread.start()
    time.sleep(0.3)
    live.stop()  # as SIGTERM: stop accepting, finish what is in flight, then shut down
    thread.join()
    assert answers[0].status_code == 200 and len(answers[0].json()["results"]) == 2
    assert not live.thread.is_alive()
    assert isinstance(scorer_reranker.scorer, WordScorer) and scorer_reranker.scorer.calls >= 1
