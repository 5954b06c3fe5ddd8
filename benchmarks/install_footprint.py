"""Installed size of each way to install rerankit's local-model plugins: torch, or torch-free.

Builds the wheels of the core and the three local-model plugins from this checkout, makes one
fresh virtual environment per way, installs into it with pip (the configured index, with torch
pinned to the version the running environment has, the CPU build here: the default Linux wheel
adds several GB of CUDA libraries), and prints the size of site-packages and its largest
distributions. Each way is what its README line tells a user to type.

    python benchmarks/install_footprint.py              # every way (several minutes, heavy on disk)
    python benchmarks/install_footprint.py --only cpu-onnx cpu-openvino
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGINS = ("crossencoder", "embedding", "colbert")
#: way -> (pip installs, each a list of requirements; "{core}" etc. name the wheels built here)
WAYS = {
    "core only": [["{core}"]],
    "crossencoder (torch, today)": [["{core}", "{crossencoder}"]],
    "crossencoder[onnx] (torch + ONNX Runtime)": [["{core}", "{crossencoder}[onnx]"]],
    "cpu-onnx (no torch)": [["{core}[cpu-onnx]"], ["--no-deps", "{crossencoder}", "{embedding}", "{colbert}"]],
    "cpu-openvino (no torch)": [["{core}[cpu-openvino]"], ["--no-deps", "{crossencoder}", "{embedding}", "{colbert}"]],
}
KEYS = {"cpu-onnx": "cpu-onnx (no torch)", "cpu-openvino": "cpu-openvino (no torch)", "core": "core only",
        "torch": "crossencoder (torch, today)", "torch-onnx": "crossencoder[onnx] (torch + ONNX Runtime)"}


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(KEYS), help="ways to measure (default: all)")
    parser.add_argument("--keep", help="build the venvs under this folder and keep them")
    args = parser.parse_args()
    ways = [KEYS[k] for k in args.only] if args.only else list(WAYS)
    root = Path(args.keep or tempfile.mkdtemp(prefix="footprint-"))
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(REPO / "core"), *(str(REPO / "plugins" / p) for p in PLUGINS)], check=True)
    names = {"core": next(wheels.glob("rerankit-*.whl"))}
    names.update({p: next(wheels.glob(f"rerankit_{p}-*.whl")) for p in PLUGINS})
    from importlib.metadata import version

    pins = root / "constraints.txt"
    pins.write_text(f"torch=={version('torch')}\n", encoding="utf-8")
    rows = []
    for way in ways:
        venv = root / way.split(" ")[0].replace("[", "-").replace("]", "")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        for step in WAYS[way]:
            reqs = [r.format(**{k: str(v) for k, v in names.items()}) for r in step]
            pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "-c", str(pins)]
            subprocess.run([*pip, *reqs], check=True)
        site = next((venv / "lib").glob("python*/site-packages"))
        dists = {}
        for info in site.glob("*.dist-info"):
            files = [site / line.split(",")[0] for line in (info / "RECORD").read_text().splitlines() if line]
            dists[info.name.rsplit("-", 1)[0]] = sum(f.stat().st_size for f in files if f.is_file())
        top = sorted(dists.items(), key=lambda kv: -kv[1])[:6]
        torch = next((n for n in dists if n.startswith("torch-")), "no torch")
        rows.append((way, size(site), torch, top))
        if not args.keep:
            shutil.rmtree(venv)
    print(f"{'way':45} {'site-packages':>14}  largest")
    for way, total, torch, top in rows:
        largest = ", ".join(f"{n.split('-')[0]} {b / 1e6:.0f}" for n, b in top)
        print(f"{way:45} {total / 1e6:>11.0f} MB  {largest}  ({torch})")


if __name__ == "__main__":
    main()
