"""Shared fixtures: third-party plugin packages installed with pip into a private directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rerankit._registry

FIXTURES = Path(__file__).parent / "fixtures"

#: The slow part of the suite, marked ``slow`` here (one place, so no test file changes for it):
#: ``./dev.sh test -m "not slow"`` is the fast subset for development (every module still has
#: tests in it), ``./dev.sh test`` and CI run everything. A key is a file, or a file and a test
#: name (every parametrization of it); the value says what makes it slow.
SLOW: dict[str, str] = {
    "tests/kit/test_packaging.py": "builds every wheel and installs each alone into a fresh virtual environment",
    "tests/integration/test_ray.py": "starts a local Ray runtime",
    "tests/serve/test_serve_ray.py": "starts Ray Serve with two replicas",
    "tests/serve/test_serve_load.py": "hundreds of concurrent requests, faults and drains under load",
}


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the fixture plugins, installed by pip (entry points and all).

    Put it on sys.path (``use_plugin_site``) or on PYTHONPATH of a subprocess to make the
    plugins discoverable, exactly as a user's ``pip install`` would.
    """
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-build-isolation", "--target", str(target),
            str(FIXTURES / "rerankit-fixture-plugin"), str(FIXTURES / "rerankit-broken-plugin"),
        ],
        check=True,
    )
    return target


@pytest.fixture
def use_plugin_site(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the fixture plugins importable in this process and rescan entry points."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.delenv(rerankit._registry.ALLOWLIST_ENV, raising=False)
    rerankit._registry.reset_registry()
    yield plugin_site
    rerankit._registry.reset_registry()


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch):
    """Each test starts from an unloaded registry and no allowlist from the environment."""
    monkeypatch.delenv(rerankit._registry.ALLOWLIST_ENV, raising=False)
    rerankit._registry.reset_registry()
    yield
    rerankit._registry.reset_registry()


def plugin_env(plugin_site: Path) -> dict[str, str]:
    """Environment for a subprocess that should see the fixture plugins."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_site), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(autouse=True)
def _rerankit_logger_restored():
    """The CLI, run in-process by many tests, gives the 'rerankit' logger a handler on the stderr
    of that moment and stops propagation; undo it after each test, so later tests' caplog and
    capsys see the logger as a library user's application does."""
    import logging

    logger = logging.getLogger("rerankit")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate, _ = saved[1], logger.setLevel(saved[2])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what :data:`SLOW` lists ``slow``; a stale entry (no such file) is a usage error."""
    root = Path(str(config.rootpath))
    stale = [key for key in SLOW if not (root / key.split("::")[0]).is_file()]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW lists files that do not exist: {', '.join(stale)}")
    for item in items:
        test = item.nodeid.split("[")[0]
        if test.split("::")[0] in SLOW or test in SLOW:
            item.add_marker(pytest.mark.slow)
