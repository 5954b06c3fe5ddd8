"""The plugin guide cannot drift from what works: its files are the example's files verbatim, its
Python snippets run against the pip-installed example, and its links resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.conftest import EXAMPLE, HOSTED_EXAMPLE, REPO, env_with_path

GUIDE = REPO / "docs" / "writing-a-plugin.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, title, body) of every fenced block of the guide."""
    out = []
    for m in FENCE.finditer(GUIDE.read_text(encoding="utf-8")):
        info = m.group("info").strip()
        title = re.search(r'title="([^"]+)"', info)
        out.append((info.split(" ")[0], title.group(1) if title else None, m.group("body")))
    return out


def titled() -> dict[str, str]:
    return {title: body for _, title, body in blocks() if title}


def snippets() -> list[str]:
    return [body for lang, title, body in blocks() if lang == "python" and not title]


def test_guide_shows_the_whole_example_plugins() -> None:
    assert set(titled()) == {
        "rerankit-overlap/pyproject.toml",
        "rerankit-overlap/src/rerankit_overlap/__init__.py",
        "rerankit-overlap/tests/test_conformance.py",
        "rerankit-acme/src/rerankit_acme/__init__.py",
        "rerankit-acme/tests/test_acme.py",
    }


@pytest.mark.parametrize("path", sorted(titled()))
def test_guide_file_is_the_example_file(path: str) -> None:
    assert titled()[path] == (REPO / "examples" / path).read_text(encoding="utf-8"), (
        f"docs/writing-a-plugin.md shows a {path} that differs from examples/{path}; "
        "update the guide's block to the file"
    )


def test_every_block_is_checked() -> None:
    """Only files (titled) and runnable Python snippets carry code; shell and trees are prose."""
    for lang, title, body in blocks():
        assert title or lang in ("python", "bash", "text"), f"unchecked ```{lang} block:\n{body[:200]}"


def test_there_are_snippets() -> None:
    assert len(snippets()) >= 3


@pytest.mark.parametrize("index", range(len(snippets())))
def test_guide_snippet_runs(overlap_site: Path, acme_site: Path, tmp_path: Path, index: int) -> None:
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(snippets()[index], encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], env=env_with_path(overlap_site, acme_site), capture_output=True, text=True,
        timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"snippet {index} of docs/writing-a-plugin.md failed:\n{proc.stderr[-3000:]}"


DOCS = [
    GUIDE, REPO / "docs" / "hooks.md", EXAMPLE / "README.md", HOSTED_EXAMPLE / "README.md", REPO / "README.md",
    REPO / "core" / "README.md", REPO / "CONTRIBUTING.md",
]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (doc.parent / target).exists(), f"{doc.relative_to(REPO)} links to missing {target}"


@pytest.mark.parametrize("readme", ["README.md", "core/README.md"])
def test_readmes_link_the_guide(readme: str) -> None:
    path = REPO / readme
    link = "docs/writing-a-plugin.md" if readme == "README.md" else "../docs/writing-a-plugin.md"
    assert f"({link})" in path.read_text(encoding="utf-8"), f"{readme} must link the plugin guide"
