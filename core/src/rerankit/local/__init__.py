"""rerankit's shared layer for local-model plugins (torch models run in this process).

What every plugin that runs a model locally needs, written once: ``crossencoder`` and ``colbert``
use it, and so can any third-party plugin (see docs/local-model-plugins.md).

- :class:`LocalModelConfig`: the shared options (``model_name``, ``device``, ``batch_size``,
  ``dtype``, ``trust_remote_code``, ``cache_dir``, ``local_files_only``), float16 on a CPU refused.
- :func:`resolve_device`: ``None``/``"auto"`` to cuda, then mps, then cpu; :func:`check_dtype`
  for precisions the resolved device cannot run.
- :data:`models`: the process-wide :class:`ModelCache`, keyed by load options, one lock per model.
- :class:`LoadKey` and :func:`load_key`: the cache key of a config's model (a plugin subclasses
  the key as its namespace: ``cache_info()``, ``clear()``); :func:`hub_options`,
  :func:`sentence_transformers_options` and :func:`load_error` for the loader itself.
- :class:`LengthSortedBatches`: similar lengths batched together, results put back in input order.
- :func:`count_truncated` and :class:`Truncations`: truncated inputs counted, one WARNING per call.
- :func:`open_runtime`: the forward pass on ONNX Runtime or OpenVINO (``backend="onnx"`` /
  ``"openvino"``), exported once from the torch model (or the checkpoint's own export) and cached
  on disk; :func:`export_info` counts conversions and reuses; :class:`FastTokenizer` reads a
  folder's ``tokenizer.json`` without transformers, for scoring a shipped export without torch.
- :func:`write_export_folder` writes a self-contained exported folder (the model files plus the
  graph and ``rerankit_export.json``, read back by :func:`read_export_marker`) that a torch-free
  environment scores; :func:`read_safetensors` reads weights into numpy without torch.
- :class:`TokenLength`: the model's tokenizer as the unit of the ``passages`` option, so every
  passage fits the model's window exactly (a scorer returns it from ``length_measure``).

Importing this package imports no torch, transformers or model library; only the functions that
need torch (``resolve_device`` with ``"auto"``) import it, when called.
"""

from __future__ import annotations

from ._backends import Export, Runtime, default_threads, export_info, open_runtime, shipped_file
from ._batching import LengthSortedBatches
from ._cache import ModelCache, models
from ._config import Backend, DType, LocalModelConfig
from ._device import DEVICE_PATTERN, check_dtype, resolve_device
from ._export_folder import EXPORT_MARKER, read_export_marker, write_export_folder
from ._keys import LoadKey, load_key
from ._length import TokenLength
from ._loading import hub_options, load_error, sentence_transformers_options
from ._numpy_weights import read_safetensors
from ._paths import is_local, model_path
from ._tokenizer import FastTokenizer
from ._truncation import Truncations, count_truncated

__all__ = [
    "DEVICE_PATTERN",
    "EXPORT_MARKER",
    "Backend",
    "DType",
    "Export",
    "FastTokenizer",
    "LengthSortedBatches",
    "LoadKey",
    "LocalModelConfig",
    "ModelCache",
    "Runtime",
    "TokenLength",
    "Truncations",
    "check_dtype",
    "count_truncated",
    "default_threads",
    "export_info",
    "hub_options",
    "is_local",
    "load_error",
    "load_key",
    "model_path",
    "models",
    "open_runtime",
    "read_export_marker",
    "read_safetensors",
    "resolve_device",
    "sentence_transformers_options",
    "shipped_file",
    "write_export_folder",
]
