"""Every code block on the site is run by the test suite or says why not (docs/not-run.toml, or a
`<!-- not-run: reason -->` line above it). Config blocks (```toml) are built by `from_config`;
Python blocks run here, page by page in order in a fresh interpreter, unless another test named
in RUN_ELSEWHERE runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rerankit
from docs._site import sources

#: Blocks other tests run, by the file their text lives in (and, for a README, what they contain).
RUN_ELSEWHERE = {
    "docs/writing-a-plugin.md": "tests/kit/test_guide.py",
    "docs/local-model-plugins.md": "tests/kit/test_local_model_guide.py",
    "docs/hooks.md": "tests/kit/test_hooks.py",
}
FRAMEWORK_EXAMPLES = ("cross-encoder/ms-marco-MiniLM-L6-v2", 'Path("reranker.toml")')  # test_readme_examples.py
KEYS = ("CO_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY", "OPENAI_API_KEY", "MXBAI_API_KEY",
        "PINECONE_API_KEY", "TEI_API_KEY", "VLLM_API_KEY", "TOGETHER_API_KEY")

#: What the READMEs' snippets take as given: a vector and a full-text search's results, many queries.
PRELUDE = '''
import pyarrow as pa
vector_results = pa.table({"_rowid": [1, 2, 3], "text": ["heat pumps move heat", "gas boilers burn gas",
                           "heat pump noise"], "_distance": [0.2, 0.5, 0.3]})
fts_results = pa.table({"_rowid": [3, 1], "text": ["heat pump noise", "heat pumps move heat"], "_score": [7.5, 6.1]})
results_a, results_b, results_c = vector_results, vector_results.slice(1), vector_results.slice(0, 2)
queries = ["heat pumps", "boilers"]
results = result_sets = [vector_results, vector_results]
open("reranker.toml", "w").write('reranker = "rrf"\\nK = 30\\n')
'''

PAGES = sources.site_pages()
MARKED = sources.not_run_reasons()
BLOCKS = [b for page, text in PAGES.items() for b in sources.blocks(text, page)]


def _elsewhere(block: sources.Block) -> str | None:
    if block.source in RUN_ELSEWHERE:
        return RUN_ELSEWHERE[block.source]
    if block.source in ("docs/guides/rag-frameworks.md", "core/README.md") and block.lang == "python" and any(
            s in block.body for s in FRAMEWORK_EXAMPLES):
        return "tests/adapters/test_readme_examples.py"
    if block.source.startswith("docs/writing-a-plugin.md") and "title=" in block.info:
        return "tests/kit/test_guide.py"
    return None


def _runs_here(block: sources.Block) -> bool:
    return not block.not_run and block.key not in MARKED and _elsewhere(block) is None


def test_the_site_has_code_blocks() -> None:
    assert len(BLOCKS) > 50 and any(b.lang == "python" and _runs_here(b) for b in BLOCKS)


def test_every_block_is_run_or_says_why_not() -> None:
    unaccounted = [f"{b.page}: {b.key}" for b in BLOCKS
                   if b.lang not in ("python", "toml") and _runs_here(b) and not _elsewhere(b)]
    assert not unaccounted, (
        "code blocks neither run by a test nor marked not-run (add them to docs/not-run.toml with the reason):\n"
        + "\n".join(unaccounted))


def test_every_not_run_entry_names_a_block_and_a_reason() -> None:
    keys = {b.key for b in BLOCKS}
    stale = [k for k in MARKED if k not in keys]
    assert not stale, f"docs/not-run.toml names blocks the site no longer has: {stale}"
    assert all(len(reason.split()) >= 3 for reason in MARKED.values())
    assert all(len(b.not_run.split()) >= 3 for b in BLOCKS if b.not_run)


TOML = [b for b in BLOCKS if b.lang == "toml" and _runs_here(b)]


@pytest.mark.parametrize("block", TOML, ids=[f"{b.page}:{i}" for i, b in enumerate(TOML)])
def test_toml_block_builds(block: sources.Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in KEYS:  # building reads keys; nothing is sent
        monkeypatch.setenv(var, "docs-test-key")
    path = tmp_path / "reranker.toml"
    path.write_text(block.body, encoding="utf-8")
    if block.body.startswith("# serve.toml"):
        from rerankit.serve import load_models

        assert load_models(path)
        return
    assert isinstance(rerankit.from_config(path), rerankit.Reranker)


PYTHON_PAGES = sorted({b.page for b in BLOCKS if b.lang == "python" and _runs_here(b)})


#: Runs a page's blocks in order in one namespace (top-level ``await`` allowed, as in a notebook),
#: and prints each failing block's key and error as JSON lines.
RUNNER = '''
import ast, asyncio, inspect, json, sys, traceback
blocks = json.load(open(sys.argv[1]))
scope = {"__name__": "__main__"}
exec(compile(blocks.pop(0)[1], "prelude", "exec"), scope)
for key, body in blocks:
    try:
        code = compile(body, key, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, scope)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    except BaseException:
        print("BLOCK-FAILED", json.dumps([key, traceback.format_exc(limit=-3)]))
'''


@pytest.mark.parametrize("page", [*PYTHON_PAGES, "README.md"])
def test_python_blocks_of_the_page_run(page: str, tmp_path: Path) -> None:
    """Each page's blocks, and the root README's (its example is the newcomer's first code)."""
    text = (sources.REPO / page).read_text(encoding="utf-8") if page == "README.md" else PAGES[page]
    found = [b for b in sources.blocks(text, page) if b.lang == "python" and _runs_here(b)]
    assert found, f"{page} has no Python block to run"
    (tmp_path / "blocks.json").write_text(json.dumps([["prelude", PRELUDE]] + [[b.key, b.body] for b in found]))
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **dict.fromkeys(KEYS, "docs-test-key")}
    proc = subprocess.run([sys.executable, "runner.py", "blocks.json"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    failed = [json.loads(line.removeprefix("BLOCK-FAILED ")) for line in proc.stdout.splitlines()
              if line.startswith("BLOCK-FAILED ")]
    assert proc.returncode == 0 and not failed, (
        f"Python blocks of {page} failed (mark one in docs/not-run.toml only if it cannot run offline, with the "
        "reason):\n" + "\n".join(f"--- {key}\n{error}" for key, error in failed) + proc.stderr[-2000:])
