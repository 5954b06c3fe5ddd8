"""docs/local-model-plugins.md cannot drift from what works: its Python blocks, run in order as one
script, build and use a local-model scorer on rerankit.local, and its links resolve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.kit.conftest import REPO

GUIDE = REPO / "docs" / "local-model-plugins.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(m.group("info").strip(), m.group("body")) for m in FENCE.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_every_block_is_python_and_runs(tmp_path: Path) -> None:
    found = blocks()
    assert len(found) >= 4 and all(info == "python" for info, _ in found), [i for i, _ in found]
    script = tmp_path / "guide.py"
    script.write_text("\n\n".join(body for _, body in found), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert proc.returncode == 0, f"docs/local-model-plugins.md failed:\n{proc.stderr[-3000:]}"
    # the truncation warning the guide promises is there, in rerankit's wording
    assert "biencoder: 1 of 4 texts were longer than max_length=8 tokens and were truncated" in proc.stderr


def test_the_guide_names_every_export_of_rerankit_local() -> None:
    import rerankit.local

    text = GUIDE.read_text(encoding="utf-8")
    missing = [name for name in rerankit.local.__all__ if name not in ("DEVICE_PATTERN", "DType", "ModelCache")
               and f"`{name}" not in text]
    assert not missing, f"docs/local-model-plugins.md does not describe {missing}"


def test_links_resolve_and_the_plugin_guide_links_here() -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", GUIDE.read_text(encoding="utf-8")):
        if "://" not in target:
            assert (GUIDE.parent / target).exists(), f"docs/local-model-plugins.md links to missing {target}"
    assert "(local-model-plugins.md)" in (REPO / "docs" / "writing-a-plugin.md").read_text(encoding="utf-8")
