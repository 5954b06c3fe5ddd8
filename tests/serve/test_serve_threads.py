"""A served process makes torch's idle OpenMP workers sleep instead of spin (OMP_WAIT_POLICY=PASSIVE),
before any model loads; a value the user set, a process that imported torch first, and a server
without local models are left alone. Each case runs in a fresh interpreter: OpenMP reads the
variable when torch is imported, so the test must see the environment a server starts from."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SERVER = """
import asyncio, logging, os, sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
{before}
import rerankit
from rerankit.serve import create_service

reranker = rerankit.get_reranker({reranker!r}, **{options!r})
service = create_service({{"m": reranker}})
asyncio.run(service.startup(warm_up=False))
print("policy", os.environ.get("OMP_WAIT_POLICY"), "torch loaded", "torch" in sys.modules)
"""


def serve_and_report(reranker: str = "crossencoder", options: dict | None = None, before: str = "", **env: str):
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    environment.update(env)
    options = {"model_name": "not-loaded"} if options is None else options
    code = SERVER.format(before=before, reranker=reranker, options=options)
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1], done.stderr


def test_a_local_model_server_sets_passive_waiting_before_torch_loads():
    line, _ = serve_and_report()
    assert line == "policy PASSIVE torch loaded False"


@pytest.mark.parametrize("name, value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "100000")])
def test_the_users_own_setting_is_kept(name, value):
    line, _ = serve_and_report(**{name: value})
    want = "ACTIVE" if name == "OMP_WAIT_POLICY" else "None"
    assert line == f"policy {want} torch loaded False"


def test_torch_imported_first_is_left_alone_and_says_how_to_set_it():
    line, log = serve_and_report(before="import torch")
    assert line == "policy None torch loaded True"
    assert "set OMP_WAIT_POLICY=PASSIVE before starting the process" in log


def test_a_server_without_local_models_changes_nothing():
    line, _ = serve_and_report(reranker="rrf", options={})
    assert line == "policy None torch loaded False"
