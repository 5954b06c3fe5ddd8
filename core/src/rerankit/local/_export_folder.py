"""A self-contained exported model folder: what a torch-free environment scores.

:func:`write_export_folder` copies a checkpoint's files (tokenizer, configs, the pooling or
projection settings; weights only when asked) into a new folder and puts the runtime's model
beside them where a shipped export lives (``onnx/model.onnx`` or ``openvino/openvino_model.xml``
with its ``.bin``), plus ``rerankit_export.json`` saying what the graph already computes (a
sentence embedding's pooling and normalization, a ColBERT projection). A plugin loading that
folder with ``backend="onnx"`` or ``"openvino"`` reads it with :func:`read_export_marker`, runs
the graph, and applies in numpy only what the graph leaves out. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from .._errors import ConfigError
from ._backends import SHIPPED, Runtime

#: The file an export folder carries beside its model, naming what the graph computes.
EXPORT_MARKER = "rerankit_export.json"
#: Bumped when what an export folder holds changes meaning.
EXPORT_FOLDER_FORMAT = 1
#: Files left out of an export unless ``weights=True``: the torch weights the graph replaces.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx_data")


def write_export_folder(
    runtime: Runtime,
    source: str,
    out: str | os.PathLike[str],
    *,
    scorer: str,
    computes: tuple[str, ...],
    quantize: Optional[str] = None,
    weights: bool = False,
    overwrite: bool = False,
    cache_dir: Optional[str] = None,
    local_files_only: bool = False,
    tokenizer: Any = None,
    tokenizer_dir: str = "",
) -> Path:
    """Write the folder ``out`` (see the module docstring) and return it.

    ``source`` is the model folder or hub id the runtime was made from; ``computes`` names what the
    graph computes past the encoder (for instance ``("pooling", "normalize")``), which the loader
    then does not apply again. ``out`` must not exist or be empty unless ``overwrite``. A checkpoint
    without ``tokenizer.json`` (in ``tokenizer_dir``) gets the one of ``tokenizer``, a loaded
    Hugging Face fast tokenizer, which scoring without transformers needs.
    """
    target = Path(out).expanduser().resolve()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ConfigError(f"out={str(target)!r} exists and is not empty; choose a new folder or pass overwrite=True")
    origin = _source_dir(source, cache_dir, local_files_only)
    if origin.resolve() == target:
        raise ConfigError(f"out={str(target)!r} is the model folder itself; choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        shutil.copytree(origin, work, dirs_exist_ok=True, ignore=_ignore(weights))
        folder, name = SHIPPED[runtime.backend]
        (work / folder).mkdir()
        stem = runtime.path.name.split(".")[0]
        for part in runtime.path.parent.iterdir():  # the model and its companions (.bin, external data)
            if part.is_file() and part.name.split(".")[0] == stem:
                shutil.copy2(part, work / folder / part.name.replace(stem, name.split(".")[0], 1))
        fast = work / tokenizer_dir / "tokenizer.json"
        if not fast.is_file() and getattr(tokenizer, "backend_tokenizer", None) is not None:
            tokenizer.backend_tokenizer.save(str(fast))
        marker = {
            "format": EXPORT_FOLDER_FORMAT,
            "scorer": scorer,
            "backend": runtime.backend,
            "computes": list(computes),
            "quantize": quantize,
            "source": source,
        }
        (work / EXPORT_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def read_export_marker(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``rerankit_export.json`` of ``folder`` ({} for a folder rerankit did not export)."""
    path = Path(folder) / EXPORT_MARKER
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc}); export the model again") from None
    if not isinstance(found, dict) or found.get("format") != EXPORT_FOLDER_FORMAT:
        raise ConfigError(f"{path} is from another rerankit version (format {found.get('format')!r}); "
                          "export the model again")
    return found


def _source_dir(source: str, cache_dir: Optional[str], local_files_only: bool) -> Path:
    if os.path.isdir(source):
        return Path(source)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, cache_dir=cache_dir, local_files_only=local_files_only))
    except Exception as exc:
        raise ConfigError(f"model_name={source!r}: its files could not be read for the export ({exc})") from exc


def _ignore(weights: bool) -> Any:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in ("onnx", "openvino", ".cache", ".git", EXPORT_MARKER)}
        if not weights:
            skip |= {n for n in names if n.endswith(WEIGHT_SUFFIXES)}
        return skip

    return ignore
