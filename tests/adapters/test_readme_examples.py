"""The framework examples of the docs' RAG frameworks page and the core README run as printed (the
hub model swapped for the tiny local one), and their config example builds an adapter from the
page's own reranker.toml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.adapters.conftest import KEY

REPO = Path(__file__).resolve().parents[2]
README_PATHS = ["docs/guides/rag-frameworks.md", "core/README.md"]
HUB_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(readme: str, lang: str) -> list[str]:
    text = (REPO / readme).read_text(encoding="utf-8")
    return [m.group("body") for m in FENCE.finditer(text) if m.group("lang") == lang]


@pytest.mark.parametrize("readme", README_PATHS)
def test_each_framework_example_runs(readme: str, tiny_ce: str, capsys: pytest.CaptureFixture[str]) -> None:
    examples = [b for b in blocks(readme, "python") if HUB_MODEL in b]
    adapters = ["rerankit.langchain", "rerankit.llamaindex", "rerankit.haystack"]
    assert [next(a for a in adapters if f"from {a} import" in b) for b in examples] == adapters
    for example, adapter in zip(examples, adapters):
        exec(compile(example.replace(HUB_MODEL, tiny_ce), f"{readme}: {adapter} example", "exec"), {})
        printed = capsys.readouterr().out.splitlines()
        scored = [line for line in printed if re.match(r"-?\d+\.\d{3}  \S+\.md  ", line)]
        assert len(scored) == 2, f"{adapter} example printed:\n" + "\n".join(printed)


@pytest.mark.parametrize("readme", README_PATHS)
def test_choosing_the_reranker_example_builds(
    readme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (toml,) = [b for b in blocks(readme, "toml") if b.startswith("# reranker.toml")]
    (choose,) = [b for b in blocks(readme, "python") if 'Path("reranker.toml")' in b]
    (tmp_path / "reranker.toml").write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CO_API_KEY", KEY)  # building needs the key; nothing is sent
    scope: dict = {}
    exec(compile(choose + "\nlast = RerankitCompressor(Path('reranker.toml'))\n", readme, "exec"), scope)
    assert scope["last"].reranker.name == "cohere" and scope["last"].reranker.top_n == 5
