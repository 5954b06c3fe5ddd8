"""Fixtures of the plugin-author kit tests: the example plugin (and deliberately broken plugins)
installed with pip into private directories, exactly as a user's ``pip install`` would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rerankit._registry

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "rerankit-overlap"
HOSTED_EXAMPLE = REPO / "examples" / "rerankit-acme"
EXAMPLES = sorted(p.parent for p in (REPO / "examples").glob("*/pyproject.toml"))
KIT_FIXTURES = Path(__file__).parent / "fixtures"


def pip_install_target(target: Path, *packages: Path) -> Path:
    """``pip install --target`` without dependencies or build isolation (offline, quick)."""
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-build-isolation", "--target", str(target), *map(str, packages),
        ],
        check=True,
    )
    return target


def env_with_path(*paths: Path, **extra: str) -> dict[str, str]:
    """The current environment with ``paths`` first on PYTHONPATH (and no plugin allowlist)."""
    env = {k: v for k, v in os.environ.items() if k != rerankit._registry.ALLOWLIST_ENV}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def overlap_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/rerankit-overlap installed by pip into a private directory."""
    return pip_install_target(tmp_path_factory.mktemp("overlap-site"), EXAMPLE)


@pytest.fixture(scope="session")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/rerankit-acme (the hosted-plugin example) installed by pip into a private directory."""
    return pip_install_target(tmp_path_factory.mktemp("acme-site"), HOSTED_EXAMPLE)


@pytest.fixture
def use_overlap_site(overlap_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the installed example importable here and rescan entry points."""
    monkeypatch.syspath_prepend(str(overlap_site))
    rerankit._registry.reset_registry()
    yield overlap_site
    rerankit._registry.reset_registry()
