"""The site's generated pages: read from the code each time the site is built, so they cannot drift.

- ``rerankers/<name>.md``: one page per registered reranker, its options table from its pydantic
  config model, then its package's README;
- ``rerankers/index.md``: every reranker x feature, read from the config models and scorer classes;
- ``reference/cli.md``: every command of ``rerankit``, from the argparse parsers;
- ``reference/config.md``: every option of every reranker config model;
- ``reference/errors.md``: the exception tree of ``rerankit``;
- ``reference/serve-api.md``: the OpenAPI document ``rerankit serve`` answers at ``/openapi.json``.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

#: Where each reranker's prose lives: its package README (fusion rerankers: the core README's section).
PROSE = {
    "rrf": "core/README.md#fusion-rerankers",  # all three fusion rerankers, their settings and speed
    "linear": None,
    "mrr": None,
    "answerdotai": None,  # the colbert page holds the package's README
}
#: Where a reranker without prose of its own is explained.
SEE = {"linear": "rrf", "mrr": "rrf", "answerdotai": "colbert"}


def rerankers() -> list[Any]:
    import rerankit

    return [i for i in rerankit.list_rerankers() if i.status == "ok"]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin is typing.Union or type(annotation).__name__ == "UnionType":
        names = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(names) + (" | None" if type(None) in args else "")
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return " | ".join(json.dumps(m.value) for m in annotation)
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        text = json.dumps(value)
    except TypeError:
        text = repr(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def options_table(config: type[BaseModel]) -> str:
    """Markdown table of a config model's options: name, type, default, description."""
    from rerankit._scoring.steps import ScoringOptions

    rows = ["| option | type | default | description |", "|---|---|---|---|"]
    # the reranker's own options first, then the scoring path's (which every scorer shares)
    shared = set(ScoringOptions.model_fields)
    for name, field in sorted(config.model_fields.items(), key=lambda item: item[0] in shared):
        if field.exclude:
            continue
        kind = _cell(_type_name(field.annotation))
        rows.append(f"| `{name}` | {kind} | {_default(field)} | {_cell(field.description or '')} |")
    return "\n".join(rows)


def _hosted(info: Any) -> bool:
    return "base_url" in info.config.model_fields


def _local(info: Any) -> bool:
    return "device" in info.config.model_fields


def features(info: Any) -> dict[str, str]:
    """The feature matrix row of one reranker, read from its config model and scorer class."""
    fields = info.config.model_fields
    where = "fusion" if info.kind == "fusion" else " + ".join(
        w for w, ok in (("local", _local(info)), ("hosted", _hosted(info))) if ok
    )
    unit = ""
    if "passages" in fields and isinstance(info.factory, type):
        measure = getattr(info.factory, "length_measure", None)
        hint = typing.get_type_hints(measure).get("return") if measure else None
        unit = getattr(hint, "unit", "words") if hint else "words"
    method = fields.get("method")
    backend = fields.get("backend")
    yes = "✓"
    return {
        "where": where,
        "passages (unit)": f"{yes} ({unit})" if unit else "",
        "batch": yes,
        "async": "native" if _hosted(info) else yes,
        "cache": yes if "cache" in fields else "",
        "listwise": yes if method and "listwise" in typing.get_args(method.annotation) else "",
        "backends": ", ".join(typing.get_args(backend.annotation)) if backend else "",
        "GPU": yes if _local(info) else "",
    }


def matrix() -> str:
    infos = rerankers()
    heads = list(features(infos[0]))
    lines = [
        "---",
        "hide:",
        "  - toc",
        "---",
        "",
        "# All rerankers",
        "",
        "Every reranker installed here, one page each with its options. The table is generated from each",
        "reranker's config model and scorer class when the site is built (`docs/_site/generate.py`):",
        "**batch** is `rerank_batch` (every reranker has it; hosted ones send queries concurrently),",
        "**async** the `arerank_*` twins (native: non-blocking HTTP; ✓: run on a worker thread),",
        "**passages** splits long texts into windows that fit the scorer (the unit it counts),",
        "**cache**, `rate_limit` and `fallback` are the cost and outage controls, **GPU** a `device` option.",
        "",
        "| reranker | package | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(heads),
    ]
    for info in infos:
        row = features(info)
        lines.append(f"| [`{info.name}`]({info.name}.md) | `{info.distribution}` | " + " | ".join(
            row[h] for h in heads) + " |")
    return "\n".join(lines) + "\n"


def reranker_page(info: Any) -> str:
    from .sources import PAGE_OF

    pkg = info.distribution
    install = "pip install rerankit" if pkg == "rerankit" else f"pip install rerankit {pkg}"
    doc = inspect.getdoc(info.config) or ""
    lines = [
        f"# `{info.name}`",
        "",
        f"A **{info.kind}** reranker from the package `{pkg}`"
        + (" (no model, no network)." if info.kind == "fusion" else f" ({features(info)['where']})."),
        "",
        "<!-- not-run: a shell command; tests/kit/test_packaging.py installs every package alone -->",
        "```bash",
        install,
        "```",
        "",
        "## Options",
        "",
        f"Generated from `{info.config.__module__}.{info.config.__qualname__}` when the site is built."
        + (f" {doc.splitlines()[0]}" if doc and not doc.startswith("Options") else ""),
        "",
        options_table(info.config),
        "",
    ]
    readme = f"plugins/{pkg.removeprefix('rerankit-')}/README.md"
    prose = PROSE.get(info.name, readme if readme in PAGE_OF else None)
    if info.name in SEE:
        lines += [f"How it works, with the package's other rerankers: the [`{SEE[info.name]}`]({SEE[info.name]}.md) "
                  "page.", ""]
    elif prose:
        skip = " skip=options" if "#" not in prose else ""
        lines += [f"<!-- include {prose}{skip} -->", ""]
    return "\n".join(lines)


def _usage(parser: argparse.ArgumentParser) -> str:
    return parser.format_help().replace("usage: ", "", 1)


def subcommands(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    from rerankit._cli import build_parser

    parser = parser or build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def cli_page() -> str:
    from rerankit._cli import build_parser

    parser = build_parser()
    lines = [
        "# Command line",
        "",
        "The `rerankit` executable (also `python -m rerankit`) ships with the core package. This page is",
        "generated from its argparse parsers when the site is built, so it is exactly `rerankit COMMAND --help`.",
        "How the commands read files and options, and what they print: [the command line](../guides/command-line.md).",
        "",
        "<!-- not-run: --help output, generated from the parser itself -->",
        "```text",
        _usage(parser).rstrip(),
        "```",
        "",
    ]
    for name, sub in subcommands(parser).items():
        lines += [f"## `rerankit {name}`", "", "<!-- not-run: --help output, generated from the parser itself -->",
                  "```text", _usage(sub).rstrip(), "```", ""]
    lines += ["Files, option precedence, errors and examples: [the command line](../guides/command-line.md).", ""]
    return "\n".join(lines)


def config_page() -> str:
    import rerankit

    lines = [
        "# Configuration options",
        "",
        "Every option of every reranker, generated from the pydantic config models when the site is",
        "built. A config file (`rerankit.from_config`, `rerankit rerank --config`, `rerankit serve",
        "--config`) is `reranker = \"NAME\"` plus these options; `get_reranker(NAME, **options)` takes",
        "the same names. Unknown options are refused by name.",
        "",
        "## Every reranker: `RerankerConfig`",
        "",
        options_table(rerankit.RerankerConfig),
        "",
    ]
    for info in rerankers():
        lines += [f"## `{info.name}`", "", f"[The `{info.name}` page](../rerankers/{info.name}.md) ·"
                  f" `{info.config.__module__}.{info.config.__qualname__}`", "", options_table(info.config), ""]
    return "\n".join(lines)


def errors_page() -> str:
    import rerankit

    base = rerankit.RerankitError
    classes = [getattr(rerankit, n) for n in rerankit.__all__ if isinstance(getattr(rerankit, n), type)]
    errors = [c for c in classes if issubclass(c, base)]

    def tree(cls: type, depth: int) -> list[str]:
        also = [b.__name__ for b in cls.__bases__ if b is not object and not issubclass(b, base)]
        out = ["    " * depth + f"- [`{cls.__name__}`](#{cls.__name__.lower()})"
               + (f" (also `{', '.join(also)}`)" if also else "")]
        for sub in sorted((c for c in errors if base in c.__mro__ and cls in c.__bases__), key=lambda c: c.__name__):
            out += tree(sub, depth + 1)
        return out

    lines = [
        "# Errors",
        "",
        "Every error rerankit raises is a `rerankit.RerankitError`; the tree is generated from",
        "`rerankit.__all__` when the site is built. Each message names the column or option and the fix.",
        "",
        *tree(base, 0),
        "",
    ]
    for cls in sorted(errors, key=lambda c: c.__name__):
        bases = ", ".join(f"`{b.__name__}`" for b in cls.__bases__ if b is not object)
        lines += [f"## `{cls.__name__}`", "", f"Subclass of {bases}. [API](api.md#rerankit.{cls.__name__})", "",
                  inspect.getdoc(cls) or "", ""]
    lines += ["<!-- include core/README.md#errors -->", ""]
    return "\n".join(lines)


def serve_api_page() -> str:
    from rerankit.serve._openapi import openapi_document
    from rerankit.serve._service import ROUTES

    doc = openapi_document(ROUTES)
    lines = [
        "# Serve API",
        "",
        "`rerankit serve` answers `GET /openapi.json` with this OpenAPI document (generated from the",
        "server's routes and wire formats: `rerankit.serve._openapi`). The routes, then the document itself.",
        "",
        "| method | path | summary |",
        "|---|---|---|",
    ]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            lines.append(f"| `{method.upper()}` | `{path}` | {_cell(op.get('summary', ''))} |")
    lines.append("")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            lines += [f"## `{method.upper()} {path}`", "", op.get("description", op.get("summary", "")), ""]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                lines += _schema_table(body, doc)
            codes = ", ".join(f"`{c}` {_cell(r.get('description', ''))}" for c, r in op.get("responses", {}).items())
            lines += [f"**Responses:** {codes}", ""]
    lines += [
        "## The document",
        "",
        "<!-- not-run: JSON data, not code; tests/serve/test_openapi_route.py checks the server answers it -->",
        "```json",
        json.dumps(doc, indent=2),
        "```",
        "",
        "How to run the server, call it, batch, limit and deploy it: [serving](../guides/serving.md).",
        "",
    ]
    return "\n".join(lines)


def _schema_table(schema: dict, doc: dict) -> list[str]:
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = schema.get("properties", {})
    if not props:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        kind = _cell(prop.get("type") or " | ".join(p.get("type", "object") for p in prop.get("anyOf", [])))
        need = "yes" if name in required else ""
        rows.append(f"| `{name}` | {kind} | {need} | {_cell(prop.get('description', ''))} |")
    return [*rows, ""]


def pages() -> dict[str, str]:
    """Every generated page: docs/ path -> Markdown."""
    out = {"rerankers/index.md": matrix()}
    for info in rerankers():
        out[f"rerankers/{info.name}.md"] = reranker_page(info)
    out["reference/cli.md"] = cli_page()
    out["reference/config.md"] = config_page()
    out["reference/errors.md"] = errors_page()
    out["reference/serve-api.md"] = serve_api_page()
    return out
