"""``rerankit serve`` from the command line: bad configs are one line and exit 1; the real command
starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

import rerankit
from rerankit._cli import main


def test_what_to_serve_must_be_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 1
    assert "--config FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[hosted]\nreranker = "cohere"\napi_key = "sk-secret"\n', "reads its key from its environment variable"),
        ('reranker = "rrf"\n', "must be a table naming a reranker"),
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nmax_wait = 3\n', "unknown option(s) ['max_wait']"),
        ('[fused]\nreranker = "nope"\n', "nope"),
        # the serve table is typed like every config
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nmax_wait_ms = "abc"\n', "max_wait_ms must be a number"),
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nbatching = "no"\n', "batching must be true or false"),
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nmax_batch_documents = -3\n', "max_batch_documents must be"),
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nmax_wait_ms = true\n', "max_wait_ms must be a number"),
        ('[fused]\nreranker = "rrf"\n[fused.serve]\nmax_wait = 3\n', "did you mean 'max_wait_ms'"),
        # keys are refused at any depth of a served config (a fallback's, a fallback's fallback's)
        ('[hosted]\nreranker = "cohere"\n[[hosted.fallback]]\nreranker = "jina"\napi_key = "sk-secret"\n',
         "[hosted.fallback[0]] sets api_key"),
        ('[hosted]\nreranker = "cohere"\n[[hosted.fallback]]\nreranker = "jina"\n'
         '[[hosted.fallback.fallback]]\nreranker = "cohere"\ntoken = "sk-secret"\n',
         "[hosted.fallback[0].fallback[0]] sets token"),
    ],
)
def test_bad_configs_are_one_line(tmp_path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["serve", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "sk-secret" not in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--api-key", ""], "--api-key is empty"),  # `--api-key "$KEY"` with KEY unset: not an open server
        (["--api-key", "k1", "--api-key", " "], "--api-key is empty"),
        (["--api-key", "k1", "--no-auth"], "--no-auth and --api-key contradict"),
    ],
)
def test_an_empty_api_key_is_refused(capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    assert main(["serve", "--reranker", "rrf", *flags]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags",
    [
        ["--timeout", "-1"], ["--timeout", "nan"], ["--timeout", "0"], ["--timeout", "inf"],
        ["--batch-wait-ms", "-5"], ["--batch-wait-ms", "nan"], ["--shutdown-timeout", "-3"],
    ],
)
def test_number_flags_are_checked(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--reranker", "rrf", *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert flags[0] in err and "expected a finite number" in err


def test_the_serve_settings_are_checked_in_python_too() -> None:
    from rerankit.serve import Batching, Limits

    with pytest.raises(rerankit.ConfigError, match="request_timeout"):
        Limits(request_timeout=-1)
    with pytest.raises(rerankit.ConfigError, match="max_wait_ms"):
        Batching(max_wait_ms=float("nan"))
    with pytest.raises(rerankit.ConfigError, match="batching must be true or false"):
        Batching(enabled="no")  # type: ignore[arg-type]


def test_the_command_serves_and_stops_on_sigterm() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RERANKIT_SERVE_API_KEY": "k1,k2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerankit", "serve", "--reranker", "rrf", "--model-name", "fused", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        docs = [{"text": "a", "_distance": 0.2}, {"text": "b", "_distance": 0.1}]
        body = {"model": "fused", "query": "q", "documents": docs}
        assert httpx.post(f"{url}/v1/rerank", json=body).status_code == 401
        answer = httpx.post(f"{url}/v1/rerank", json=body, headers={"Authorization": "Bearer k2"}).json()
        assert [r["index"] for r in answer["results"]] == [1, 0]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -SIGTERM)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    assert "fused at http://127.0.0.1" in err and "k2" not in err
