"""rerankit serve: the real server on 127.0.0.1, called by clients nobody here wrote (the official
``cohere`` SDK), by rerankit's own cohere, jina and tei plugins, and by raw HTTP for the errors.

One module-scoped server serves a tiny local cross-encoder (built and saved by the test, loaded by
path), the ``rrf`` fusion reranker and a deterministic word scorer; every answer is compared with
the same reranker called in process.
"""

from __future__ import annotations

import asyncio
import os
import re

import httpx
import pyarrow as pa
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import rerankit
from rerankit.serve import Limits, ServeSettings, create_app, load_models
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, build_tiny
from tests.serve.serve_support import LiveServer, word_reranker

KEY = "secret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUERIES = [QUERY, "supersonic wing lift", "jet engine", "flow over a cylinder", "shock wave", "aircraft model"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("serve-ce")))


@pytest.fixture(scope="module")
def config(model_path: str) -> dict:
    return {
        "tiny": {"reranker": "crossencoder", "model_name": model_path, "serve": {"max_wait_ms": 30}},
        "rrf": {"reranker": "rrf"},
        "tiny-cached": {"reranker": "crossencoder", "model_name": model_path, "cache": {"backend": "memory"}},
    }


@pytest.fixture(scope="module")
def server(config: dict):
    models = load_models(config)
    models["words"] = word_reranker()
    settings = ServeSettings(
        limits=Limits(max_documents=40, max_text_chars=3000, max_body_bytes=100_000, request_timeout=30),
        api_keys=(KEY, "second-key"),
    )
    live = LiveServer(create_app(models, settings)).start()
    live.wait_ready()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def local(model_path: str) -> rerankit.Reranker:
    """The served cross-encoder, in process."""
    return rerankit.get_reranker("crossencoder", model_name=model_path)


def in_process(reranker: rerankit.Reranker, query: str, docs: list[str]) -> list[tuple[int, float]]:
    out = reranker.rerank(query, pa.table({"text": docs, "i": list(range(len(docs)))}))
    return list(zip(out["i"].to_pylist(), out["_relevance_score"].to_pylist()))


def same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5, abs=1e-6)


# -- clients nobody here wrote ----------------------------------------------------------------------
def test_cohere_sdk_reranks_like_in_process(server: LiveServer, local: rerankit.Reranker) -> None:
    import cohere

    client = cohere.ClientV2(api_key=KEY, base_url=server.url)
    answer = client.rerank(model="tiny", query=QUERY, documents=TEXTS, top_n=5)
    got = [(r.index, r.relevance_score) for r in answer.results]
    same(got, in_process(local, QUERY, TEXTS)[:5])
    assert answer.id and answer.meta is not None


def test_cohere_sdk_gets_its_own_errors(server: LiveServer) -> None:
    import cohere
    from cohere.core.api_error import ApiError

    client = cohere.ClientV2(api_key=KEY, base_url=server.url)
    with pytest.raises(ApiError) as unknown:
        client.rerank(model="nope", query=QUERY, documents=TEXTS)
    assert unknown.value.status_code == 404 and "'nope' not found" in unknown.value.body["message"]
    with pytest.raises(ApiError) as wrong_key:
        cohere.ClientV2(api_key="wrong", base_url=server.url).rerank(model="tiny", query=QUERY, documents=TEXTS)
    assert wrong_key.value.status_code == 401
    with pytest.raises(ApiError) as too_many:
        client.rerank(model="tiny", query=QUERY, documents=["doc"] * 41)
    assert too_many.value.status_code == 400 and "too many documents" in too_many.value.body["message"]


@pytest.mark.parametrize("plugin", ["cohere", "jina", "tei"])
def test_rerankit_plugins_pointed_at_the_server(server: LiveServer, local: rerankit.Reranker, plugin: str) -> None:
    options = {"api_key": KEY, "base_url": server.url}
    if plugin != "tei":  # TEI has no model field: /rerank serves the first model of the config
        options["model_name"] = "tiny"
    remote = rerankit.get_reranker(plugin, **options)
    for query in QUERIES[:3]:
        same(in_process(remote, query, TEXTS), in_process(local, query, TEXTS))
    remote.close()


# -- the three dialects over raw HTTP -----------------------------------------------------------------
def test_v1_rerank_echoes_documents_and_cuts_top_n(server: LiveServer, local: rerankit.Reranker) -> None:
    body = {"model": "tiny", "query": QUERY, "documents": TEXTS, "top_n": 3}
    answer = httpx.post(f"{server.url}/v1/rerank", json=body, headers=AUTH).json()
    want = in_process(local, QUERY, TEXTS)[:3]
    same([(r["index"], r["relevance_score"]) for r in answer["results"]], want)
    assert [r["document"] for r in answer["results"]] == [{"text": TEXTS[i]} for i, _ in want]
    body["return_documents"] = False
    answer = httpx.post(f"{server.url}/v1/rerank", json=body, headers=AUTH).json()
    assert all("document" not in r for r in answer["results"]) and answer["model"] == "tiny"


def test_tei_rerank_is_a_bare_array(server: LiveServer, local: rerankit.Reranker) -> None:
    body = {"query": QUERY, "texts": TEXTS, "return_text": True, "raw_scores": False, "truncate": True}
    answer = httpx.post(f"{server.url}/rerank", json=body, headers=AUTH).json()
    assert isinstance(answer, list)
    same([(r["index"], r["score"]) for r in answer], in_process(local, QUERY, TEXTS))
    assert all(r["text"] == TEXTS[r["index"]] for r in answer)


def test_max_tokens_per_doc_cuts_documents_to_words(server: LiveServer, local: rerankit.Reranker) -> None:
    body = {"model": "tiny", "query": QUERY, "documents": TEXTS, "max_tokens_per_doc": 3}
    answer = httpx.post(f"{server.url}/v2/rerank", json=body, headers=AUTH).json()
    cut = [" ".join(t.split()[:3]) for t in TEXTS]
    same([(r["index"], r["relevance_score"]) for r in answer["results"]], in_process(local, QUERY, cut))


def test_fusion_reranker_fuses_distance_and_score_fields(server: LiveServer) -> None:
    docs = [
        {"text": "a", "_distance": 0.1}, {"text": "b", "_distance": 0.5, "_score": 3.0},
        {"text": "c", "_score": 9.0}, {"text": "d", "_distance": 0.2, "_score": 1.0},
    ]
    body = {"model": "rrf", "query": "q", "documents": docs}
    answer = httpx.post(f"{server.url}/v1/rerank", json=body, headers=AUTH).json()

    # each search's results in its own order: distance ascending, score descending
    vector = pa.table({"text": ["a", "d", "b"], "_rowid": [0, 3, 1], "_distance": [0.1, 0.2, 0.5]})
    fts = pa.table({"text": ["c", "b", "d"], "_rowid": [2, 1, 3], "_score": [9.0, 3.0, 1.0]})
    want = rerankit.get_reranker("rrf").rerank_hybrid("q", vector, fts)
    same([(r["index"], r["relevance_score"]) for r in answer["results"]],
         list(zip(want["_rowid"].to_pylist(), want["_relevance_score"].to_pylist())))
    plain = httpx.post(f"{server.url}/v1/rerank", json={**body, "documents": ["a", "b"]}, headers=AUTH)
    assert plain.status_code == 400 and "'_distance'" in plain.json()["detail"]


# -- errors, in each API's own shape ------------------------------------------------------------------
Q = {"model": "tiny", "query": "q"}


@pytest.mark.parametrize(
    ("path", "body", "status", "check"),
    [
        ("/v2/rerank", {**Q, "documents": []}, 400, lambda b: "must not be empty" in b["message"]),
        ("/v2/rerank", {**Q, "documents": ["a"], "extra": 1}, 422, lambda b: "extra" in b["message"]),
        ("/v2/rerank", {**Q, "documents": ["x" * 3001]}, 400, lambda b: "index 0 has 3001 characters" in b["message"]),
        ("/v1/rerank", {"model": "tiny", "documents": ["a"]}, 422, lambda b: b["detail"][0]["loc"][-1] == "query"),
        ("/v1/rerank", {**Q, "model": "ghost", "documents": ["a"]}, 404, lambda b: "'ghost' not found" in b["detail"]),
        ("/v1/rerank", {**Q, "documents": ["x" * 3001]}, 422, lambda b: b["detail"][0]["type"] == "string_too_long"),
        ("/rerank", {"query": "q"}, 422, lambda b: b.startswith(b"Failed to deserialize") and b"texts" in b),
        ("/rerank", {"query": "q", "texts": ["a"] * 41}, 422,
         lambda b: b["error_type"] == "Validation" and "batch size 41" in b["error"]),
    ],
)
def test_bad_requests_get_each_apis_error(server: LiveServer, path, body, status, check) -> None:
    response = httpx.post(f"{server.url}{path}", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    payload = response.json() if response.headers.get("content-type", "").startswith("application/json") \
        else response.content
    assert check(payload), payload
    assert "Traceback" not in response.text


def test_keys_body_size_and_json(server: LiveServer) -> None:
    body = {"model": "tiny", "query": "q", "documents": ["a"]}
    assert httpx.post(f"{server.url}/v2/rerank", json=body).status_code == 401
    assert httpx.post(f"{server.url}/v2/rerank", json=body, headers={"Authorization": "Bearer second-key"}).is_success
    tei = httpx.post(f"{server.url}/rerank", json={"query": "q", "texts": ["a"]}, headers={"Authorization": "Bearer x"})
    assert (tei.status_code, tei.content) == (401, b"")
    jina = httpx.post(f"{server.url}/v1/rerank", json=body, headers={"Authorization": KEY})  # no scheme
    assert jina.status_code == 401 and "detail" in jina.json()
    big = {"model": "tiny", "query": "q", "documents": ["word " * 500] * 40}
    too_big = httpx.post(f"{server.url}/v2/rerank", json=big, headers=AUTH)
    assert too_big.status_code == 413 and "too large" in too_big.json()["message"]
    bad = httpx.post(f"{server.url}/v2/rerank", content=b"{nope", headers={**AUTH, "content-type": "application/json"})
    assert bad.status_code == 400 and "must be JSON" in bad.json()["message"]
    assert KEY not in repr(server.service.settings) and "2 key(s)" in repr(server.service.settings)


def test_a_raising_scorer_answers_500_without_traceback(server: LiveServer) -> None:
    body = {"model": "words", "query": "boom", "documents": ["a", "b"]}
    response = httpx.post(f"{server.url}/v2/rerank", json=body, headers=AUTH)
    assert response.status_code == 500
    assert "RuntimeError" in response.json()["message"] and "Traceback" not in response.text
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}


# -- health, models, metrics, batching ----------------------------------------------------------------
def test_models_health_and_readiness(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    models = httpx.get(f"{server.url}/v1/models", headers=AUTH).json()
    assert [(m["id"], m["reranker"], m["batched"]) for m in models["data"]] == [
        ("tiny", "crossencoder", True), ("rrf", "rrf", False), ("tiny-cached", "crossencoder", True),
        ("words", "words", True),
    ]
    ready = httpx.get(f"{server.url}/ready")  # a probe without the key: the status only
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    ready = httpx.get(f"{server.url}/ready", headers=AUTH)
    assert ready.status_code == 200 and ready.json()["models"] == {
        "tiny": "ready", "rrf": "ready", "tiny-cached": "ready", "words": "ready"
    }


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_concurrent_requests_share_batches_and_get_their_own_scores(
    server: LiveServer, local: rerankit.Reranker
) -> None:
    cases = [(QUERIES[i % len(QUERIES)], TEXTS[i % 5 :] + TEXTS[: i % 3]) for i in range(24)]
    before = httpx.get(f"{server.url}/metrics").text

    async def call_all() -> list[list[tuple[int, float]]]:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60) as client:
            async def one(query: str, docs: list[str]) -> list[tuple[int, float]]:
                r = await client.post("/v2/rerank", json={"model": "tiny", "query": query, "documents": docs})
                r.raise_for_status()
                return [(x["index"], x["relevance_score"]) for x in r.json()["results"]]

            return await asyncio.gather(*(one(q, d) for q, d in cases))

    answers = asyncio.run(call_all())
    for (query, docs), got in zip(cases, answers):
        same(got, in_process(local, query, docs))
    after = httpx.get(f"{server.url}/metrics").text
    requests = metric(after, "rerankit_batch_requests_sum", model="tiny") - metric(
        before, "rerankit_batch_requests_sum", model="tiny")
    batches = metric(after, "rerankit_batch_requests_count", model="tiny") - metric(
        before, "rerankit_batch_requests_count", model="tiny")
    assert requests == 24 and batches < 24, (requests, batches)  # merged: fewer batches than requests
    assert metric(after, "rerankit_requests_total", api="cohere", model="tiny", status="200") >= 24
    assert 'rerankit_request_duration_seconds_bucket{api="cohere",model="tiny",le="+Inf"}' in after
    assert metric(after, "rerankit_queue_depth", model="tiny") == 0
    assert metric(after, "rerankit_documents_total", model="tiny") >= sum(len(d) for _, d in cases)


def test_metrics_export_each_rerankers_usage(server: LiveServer) -> None:
    """The core's usage record (here the score cache's hits and misses) reaches /metrics."""
    body = {"model": "tiny-cached", "query": "usage", "documents": ["one text", "another text"]}
    before = httpx.get(f"{server.url}/metrics").text
    for _ in range(2):
        httpx.post(f"{server.url}/v2/rerank", json=body, headers=AUTH, timeout=60).raise_for_status()
    after = httpx.get(f"{server.url}/metrics").text

    def grown(field: str) -> float:
        return metric(after, "rerankit_reranker_usage", field=field, model="tiny-cached") - metric(
            before, "rerankit_reranker_usage", field=field, model="tiny-cached")

    assert grown("cache_misses") == 2 and grown("cache_hits") == 2  # the second call costs nothing
