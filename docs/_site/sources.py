"""The site's Markdown as readers get it: include directives expanded, links into the repository
mapped onto pages, fenced code blocks found. Shared by the mkdocs hook and the tests (which check
the same expanded text the site renders), so neither needs mkdocs to read a page.

An include directive is a line of its own in a page::

    <!-- include README.md#serving-rerankit-serve -->        one section (heading slug), heading left out
    <!-- include plugins/cohere/README.md -->                a whole file, its H1 left out
    <!-- include plugins/openai/README.md skip=options -->   ... without these sections' own text

The included headings move up or down so the section's children become ``##``. Paths are relative
to the repository root; links inside the included text are relative to the file they came from and
are rewritten to the site's pages (``PAGE_OF``) or, for other files of the repository, to plain
text naming the path.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

INCLUDE = re.compile(r"^<!-- include (?P<path>[^#\s]+)(?:#(?P<slug>\S+))?(?P<opts>(?: \w+=\S+)*) -->$", re.M)
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<text>.+?)\s*$")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")

#: Whole repository files that are pages of the site (repository path -> page path in docs/).
PAGE_OF = {
    "README.md": "index.md",
    "CONTRIBUTING.md": "plugins/contributing.md",
    "core/README.md": "guides/using-a-reranker.md",
    "examples/rerankit-overlap/README.md": "plugins/template.md",
    "examples/rerankit-overlap": "plugins/template.md",
    "examples/rerankit-acme": "writing-a-plugin.md",
    "plugins/cohere/README.md": "rerankers/cohere.md",
    "plugins/jina/README.md": "rerankers/jina.md",
    "plugins/voyage/README.md": "rerankers/voyage.md",
    "plugins/openai/README.md": "rerankers/openai.md",
    "plugins/tei/README.md": "rerankers/tei.md",
    "plugins/mixedbread/README.md": "rerankers/mixedbread.md",
    "plugins/pinecone/README.md": "rerankers/pinecone.md",
    "plugins/crossencoder/README.md": "rerankers/crossencoder.md",
    "plugins/embedding/README.md": "rerankers/embedding.md",
    "plugins/colbert/README.md": "rerankers/colbert.md",
}


def slugify(text: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page: where its text came from, its info string and body."""

    page: str
    source: str
    info: str
    body: str
    not_run: str = ""  # the reason given by a `<!-- not-run: reason -->` line right above the block

    @property
    def lang(self) -> str:
        return self.info.split(" ")[0] if self.info else ""

    @property
    def key(self) -> str:
        """How docs/code-blocks.toml names the block: its source file and its first line."""
        first = next((line.strip() for line in self.body.splitlines() if line.strip()), "")
        return f"{self.source}: {first}"


def _outside_fences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in FENCE.finditer(text)]


def _lines(text: str) -> list[tuple[str, re.Match[str] | None]]:
    """Each line with its heading match (None inside fenced blocks and for other lines)."""
    out, fence = [], None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped
            out.append((line, None))
            continue
        out.append((line, None if fence is not None else HEADING.match(line)))
    return out


def sections(path: str) -> dict[str, tuple[int, str]]:
    """Slug -> (level, the section's text without its heading) of a repository Markdown file."""
    lines = _lines((REPO / path).read_text(encoding="utf-8"))
    heads = [(i, len(m.group("hashes")), slugify(m.group("text"))) for i, (_, m) in enumerate(lines) if m]
    out: dict[str, tuple[int, str]] = {}
    for n, (i, level, slug) in enumerate(heads):
        end = next((j for j, lv, _ in heads[n + 1:] if lv <= level), len(lines))
        out.setdefault(slug, (level, "".join(line for line, _ in lines[i + 1:end])))
    return out


def sections_in(text: str) -> list[str]:
    return [slugify(m.group("text")) for _, m in _lines(text) if m]


def _shift_headings(text: str, by: int) -> str:
    out = []
    for line, m in _lines(text):
        if m and by:
            line = "#" * min(6, max(2, len(m.group("hashes")) + by)) + " " + m.group("text") + "\n"
        out.append(line)
    return "".join(out)


def _drop_own_text(text: str, slugs: set[str]) -> str:
    """Remove each named section's heading and its own text (up to its next heading of any level)."""
    out, skipping = [], False
    for line, m in _lines(text):
        if m:
            skipping = slugify(m.group("text")) in slugs
        if not skipping:
            out.append(line)
    return "".join(out)


def _rewrite_links(text: str, source: str, page: str, included: dict[tuple[str, str], str]) -> str:
    """Links of ``source`` (a repository path) as seen from ``page`` (a docs/ path)."""
    src_dir = posixpath.dirname(source)
    fences = _outside_fences(text)

    def repl(m: re.Match[str]) -> str:
        if any(a <= m.start() < b for a, b in fences):
            return m.group(0)
        label, target = m.group("text"), m.group("target")
        if "://" in target or target.startswith("mailto:"):
            return m.group(0)
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(src_dir, path)) if path else source
        dest = included.get((repo_path, anchor)) if anchor else None
        if dest is None and repo_path.startswith("docs/") and (path.endswith(".md") or not path):
            # a page of the site (mkdocs checks it exists, generated pages included)
            dest = repo_path[len("docs/"):] + (f"#{anchor}" if anchor else "")
        if dest is None and repo_path in PAGE_OF:
            dest = PAGE_OF[repo_path] + (f"#{anchor}" if anchor and repo_path != "README.md" else "")
        if dest is None:
            if path == "" and (source, anchor) not in included:
                return label  # a section of the same file that is on no page of its own
            shown = f"`{repo_path}`"
            return label if shown in label or label == repo_path else f"{label} ({shown})"
        rel = posixpath.relpath(dest.partition("#")[0], posixpath.dirname(page) or ".")
        frag = dest.partition("#")[2]
        return f"[{label}]({rel}{'#' + frag if frag else ''})"

    return LINK.sub(repl, text)


def included_sections() -> dict[tuple[str, str], str]:
    """(repository file, slug) -> the page (docs/ path) that includes that section."""
    out: dict[tuple[str, str], str] = {}
    for page in sorted(DOCS.rglob("*.md")):
        rel = page.relative_to(DOCS).as_posix()
        for m in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            if m.group("slug"):
                out.setdefault((m.group("path"), m.group("slug")), rel)
                _level, body = sections(m.group("path"))[m.group("slug")]
                for sub in sections_in(body):
                    out.setdefault((m.group("path"), sub), f"{rel}#{sub}")
    return out


def expand(markdown: str, page: str, included: dict[tuple[str, str], str] | None = None) -> str:
    """A page's Markdown with its include directives expanded and every link mapped."""
    included = included_sections() if included is None else included

    def include(m: re.Match[str]) -> str:
        path, slug = m.group("path"), m.group("slug")
        opts = dict(o.split("=", 1) for o in m.group("opts").split())
        if slug:
            found = sections(path)
            if slug not in found:
                raise KeyError(f"docs/{page} includes {path}#{slug}, which has no such heading")
            level, body = found[slug]
            body = _shift_headings(body, 1 - level)
        else:
            body = (REPO / path).read_text(encoding="utf-8")
            body = re.sub(r"\A# .*\n", "", body)
        if "skip" in opts:
            body = _drop_own_text(body, set(opts["skip"].split(",")))
        body = _rewrite_links(body, path, page, included)
        marker = f"<!-- source: {path} -->\n"
        return marker + body.strip("\n") + "\n<!-- source: end -->"

    text = INCLUDE.sub(include, markdown)
    return _rewrite_links(text, f"docs/{page}", page, included) if "<!-- source:" not in text else _rewrite_own(
        text, page, included
    )


def _rewrite_own(text: str, page: str, included: dict[tuple[str, str], str]) -> str:
    """Rewrite links of the page's own text only (included text is already rewritten)."""
    parts = re.split(r"(<!-- source: [^\n]+ -->\n.*?<!-- source: end -->)", text, flags=re.S)
    return "".join(
        p if p.startswith("<!-- source: ") else _rewrite_links(p, f"docs/{page}", page, included) for p in parts
    )


def blocks(markdown: str, page: str) -> list[Block]:
    """The fenced code blocks of a page's expanded Markdown, each with the file its text came from."""
    out = []
    source = f"docs/{page}"
    pos = 0
    marks = [(m.start(), m.group(1)) for m in re.finditer(r"<!-- source: (\S+) -->", markdown)]
    for m in FENCE.finditer(markdown):
        while pos < len(marks) and marks[pos][0] < m.start():
            source = marks[pos][1] if marks[pos][1] != "end" else f"docs/{page}"
            pos += 1
        above = re.search(r"<!-- not-run: (.+?) -->\n$", markdown[max(0, m.start() - 400):m.start()])
        body = _dedent(m.group("body"), len(m.group("indent")))
        out.append(Block(page, source, m.group("info").strip(), body, above.group(1) if above else ""))
    return out


def not_run_reasons() -> dict[str, str]:
    """docs/not-run.toml: block key ("<source file>: <first line>") -> why the tests do not run it."""
    import tomllib

    with open(DOCS / "not-run.toml", "rb") as f:
        return tomllib.load(f)["not-run"]


def site_pages() -> dict[str, str]:
    """Every page of the site, docs/ path -> expanded Markdown (generated pages included)."""
    from . import generate

    raw = {p.relative_to(DOCS).as_posix(): p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")
           if "_site" not in p.parts}
    raw.update(generate.pages())
    included = included_sections()
    return {page: expand(text, page, included) for page, text in sorted(raw.items())}


def _dedent(body: str, indent: int) -> str:
    if not indent:
        return body
    return "".join(line[indent:] if line[:indent].strip() == "" else line for line in body.splitlines(True))


def annotate(markdown: str, page: str, marked: dict[str, str]) -> str:
    """Put each not-run block's reason right under it, for the reader."""
    found = blocks(markdown, page)
    out, last = [], 0
    for block, m in zip(found, FENCE.finditer(markdown)):
        why = block.not_run or marked.get(block.key, "")
        out.append(markdown[last:m.end()])
        if why:
            out.append(f'\n<p class="not-run">Not run by the tests: {html.escape(why)}</p>\n')
        last = m.end()
    out.append(markdown[last:])
    return "".join(out)
