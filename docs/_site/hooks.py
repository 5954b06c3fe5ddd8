"""mkdocs hooks of the rerankit site (mkdocs.yml ``hooks:``).

- adds the generated pages (``generate.pages()``) and puts the reranker pages into the navigation;
- expands include directives and maps repository links (``sources.expand``);
- shows each ``<!-- not-run: reason -->`` mark as a note under its code block;
- writes ``llms.txt`` (every page's title, address and first sentence) and ``llms-full.txt``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from docs._site import generate, sources

_GENERATED: dict[str, str] = {}
_INCLUDED: dict[tuple[str, str], str] = {}
_PAGES: list[tuple[str, str, str]] = []  # (url, title, markdown) for llms.txt


def on_config(config):
    _GENERATED.clear()
    _GENERATED.update(generate.pages())
    _INCLUDED.clear()
    _INCLUDED.update(sources.included_sections())
    _PAGES.clear()
    reranker_pages = [f"rerankers/{i.name}.md" for i in generate.rerankers()]
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Rerankers" in entry:
            entry["Rerankers"] = ["rerankers/index.md", *reranker_pages]
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, content in _GENERATED.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    text = sources.expand(markdown, page.file.src_uri, _INCLUDED)
    text = sources.annotate(text, page.file.src_uri, sources.not_run_reasons())
    _PAGES.append((page.file.url, page.title or "", text))
    return text


_ORDER: list[str] = []


def on_nav(nav, config, files):
    _ORDER[:] = [p.file.url for p in nav.pages]
    return nav


_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|exc|obj):(?=<code|<a )")


def on_page_content(html, page, config, files):
    """Sphinx roles in docstrings (``:func:`x```) render as their bare code, not as ``:func:x``."""
    return _ROLE.sub("", html)


def on_post_build(config):
    site = Path(config["site_dir"])
    base = (config.get("site_url") or "").rstrip("/")
    _PAGES.sort(key=lambda p: _ORDER.index(p[0]) if p[0] in _ORDER else len(_ORDER))
    lines = [f"# {config['site_name']}", "", f"> {config.get('site_description', '')}", ""]
    full = []
    for url, title, text in _PAGES:
        body = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        skip = ("#", "|", "```", "<", ":::", "-")
        prose = [p for p in re.split(r"\n\s*\n", body) if p.strip() and not p.lstrip().startswith(skip)]
        first = re.sub(r"\s+", " ", prose[0]).strip()[:200] if prose else ""
        lines.append(f"- [{title}]({base + '/' if base else ''}{url or './'}): {first}")
        full += [f"# {title}", "", body.strip(), ""]
    (site / "llms.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (site / "llms-full.txt").write_text("\n".join(full), encoding="utf-8")
