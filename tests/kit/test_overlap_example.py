"""The example plugin, installed with pip, passes the conformance suite and its own tests."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rerankit
from tests.kit.conftest import EXAMPLE, env_with_path


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_kit_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_example_tests = _load(EXAMPLE / "tests" / "test_conformance.py")


class TestOverlapExampleConformance(_example_tests.TestOverlapConformance):
    """Exactly the example's own conformance class, run against the pip-installed example."""

    @pytest.fixture(autouse=True)
    def _installed(self, use_overlap_site: Path) -> None:
        assert "rerankit_overlap" not in sys.modules or str(use_overlap_site) in str(
            sys.modules["rerankit_overlap"].__file__
        )


def test_found_by_get_reranker_from_its_install(use_overlap_site: Path) -> None:
    info = {i.name: i for i in rerankit.list_rerankers()}["overlap"]
    assert (info.kind, info.distribution, info.version, info.status) == ("scorer", "rerankit-overlap", "0.1.0", "ok")
    reranker = rerankit.get_reranker("overlap", top_n=1)
    assert Path(sys.modules["rerankit_overlap"].__file__).is_relative_to(use_overlap_site)
    out = reranker.rerank("fusion of ranked lists", ["vector search", "reciprocal rank fusion of ranked lists"])
    assert out.to_pylist() == [{"text": "reciprocal rank fusion of ranked lists", "_relevance_score": 1.0}]


def test_example_own_test_suite_passes(overlap_site: Path) -> None:
    """Run the example's tests the way its author would: pytest in its folder, package installed."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=EXAMPLE,
        env=env_with_path(overlap_site),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = re.search(r"(\d+) passed", proc.stdout)
    assert summary and int(summary.group(1)) >= 30, proc.stdout[-2000:]
    assert " failed" not in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]
