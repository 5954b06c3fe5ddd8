"""Every hook spec is documented (docstring and docs/hooks.md), implemented by a test plugin, and
its documented example works: the examples are pip-installed as a plugin and exercised here."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import rerankit
import rerankit._hookspecs
import rerankit._registry
from tests.kit.conftest import REPO, pip_install_target

HOOKS_MD = REPO / "docs" / "hooks.md"


def hookspec_names() -> list[str]:
    return sorted(
        name
        for name, obj in vars(rerankit._hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, f"{rerankit._hookspecs.PROJECT}_spec")
    )


def doc_sections() -> dict[str, str]:
    text = HOOKS_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## `(\w+)`\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def doc_example(hook: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", doc_sections()[hook], flags=re.MULTILINE | re.DOTALL)
    assert blocks, f"docs/hooks.md section '{hook}' has no ```python example"
    return blocks[0]


def test_there_are_hooks() -> None:
    assert set(hookspec_names()) >= {"register_scorers", "register_fusions", "select_text"}


@pytest.mark.parametrize("hook", hookspec_names())
def test_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(rerankit._hookspecs, hook))
    assert doc and len(doc) > 80, f"hook spec {hook} needs a docstring saying what it does and when"


@pytest.mark.parametrize("hook", hookspec_names())
def test_hook_is_documented_with_an_example(hook: str) -> None:
    sections = doc_sections()
    assert hook in sections, f"docs/hooks.md has no '## `{hook}`' section"
    section = sections[hook]
    for what in ("When it is called", "Arguments", "Returns"):
        assert f"**{what}" in section, f"docs/hooks.md '{hook}' does not say {what!r}"
    params = inspect.signature(getattr(rerankit._hookspecs, hook)).parameters
    for param in params:
        assert f"`{param}`" in section, f"docs/hooks.md '{hook}' does not describe argument '{param}'"
    assert re.search(rf"@rerankit\.hookimpl\s*\ndef {hook}\(", doc_example(hook)), (
        f"the example of '{hook}' does not implement it"
    )


@pytest.mark.parametrize("hook", hookspec_names())
def test_hook_is_implemented_by_a_test_plugin(hook: str) -> None:
    """In the style of datasette's plugin docs check: some plugin under tests/ implements the hook."""
    pattern = re.compile(rf"@\w*\.?hookimpl(\([^)]*\))?\s*\ndef {hook}\(")
    here = Path(__file__).resolve()
    found = [
        p for p in (REPO / "tests").rglob("*.py") if p.resolve() != here and pattern.search(p.read_text("utf-8"))
    ]
    assert found, f"no plugin under tests/ implements hook '{hook}'"


@pytest.mark.parametrize("hook", hookspec_names())
def test_hook_example_is_exercised(hook: str) -> None:
    assert hook in EXERCISES, f"add an exercise of the docs/hooks.md example of '{hook}' to EXERCISES"


# -- the documented examples, installed as a plugin and run ------------------------------------
@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("docs-hooks-plugin")
    package = src / "src"
    package.mkdir()
    entry_points = []
    for hook in hookspec_names():
        (package / f"docs_hook_{hook}.py").write_text(doc_example(hook), encoding="utf-8")
        entry_points.append(f'docs-{hook.replace("_", "-")} = "docs_hook_{hook}"')
    modules = ", ".join(f'"src/docs_hook_{hook}.py"' for hook in hookspec_names())
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling>=1.18"]
            build-backend = "hatchling.build"

            [project]
            name = "rerankit-docs-hooks"
            version = "0.0.1"

            [project.entry-points.rerankit]
            {chr(10).join(entry_points)}

            [tool.hatch.build.targets.wheel]
            only-include = [{modules}]
            sources = ["src"]
            """
        ),
        encoding="utf-8",
    )
    return pip_install_target(tmp_path_factory.mktemp("docs-hooks-site"), src)


@pytest.fixture
def use_docs_site(docs_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(docs_site))
    rerankit._registry.reset_registry()
    infos = rerankit.list_rerankers()
    assert not [i.error for i in infos if i.status == "error"]
    return docs_site


def exercise_register_scorers() -> None:
    reranker = rerankit.get_reranker("keyword", weight=2.0)
    out = reranker.rerank("red fox", ["a dog", "a red fox", "the fox"])
    assert out.to_pylist() == [
        {"text": "a red fox", "_relevance_score": 4.0},
        {"text": "the fox", "_relevance_score": 2.0},
        {"text": "a dog", "_relevance_score": 0.0},
    ]
    with pytest.raises(rerankit.ConfigError, match="weight"):
        rerankit.get_reranker("keyword", weight=0)


def exercise_register_fusions() -> None:
    vec = pa.table({"_rowid": pa.array([1, 2, 3], pa.uint64()), "_distance": [0.1, 0.2, 0.3]})
    fts = pa.table({"_rowid": pa.array([3, 1], pa.uint64()), "_score": [5.0, 4.0]})
    out = rerankit.get_reranker("borda", depth=10).rerank_hybrid("q", vec, fts)
    assert out["_rowid"].to_pylist() == [1, 3, 2]
    assert out["_relevance_score"].to_pylist() == [19.0, 18.0, 9.0]
    weighted = rerankit.get_reranker("borda", depth=10).rerank_multivector([vec, fts], weights=[1.0, 0.0])
    assert weighted["_relevance_score"].to_pylist() == [10.0, 9.0, 8.0]


def exercise_select_text() -> None:
    docs = [{"title": "dog", "text": "walks"}, {"title": "fox", "text": "runs"}, {"title": None, "text": "fox"}]
    out = rerankit.get_reranker("keyword", column="title+text").rerank("fox runs", docs)
    assert out.to_pylist() == [
        {"title": "fox", "text": "runs", "_relevance_score": 2.0},
        {"title": None, "text": "fox", "_relevance_score": 1.0},
        {"title": "dog", "text": "walks", "_relevance_score": 0.0},
    ]
    with pytest.raises(rerankit.MissingColumnError) as err:
        rerankit.get_reranker("keyword", column="title+text").rerank("fox", ["only text"])
    assert err.value.column == "title"
    # Other column values still reach the core's own answers.
    assert rerankit.get_reranker("keyword").rerank("fox", docs)["text"][0].as_py() == "fox"


EXERCISES = {
    "register_scorers": exercise_register_scorers,
    "register_fusions": exercise_register_fusions,
    "select_text": exercise_select_text,
}


@pytest.mark.parametrize("hook", sorted(EXERCISES))
def test_documented_example_works(use_docs_site: Path, hook: str) -> None:
    EXERCISES[hook]()
