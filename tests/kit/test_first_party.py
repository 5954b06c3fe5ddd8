"""Every first-party plugin under plugins/ is wired in everywhere CONTRIBUTING.md lists: the dev
requirements, the install hints, the README's package table, its own README and tests."""

from __future__ import annotations

import re

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the core depends on tomli there
    import tomli as tomllib

from rerankit._registry import FIRST_PARTY
from tests.kit.conftest import REPO

PLUGINS = sorted(p.parent for p in REPO.glob("plugins/*/pyproject.toml"))


def project(plugin) -> dict:
    return tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_there_are_plugins() -> None:
    assert len(PLUGINS) >= 4


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugin_is_wired_in(plugin) -> None:
    meta = project(plugin)
    dist = meta["name"]
    names = sorted(meta["entry-points"]["rerankit"])
    assert dist == f"rerankit-{plugin.name}", "plugins/<name> is the distribution rerankit-<name>"
    assert f"-e ./plugins/{plugin.name}" in (REPO / "requirements-dev.txt").read_text().splitlines()
    assert (plugin / "README.md").is_file() and (plugin / "src" / f"rerankit_{plugin.name}").is_dir()
    tests = REPO / "tests" / "plugins" / plugin.name
    assert any(tests.glob("test_*conformance*.py")), f"{tests} needs a conformance test"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"^\| `{re.escape(dist)}` \|", readme, re.M), f"README.md's package table lacks {dist}"
    for name in names:
        assert FIRST_PARTY.get(name) == dist, f"FIRST_PARTY in _registry.py must map '{name}' to '{dist}'"
