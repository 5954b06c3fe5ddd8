"""`./dev.sh docs` builds the site with --strict and no warnings, and the site has a page for every
reranker, every CLI command and every public name; llms.txt lists every page."""

from __future__ import annotations

import re

import rerankit
from rerankit._cli import build_parser
from tests.docs.conftest import REPO, BuiltSite


def test_strict_build_passes_without_warnings(built_site: BuiltSite) -> None:
    assert built_site.returncode == 0, built_site.log[-4000:]
    warnings = [line for line in built_site.log.splitlines() if re.match(r"(WARNING|ERROR)\b", line)]
    assert not warnings, "\n".join(warnings)
    assert (built_site.path / "index.html").is_file()


def test_dev_sh_builds_the_docs_strictly() -> None:
    text = (REPO / "dev.sh").read_text(encoding="utf-8")
    assert "mkdocs build --strict" in text and "mkdocs serve" in text


def test_every_registered_reranker_has_a_page_with_its_options(built_site: BuiltSite) -> None:
    infos = [i for i in rerankit.list_rerankers() if i.status == "ok"]
    assert {"rrf", "linear", "mrr", "cohere", "crossencoder"} <= {i.name for i in infos}
    matrix = (built_site.path / "rerankers" / "index.html").read_text(encoding="utf-8")
    for info in infos:
        page = built_site.path / "rerankers" / info.name / "index.html"
        assert page.is_file(), f"no page for the reranker {info.name!r}"
        html = page.read_text(encoding="utf-8")
        for option in info.config.model_fields:  # the generated options table names every option
            assert f"<code>{option}</code>" in html, f"{info.name} page lacks option {option!r}"
        assert f'href="{info.name}/"' in matrix, f"the feature matrix lacks {info.name!r}"


def test_every_cli_command_has_a_section(built_site: BuiltSite) -> None:
    html = (built_site.path / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    assert {"plugins", "rerank", "eval", "tune", "demo", "serve"} <= set(commands.choices)
    for name, sub in commands.choices.items():
        assert f'id="rerankit-{name}"' in html, f"no section for `rerankit {name}`"
        for action in sub._actions:  # every option of the command, as --help prints it
            for flag in action.option_strings:
                assert flag in html, f"`rerankit {name}` section lacks {flag}"


def test_every_public_name_is_in_the_api_reference(built_site: BuiltSite) -> None:
    html = (built_site.path / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    missing = [n for n in rerankit.__all__ if n != "__version__" and f'id="rerankit.{n}"' not in html]
    assert not missing, f"not in the API reference: {missing}"


def test_llms_txt_lists_every_page(built_site: BuiltSite) -> None:
    llms = (built_site.path / "llms.txt").read_text(encoding="utf-8")
    pages = sorted(p.parent.relative_to(built_site.path).as_posix() for p in built_site.path.rglob("index.html")
                   if p.parent != built_site.path and p.parent.name not in ("search", "assets"))
    assert pages, "the site has no pages"
    for page in pages:
        assert f"]({page}/)" in llms, f"llms.txt lacks {page}"
    assert "rerank_hybrid" in (built_site.path / "llms-full.txt").read_text(encoding="utf-8")
