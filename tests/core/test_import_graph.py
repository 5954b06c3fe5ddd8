"""The core's modules import each other without a cycle, function-level imports included.

The walker reads every module under ``core/src/rerankit`` with :mod:`ast` and follows each
``import`` and ``from ... import`` anywhere in the file (module level, functions, TYPE_CHECKING
blocks), plus dotted string literals naming a module of the package (modules loaded by name, such
as the built-in plugin list). ``from pkg import sub`` counts as importing ``pkg.sub`` alone, and
importing a submodule is not counted as importing its parent package: Python's own package
initialisation is not a design dependency. Run it as a script to print the graph.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "src"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``: dotted name -> file."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (at ``path``) imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = ".".join(p for p in (base if node.level else "", node.module or "") if p)
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            edges.update(submodules & known)
            if not submodules <= known:  # names defined in the module itself, not only submodules
                edges.add(target)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            edges.add(node.value)  # a module named in a string, e.g. loaded with importlib
    return {edge for edge in edges if edge in known and edge != name}


def graph(root: Path = CORE, package: str = "rerankit") -> dict[str, set[str]]:
    found = modules(root, package)
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_core_has_no_import_cycle() -> None:
    edges = graph()
    assert len(edges) > 20 and "rerankit._registry" in edges
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


PLUGINS = CORE.parents[1] / "plugins"


def plugin_packages() -> list[tuple[Path, str]]:
    """``(src folder, package)`` of every first-party plugin."""
    return [
        (package.parent, package.name)
        for package in sorted(PLUGINS.glob("*/src/rerankit_*"))
        if (package / "__init__.py").is_file()
    ]


def test_plugins_have_no_import_cycle() -> None:
    packages = plugin_packages()
    assert {"rerankit_crossencoder", "rerankit_colbert", "rerankit_embedding"} <= {name for _, name in packages}
    for root, package in packages:
        cycle = find_cycle(graph(root, package))
        assert cycle is None, f"import cycle in {package}: " + " -> ".join(cycle or [])


def test_rerankers_do_not_reach_back_into_the_registry() -> None:
    edges = graph()
    for module in ("rerankit._reranker", "rerankit._scoring.reranker", "rerankit._fusion"):
        assert "rerankit._registry" not in edges[module], module


def test_the_walker_sees_function_level_and_by_name_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def later():\n    from .c import thing\n    return thing\n")
    (pkg / "c.py").write_text("import importlib\nPLUGINS = ('pkg.a',)\n")
    edges = graph(tmp_path, "pkg")
    assert edges["pkg.a"] == {"pkg.b"} and edges["pkg.b"] == {"pkg.c"} and edges["pkg.c"] == {"pkg.a"}
    assert find_cycle(edges) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("thing = 1\n")
    assert find_cycle(graph(tmp_path, "pkg")) is None


if __name__ == "__main__":
    for module, targets in sorted(graph().items()):
        print(module, "->", ", ".join(sorted(targets)) or "-")
    cycle = find_cycle(graph())
    print("cycle:", " -> ".join(cycle) if cycle else "none")
    sys.exit(1 if cycle else 0)
