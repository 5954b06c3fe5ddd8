"""rerankit serve with the fast CPU backends: a serve config naming ``backend = "onnx"`` or
``"openvino"`` (with ``dtype``, ``quantize`` and ``threads``) goes config -> ``get_reranker`` ->
batcher -> backend in the real server on 127.0.0.1.

One module-scoped server serves a tiny cross-encoder (built and saved by the test, loaded by path)
on torch, ONNX Runtime (float32, int8) and OpenVINO (float32, bf16), with two worker threads per
model, so two merged batches can reach one runtime at once. Every model exports and loads while
the server starts (all at once, each in its own thread), before it says it is ready.
"""

from __future__ import annotations

import asyncio
import os
import re
import time

import httpx
import numpy as np
import pytest
import rerankit_crossencoder

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import rerankit
import rerankit.local
from rerankit.serve import ServeSettings, create_app, load_models
from tests.plugins.backend_support import EXACT, assert_ranks_kept, export_cache, pool, spread  # noqa: F401
from tests.plugins.crossencoder.crossencoder_models import QUERY, TEXTS, WORDS, build_tiny
from tests.serve.serve_support import LiveServer

#: Served name -> the model's options besides reranker and model_name.
BACKENDS = {
    "torch": {},
    "onnx": {"backend": "onnx", "threads": 1},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
    "openvino": {"backend": "openvino", "threads": 1},
    "openvino-bf16": {"backend": "openvino", "dtype": "bfloat16"},
}
FLOAT32 = ["onnx", "openvino"]
REDUCED = ["onnx-int8", "openvino-bf16"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("serve-backends")))


@pytest.fixture(scope="module")
def config(model_path: str) -> dict:
    """The serve config, as a TOML file's tables would read (batches merged within 20 ms)."""
    return {
        name: {"reranker": "crossencoder", "model_name": model_path, "activation": "raw", **options,
               "serve": {"max_wait_ms": 20}}
        for name, options in BACKENDS.items()
    }


@pytest.fixture(scope="module")
def server(config: dict, export_cache):  # noqa: F811 - the fixture of that name
    live = LiveServer(create_app(load_models(config), ServeSettings(threads_per_model=2))).start()
    deadline = time.monotonic() + 300
    while not live.service.ready:  # a model that failed to load fails the module at once, with its error
        states = httpx.get(f"{live.url}/ready").json()["models"]
        failed = {name: state for name, state in states.items() if state not in ("ready", "loading")}
        if failed or time.monotonic() > deadline:
            live.stop()
            pytest.fail(f"served models did not load: {failed or states}")
        time.sleep(0.1)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def torch_scores(model_path: str):
    """In process, torch float32: scores of TEXTS and of 200 texts of clearly different relevance."""
    reranker = rerankit.get_reranker("crossencoder", model_name=model_path, activation="raw", device="cpu")
    candidates = pool(WORDS, 1000)
    chosen = spread(candidates, reranker.scorer.score(QUERY, candidates))
    return reranker.scorer.score(QUERY, TEXTS), chosen, reranker.scorer.score(QUERY, chosen)


def served(url: str, model: str, query: str, documents: list[str]) -> list[float]:
    """The server's scores, in the documents' order."""
    answer = httpx.post(f"{url}/v2/rerank", json={"model": model, "query": query, "documents": documents},
                        timeout=120)
    assert answer.status_code == 200, answer.text
    results = sorted(answer.json()["results"], key=lambda r: r["index"])
    assert [r["index"] for r in results] == list(range(len(documents)))
    return [r["relevance_score"] for r in results]


def batches(server: LiveServer, model: str) -> tuple[float, float]:
    """(requests, forward batches) the batcher of ``model`` ran so far, from /metrics."""
    text = httpx.get(f"{server.url}/metrics").text
    found = [re.search(rf'^rerankit_batch_requests_{part}\{{model="{model}"\}} (\S+)$', text, re.M)
             for part in ("sum", "count")]
    return tuple(float(m.group(1)) if m else 0.0 for m in found)  # type: ignore[return-value]


def test_every_backend_loads_while_the_server_starts(server: LiveServer, model_path: str) -> None:
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200
    assert ready.json()["models"] == dict.fromkeys(BACKENDS, "ready")
    loaded = {entry[3:] for entry in rerankit_crossencoder.model_cache_info()["models"] if entry[0] == model_path}
    assert loaded == {("torch", None), ("onnx", None), ("onnx", "int8"), ("openvino", None)}
    dtypes = {(entry[2], entry[3]) for entry in rerankit_crossencoder.model_cache_info()["models"]
              if entry[0] == model_path}
    assert ("bfloat16", "openvino") in dtypes and ("float32", "openvino") in dtypes
    assert rerankit.local.export_info()["converted"] >= 3  # onnx, onnx int8, openvino (bf16 may share it)


@pytest.mark.parametrize("model", FLOAT32)
def test_float32_backends_answer_as_torch_does(server: LiveServer, torch_scores, model: str) -> None:
    texts_scores, chosen, chosen_scores = torch_scores
    np.testing.assert_allclose(served(server.url, model, QUERY, TEXTS), texts_scores, atol=EXACT)
    np.testing.assert_allclose(served(server.url, model, QUERY, chosen), chosen_scores, atol=EXACT)


@pytest.mark.parametrize("model", REDUCED)
def test_reduced_precision_backends_keep_the_ranking(server: LiveServer, torch_scores, model: str) -> None:
    _, chosen, chosen_scores = torch_scores
    assert_ranks_kept(chosen_scores, served(server.url, model, QUERY, chosen))


@pytest.mark.parametrize("model", list(BACKENDS))
def test_concurrent_requests_share_batches_and_each_gets_its_own_answer(
    server: LiveServer, config: dict, model: str
) -> None:
    """Twelve clients at once, each with its own query and order of documents: the batcher merges
    them and two worker threads run merged batches on one runtime. Every answer equals the same
    reranker (the same backend and options) called in process on that request alone; with int8 and
    bf16, whose scores move a little with what shares their batch (dynamic int8 scales each
    batch's activations by their range), each answer is closest to its own request's."""
    local = rerankit.from_config({k: v for k, v in config[model].items() if k != "serve"})
    cases = [(f"{QUERY} {WORDS[i]}", TEXTS[i:] + TEXTS[:i]) for i in range(len(TEXTS))]
    before = batches(server, model)

    async def send_all() -> list[list[float]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            async def one(query: str, documents: list[str]) -> list[float]:
                answer = await http.post("/v2/rerank", json={"model": model, "query": query, "documents": documents})
                assert answer.status_code == 200, answer.text
                return [r["relevance_score"] for r in sorted(answer.json()["results"], key=lambda r: r["index"])]

            return await asyncio.gather(*(one(q, d) for q, d in cases))

    answers = asyncio.run(send_all())
    after = batches(server, model)
    wants = [local.scorer.score(query, documents) for query, documents in cases]
    for k, got in enumerate(answers):
        if model in REDUCED:
            distances = [float(np.abs(np.subtract(got, want)).max()) for want in wants]
            assert int(np.argmin(distances)) == k, distances
        else:
            np.testing.assert_allclose(got, wants[k], atol=1e-5)
    assert after[0] - before[0] == len(cases) and after[1] - before[1] < len(cases), (before, after)


def test_threads_on_the_torch_backend_is_refused_when_the_config_loads(model_path: str) -> None:
    table = {"reranker": "crossencoder", "model_name": model_path, "threads": 2}
    with pytest.raises(rerankit.ConfigError, match="threads"):
        load_models({"m": table})
