"""Move the root README's sections that site pages include into those pages: the README shrink.

``python -m docs._site.move_readme`` (from the repository root) replaces each
``<!-- include README.md#slug -->`` line of a page with the section's text, its links mapped to the
site's pages, and moves each of its code blocks' not-run reasons from docs/not-run.toml to a
``<!-- not-run: reason -->`` mark above the block. README.md itself is then cut by hand to what a
newcomer needs (what rerankit is, the two commands, a short example, the packages, links into the
site). After merging README changes made elsewhere, restore the long README, rerun this, cut again.
"""

from __future__ import annotations

import json
import re

from docs._site import sources


def main() -> None:
    included = sources.included_sections()
    marked = sources.not_run_reasons()
    used: set[str] = set()

    for page_path in sorted(sources.DOCS.rglob("*.md")):
        page = page_path.relative_to(sources.DOCS).as_posix()
        text = page_path.read_text(encoding="utf-8")

        def move(m: re.Match[str], page: str = page) -> str:
            if m.group("path") != "README.md" or not m.group("slug"):
                return m.group(0)
            level, body = sources.sections("README.md")[m.group("slug")]
            body = sources._shift_headings(body, 1 - level)
            opts = dict(o.split("=", 1) for o in m.group("opts").split())
            if "skip" in opts:
                body = sources._drop_own_text(body, set(opts["skip"].split(",")))
            body = sources._rewrite_links(body, "README.md", page, included)
            out, last = [], 0
            for block, fence in zip(sources.blocks(body, page), sources.FENCE.finditer(body)):
                key = "README.md: " + block.key.split(": ", 1)[1]
                out.append(body[last:fence.start()])
                if key in marked:
                    out.append(f"<!-- not-run: {marked[key]} -->\n")
                    used.add(key)
                last = fence.start()
            out.append(body[last:])
            return "".join(out).strip("\n")

        new = sources.INCLUDE.sub(move, text)
        if new != text:
            page_path.write_text(new, encoding="utf-8")
            print(f"moved README sections into docs/{page}")

    toml = sources.DOCS / "not-run.toml"
    kept = [line for line in toml.read_text(encoding="utf-8").splitlines(keepends=True)
            if not any(line.startswith(json.dumps(key) + " = ") for key in used)]
    toml.write_text("".join(kept), encoding="utf-8")


if __name__ == "__main__":
    main()
