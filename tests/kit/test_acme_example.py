"""The hosted-plugin example, installed with pip, is found by name and passes its own tests (both
conformance suites against a local server speaking its made-up wire format)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.kit.conftest import HOSTED_EXAMPLE, env_with_path


def test_found_and_reranks_against_its_fake_server(acme_site: Path) -> None:
    code = """
import rerankit
from rerankit.testing import FakeRerankServer
from test_acme import AcmeDialect

info = {i.name: i for i in rerankit.list_rerankers()}["acme"]
assert (info.kind, info.distribution, info.status) == ("scorer", "rerankit-acme", "ok"), info
with FakeRerankServer(AcmeDialect(), api_key="k-123456") as server:
    acme = rerankit.get_reranker("acme", api_key="k-123456", base_url=server.url, top_n=1)
    out = acme.rerank("solar panels", ["wind farms", "solar panels on roofs"])
    assert out["text"].to_pylist() == ["solar panels on roofs"], out
    assert server.seen[0].path == "/v1/rank" and server.seen[0].body["limit"] == 1
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env_with_path(acme_site, HOSTED_EXAMPLE / "tests"),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_example_own_test_suite_passes(acme_site: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HOSTED_EXAMPLE / "tests")],
        cwd=HOSTED_EXAMPLE, env=env_with_path(acme_site), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = re.search(r"(\d+) passed", proc.stdout)
    assert summary and int(summary.group(1)) >= 60, proc.stdout[-2000:]
    assert " failed" not in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
