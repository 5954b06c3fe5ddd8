"""Every config file the READMEs print (```toml blocks) is one `rerankit.from_config` builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rerankit

REPO = Path(__file__).resolve().parents[2]
READMES = ["README.md", "core/README.md", *sorted(str(p.relative_to(REPO)) for p in REPO.glob("plugins/*/README.md"))]
FENCE = re.compile(r"^```toml\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
CONFIGS = [
    (readme, i, m.group("body"))
    for readme in READMES
    for i, m in enumerate(FENCE.finditer((REPO / readme).read_text(encoding="utf-8")))
]
KEYS = ("CO_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY", "OPENAI_API_KEY", "MXBAI_API_KEY",
        "PINECONE_API_KEY", "TEI_API_KEY", "VLLM_API_KEY", "TOGETHER_API_KEY")


def test_the_readmes_print_configs() -> None:
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize(("readme", "index", "body"), CONFIGS, ids=[f"{r}#{i}" for r, i, _ in CONFIGS])
def test_readme_config_builds(readme: str, index: int, body: str, tmp_path: Path, monkeypatch) -> None:
    for var in KEYS:  # building reads keys; nothing is sent
        monkeypatch.setenv(var, "readme-test-key")
    path = tmp_path / "reranker.toml"
    path.write_text(body, encoding="utf-8")
    if body.startswith("# serve.toml"):  # a `rerankit serve` config: one table per served model
        from rerankit.serve import load_models

        models = load_models(path)
        assert models and all(isinstance(m.reranker, rerankit.Reranker) for m in models.values())
        return
    reranker = rerankit.from_config(path)
    assert isinstance(reranker, rerankit.Reranker)
