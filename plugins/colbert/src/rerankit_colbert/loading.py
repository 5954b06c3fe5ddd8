"""Loading ColBERT checkpoints: once per process for each set of load-relevant options.

Rerankers with the same model, device, precision and loading options share one model, held in
rerankit's process-wide cache of local models (:data:`rerankit.local.models`) under a
:class:`ColbertKey`; ``colbert`` and ``answerdotai`` on the same checkpoint share it too. Lengths,
``batch_size``, ``column`` and ``top_n`` are applied when scoring and do not split the cache.
torch and transformers are imported inside functions, never when the plugin is imported.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from rerankit.local import LoadKey, models
from rerankit.local import load_key as shared_load_key

from .config import ColbertConfig

if TYPE_CHECKING:
    from .encoder import ColbertModel
    from .exported import ExportedColbert

logger = logging.getLogger("rerankit.colbert")


class ColbertKey(LoadKey):
    """ColBERT models in the shared cache (``colbert`` and ``answerdotai`` alike)."""


def load_key(config: ColbertConfig) -> ColbertKey:
    """The cache key for ``config``: the device resolved, a local path made absolute."""
    return shared_load_key(config, ColbertKey)


def load(key: ColbertKey) -> ColbertModel | ExportedColbert:
    """The process-wide model for ``key``, loaded on first request (thread-safe): a local folder that
    ships its export for the onnx or openvino backend loads as an :class:`~.exported.ExportedColbert`,
    without torch."""
    return models.get(key, lambda: _load(key))


def _load(key: ColbertKey) -> ColbertModel | ExportedColbert:
    from .exported import ExportedColbert, exported_folder

    if exported_folder(key):  # the folder's own export: scored without torch or transformers
        logger.info("loading exported ColBERT model %s on %s", key.model_name, key.backend)
        return ExportedColbert(key)
    from .encoder import ColbertModel

    return ColbertModel.load(key)


def export(
    model_name: str,
    out: str | os.PathLike[str],
    *,
    backend: str = "onnx",
    quantize: Optional[str] = None,
    weights: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Write a self-contained folder ``out`` that scores without torch: ``model_name``'s files (its
    weights only with ``weights=True``) plus encoder and projection as one ONNX or OpenVINO graph.
    Run it where torch is installed; score the folder anywhere with
    ``get_reranker("colbert", model_name=out, backend=backend)``. ``options`` are other loading
    options (``cache_dir``, ``local_files_only``)."""
    key = load_key(ColbertConfig(model_name=model_name, backend=backend, quantize=quantize, device="cpu", **options))
    return write_folder(load(key), out, weights=weights, overwrite=overwrite)


def write_folder(
    model: ColbertModel | ExportedColbert, out: str | os.PathLike[str], *, weights: bool, overwrite: bool
) -> Path:
    """The export folder of a loaded ``model`` (see :func:`export`)."""
    from rerankit import ConfigError
    from rerankit.local import read_export_marker, write_export_folder

    from .exported import ExportedColbert

    key = model.key
    if model.runtime is None:
        raise ConfigError("export writes an ONNX or OpenVINO graph: set backend='onnx' or 'openvino'")
    computes: tuple[str, ...] = ("projection",)
    if isinstance(model, ExportedColbert):  # already an export folder: keep what its graph computes
        computes = tuple(read_export_marker(key.model_name).get("computes", ()))
    return write_export_folder(
        model.runtime, key.model_name, out, scorer="colbert", computes=computes, quantize=key.quantize,
        weights=weights, overwrite=overwrite, cache_dir=key.cache_dir, local_files_only=key.local_files_only,
        tokenizer=model.tokenizer, tokenizer_dir=model.settings.transformer,
    )


#: How many ColBERT models this process loaded and which are held (model, device, dtype, backend, quantize).
model_cache_info = ColbertKey.cache_info
#: Drop every cached ColBERT model (rerankers built earlier reload on their next score).
clear_model_cache = ColbertKey.clear
