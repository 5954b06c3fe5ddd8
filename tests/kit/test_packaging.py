"""Every package of the repository builds as a wheel and works installed alone.

Packages are found by glob (core/, every plugins/*/ and the example plugin), so a new plugin is
covered without editing this file. Each wheel is built with ``pip wheel --no-deps
--no-build-isolation``; ``rerankit`` is installed with its dependencies into a fresh virtual
environment, and each plugin into its own fresh virtual environment layered on that one (a ``.pth``
file makes the core's environment visible, so the light dependencies are installed once). There,
``get_reranker`` must find what the plugin registers, the core must not have pulled in httpx, torch,
lancedb or a RAG framework (LangChain, LlamaIndex and Haystack come with the adapters' extras), and
a plugin that does not declare a model framework must not have pulled in torch (hosted plugins, and
``rerankit-embedding``, whose local model is its ``[local]`` extra).

Plugins that declare a model framework (torch, transformers, sentence-transformers) are installed
with ``--no-deps``: the frameworks are gigabytes that no test should download, and with them absent
the check proves the stronger point that discovery and building never import them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from rerankit._registry import canonical_name
from tests.kit.conftest import EXAMPLES, REPO

PACKAGES = [REPO / "core", *sorted(p.parent for p in REPO.glob("plugins/*/pyproject.toml")), *EXAMPLES]
#: The core's RAG adapter extras and the framework each brings (never a required dependency).
ADAPTER_EXTRAS = {"langchain": "langchain-core", "llamaindex": "llama-index-core", "haystack": "haystack-ai"}
MODEL_FRAMEWORKS = {"torch", "transformers", "sentence-transformers", "tensorflow", "jax", "onnxruntime"}


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str
    requires: tuple[str, ...]  # Requires-Dist names outside extras

    @property
    def heavy(self) -> bool:
        return bool(MODEL_FRAMEWORKS & set(self.requires))


def _read_wheel(path: Path) -> Wheel:
    with zipfile.ZipFile(path) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    requires = tuple(
        canonical_name(re.match(r"[A-Za-z0-9._-]+", r).group(0))
        for r in meta.get_all("Requires-Dist") or []
        if "extra ==" not in r
    )
    return Wheel(path, canonical_name(meta["Name"]), requires)


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")

    @property
    def site(self) -> Path:
        out = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        )
        return Path(out.stdout.strip())

    def pip_install(self, *args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--quiet",
             "--disable-pip-version-check", *args],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{proc.stderr[-3000:]}"

    def pip_check(self) -> None:
        """pip's own check that every installed distribution has its requirements."""
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "check", "--disable-pip-version-check"],
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, f"pip check: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"

    def run(self, code: str) -> dict:
        """Run ``code`` (which prints one JSON line last) in this environment, isolated from ours."""
        proc = subprocess.run(
            [str(self.python), "-I", "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
            cwd=self.root,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])


def _make_venv(path: Path, *, over: Venv | None = None) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    venv = Venv(path)
    if over is not None:
        (venv.site / "_rerankit_core_env.pth").write_text(f"{over.site}\n", encoding="utf-8")
    return venv


INSPECT = """
    import importlib.metadata as md, importlib.util, json, sys
    FRAMEWORKS = ("langchain_core", "llama_index", "haystack")
    import rerankit
    from rerankit import RerankitError, UnknownRerankerError

    dists = sorted({d.metadata["Name"] for d in md.distributions()})
    infos = rerankit.list_rerankers()
    built = {}
    for info in infos:
        if info.status != "ok":
            continue
        try:
            built[info.name] = repr(rerankit.get_reranker(info.name))
        except UnknownRerankerError as exc:
            built[info.name] = f"NOT FOUND: {exc}"
        except RerankitError as exc:  # found; its config needs more (an API key, a model path)
            built[info.name] = f"found, needs config: {type(exc).__name__}"
    print(json.dumps({
        "dists": dists,
        "rerankers": {i.name: [i.distribution, i.status, i.error] for i in infos},
        "built": built,
        "modules": sorted(m for m in ("torch", "transformers", "sentence_transformers", "httpx", "lancedb",
                                      "pytest", *FRAMEWORKS, "ray") if importlib.util.find_spec(m) is not None),
    }))
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Wheel]:
    out = tmp_path_factory.mktemp("wheels")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(out), *map(str, PACKAGES)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = {w.name: w for w in map(_read_wheel, sorted(out.glob("*.whl")))}
    assert len(built) == len(PACKAGES), f"built {sorted(built)} from {len(PACKAGES)} packages"
    return built


@pytest.fixture(scope="module")
def core_env(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Wheel]) -> Venv:
    venv = _make_venv(tmp_path_factory.mktemp("venvs") / "core")
    core = wheels["rerankit"]
    venv.pip_install("--find-links", str(core.path.parent), str(core.path))
    return venv


def test_every_package_is_discovered_and_builds(wheels: dict[str, Wheel]) -> None:
    assert {"rerankit", "rerankit-overlap", "rerankit-acme"} <= set(wheels)
    for package in PACKAGES:
        name = canonical_name(re.search(r'^name = "([^"]+)"', (package / "pyproject.toml").read_text(), re.M).group(1))
        assert name in wheels, f"{package} did not build a wheel"
        if name != "rerankit":
            assert "rerankit" in wheels[name].requires, f"{name} must depend on rerankit"


def test_core_installs_alone_and_light(core_env: Venv) -> None:
    found = core_env.run(INSPECT + "\n")
    dists = {canonical_name(d) for d in found["dists"]}
    assert "rerankit" in dists
    for heavy in ("httpx", "torch", "lancedb", "transformers", "pytest", *ADAPTER_EXTRAS.values(), "ray"):
        assert heavy not in dists, f"installing rerankit alone pulled in {heavy}"
    assert found["modules"] == []
    assert set(found["rerankers"]) == {"rrf", "linear", "mrr", "cascade"}
    assert found["built"].pop("cascade") == "found, needs config: ConfigError"  # its stages
    assert all(v.startswith("FusionReranker(") for v in found["built"].values())
    core_env.pip_check()
    kit = core_env.run(
        """
        import json
        try:
            import rerankit.testing
            print(json.dumps("imported"))
        except ImportError as exc:
            print(json.dumps(str(exc)))
        """
    )
    assert "pip install 'rerankit[testing]'" in kit, "without pytest, rerankit.testing must say how to get it"
    batch = core_env.run(
        """
        import json
        import pyarrow as pa
        from rerankit.batch import rerank_batches

        rows = pa.table({"query_id": [1, 1, 2], "_rowid": [1, 2, 3], "_distance": [0.2, 0.1, 0.3]})
        out = pa.Table.from_batches(list(rerank_batches([rows], "rrf")))
        try:
            import rerankit.ray
            ray = "imported"
        except ImportError as exc:
            ray = str(exc)
        print(json.dumps({"rowids": out["_rowid"].to_pylist(), "ranks": out["_rank"].to_pylist(), "ray": ray}))
        """
    )
    assert (batch["rowids"], batch["ranks"]) == ([2, 1, 3], [1, 2, 1]), "rerankit.batch works without Ray"
    assert "pip install 'rerankit[ray]'" in batch["ray"], "without Ray, rerankit.ray must say how to get it"
    adapters = core_env.run(
        """
        import importlib, json
        out = {}
        for extra in ("langchain", "llamaindex", "haystack"):
            try:
                importlib.import_module(f"rerankit.{extra}")
                out[extra] = "imported"
            except ImportError as exc:
                out[extra] = str(exc)
        print(json.dumps(out))
        """
    )
    for extra, message in adapters.items():
        assert f"pip install 'rerankit[{extra}]'" in message, f"rerankit.{extra} must say how to get its framework"


def test_core_extras_name_the_frameworks(wheels: dict[str, Wheel]) -> None:
    """``rerankit[langchain]`` (and the other adapter extras) bring their framework; plain rerankit does not."""
    with zipfile.ZipFile(wheels["rerankit"].path) as zf:
        meta = Parser().parsestr(zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode())
    extras: dict[str, set[str]] = {}
    for req in meta.get_all("Requires-Dist") or []:
        extra = re.search(r"""extra == ['"]([^'"]+)['"]""", req)
        if extra:
            extras.setdefault(extra.group(1), set()).add(canonical_name(re.match(r"[A-Za-z0-9._-]+", req).group(0)))
    for extra, framework in ADAPTER_EXTRAS.items():
        assert extras.get(extra) == {framework}, f"rerankit[{extra}] should require {framework}: {extras.get(extra)}"


def test_embedding_local_model_is_an_extra(wheels: dict[str, Wheel]) -> None:
    """``rerankit-embedding`` alone is the remote path (no torch); ``[local]`` brings the model stack."""
    wheel = wheels["rerankit-embedding"]
    assert not wheel.heavy, f"rerankit-embedding must not require a model framework: {wheel.requires}"
    with zipfile.ZipFile(wheel.path) as zf:
        meta = Parser().parsestr(zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode())
    local = {
        canonical_name(re.match(r"[A-Za-z0-9._-]+", req).group(0))
        for req in meta.get_all("Requires-Dist") or []
        if re.search(r"""extra == ['"]local['"]""", req)
    }
    assert {"sentence-transformers", "torch"} <= local, local


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != REPO / "core"], ids=lambda p: p.name)
def test_plugin_installs_alone(
    tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Wheel], core_env: Venv, package: Path
) -> None:
    name = canonical_name(re.search(r'^name = "([^"]+)"', (package / "pyproject.toml").read_text(), re.M).group(1))
    wheel = wheels[name]
    venv = _make_venv(tmp_path_factory.mktemp("venvs") / name, over=core_env)
    deps = ["--no-deps"] if wheel.heavy else []
    venv.pip_install(*deps, "--find-links", str(wheel.path.parent), str(wheel.path))
    found = venv.run(INSPECT)

    mine = {n: v for n, v in found["rerankers"].items() if v[0] and canonical_name(v[0]) == name}
    assert mine, f"{name} registers nothing in a fresh environment: {found['rerankers']}"
    for reranker, (_dist, status, error) in mine.items():
        assert status == "ok", f"{reranker} from {name} failed to load: {error}"
        assert not found["built"][reranker].startswith("NOT FOUND"), found["built"][reranker]
    errors = {n: v for n, v in found["rerankers"].items() if v[1] != "ok"}
    assert not errors, f"plugins failed to load: {errors}"
    dists = {canonical_name(d) for d in found["dists"]}
    if not wheel.heavy:
        assert "torch" not in dists, f"installing {name} pulled in torch"
        venv.pip_check()
    else:
        assert not {"torch", "transformers", "sentence_transformers"} & set(found["modules"])
    if name == "rerankit-overlap":
        _check_example(venv, found)


def _check_example(venv: Venv, found: dict) -> None:
    """The example installed from its wheel reranks, and `rerankit plugins` lists it."""
    assert found["rerankers"]["overlap"][:2] == ["rerankit-overlap", "ok"]
    out = venv.run(
        """
        import json, rerankit
        out = rerankit.get_reranker("overlap", top_n=1).rerank("fusion of lists", ["a cat", "fusion of ranked lists"])
        print(json.dumps(out.to_pylist()))
        """
    )
    assert out == [{"text": "fusion of ranked lists", "_relevance_score": 1.0}]
    cli = venv.run(
        """
        import contextlib, importlib.metadata as md, io, json, sys
        eps = [ep for ep in md.entry_points(group="console_scripts") if ep.name == "rerankit"]
        text, code = None, None
        if eps:
            sys.argv = ["rerankit", "plugins"]
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                try:
                    code = eps[0].load()()
                except SystemExit as exc:
                    code = exc.code
            text = buf.getvalue()
        print(json.dumps({"cli": bool(eps), "text": text, "code": code}))
        """
    )
    assert cli["cli"], "the core package must install the rerankit console script"
    assert cli["code"] in (0, None), cli
    assert "overlap" in cli["text"] and "rerankit-overlap" in cli["text"], cli["text"]

