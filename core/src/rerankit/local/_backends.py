"""CPU backends for local models: the forward pass on ONNX Runtime or OpenVINO instead of torch.

A backend changes one thing, the forward pass: tokenization, truncation, batching, passages and
order restoration stay the plugin's shared code. :func:`open_runtime` gives a :class:`Runtime`
that runs a batch of encoded inputs (numpy arrays by name) and returns the outputs. The model
comes from, in order:

1. a file the checkpoint ships (``onnx/model.onnx``, ``openvino/openvino_model.xml``, as
   sentence-transformers exports them), used as it is;
2. the on-disk export cache, keyed by the model's weights, the part exported, the options and the
   versions of torch, onnx and the runtime; every file is checked against the manifest's hashes
   before use, and a stale or damaged entry is rebuilt, never trusted;
3. the loaded torch module, exported with ``torch.onnx.export`` with transformers' eager
   attention (OpenVINO converts that ONNX file with ``openvino.convert_model``) and stored in the
   cache. For ONNX Runtime the file goes through its transformer graph fusion (attention,
   embedding and skip LayerNorm, bias GELU) first, kept only when the fused graph gives the same
   outputs on a probe batch.

Precision: OpenVINO runs float32 with its ``INFERENCE_PRECISION_HINT`` set to ``f32`` explicitly
(its CPU default is bf16 where the CPU has it) or bf16 for ``dtype="bfloat16"``;
``quantize="int8"`` is ONNX Runtime's dynamic int8 quantization of the (fused) export, or on
OpenVINO NNCF's int8 weight compression (the CPU plugin then quantizes activations on the fly). Threads
default to the cores this process may use. :func:`export_info` counts conversions and reuses, the
public signal that a second load converted nothing. Nothing here imports torch unless a model has
to be exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._errors import ConfigError

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")
#: Bumped when what an export holds changes, so older cache entries are rebuilt.
EXPORT_FORMAT = 2  # 2: eager attention traced, ONNX Runtime's fusion, OpenVINO int8
#: The files a checkpoint ships, as sentence-transformers' export_* functions write them.
SHIPPED = {"onnx": ("onnx", "model.onnx"), "openvino": ("openvino", "openvino_model.xml")}
INSTALL = {
    "onnx": "pip install onnxruntime onnx (or the plugin's [onnx] extra)",
    "openvino": "pip install openvino onnx (or the plugin's [openvino] extra)",
}

_counts_lock = threading.Lock()
#: Held while a runtime is looked up in the cache, exported or compiled: torch.onnx.export keeps
#: process-wide state (a second export from another thread fails its assertion), and two threads
#: building one cache entry would replace each other's files (a server warming up several models).
_opening = threading.RLock()
_counts = {"converted": 0, "reused": 0, "rebuilt": 0, "shipped": 0}


def export_info() -> dict[str, Any]:
    """What this process did to get models for the onnx and openvino backends: ``converted``
    (exported from torch), ``reused`` (taken from the disk cache), ``rebuilt`` (cache entries found
    stale or damaged, then converted again), ``shipped`` (the checkpoint's own export), and
    ``dir``, the cache folder."""
    with _counts_lock:
        return {**_counts, "dir": str(export_dir())}


def _count(what: str) -> None:
    with _counts_lock:
        _counts[what] += 1


def export_dir() -> Path:
    """Where exported models are cached: ``$RERANKIT_CACHE_DIR/exports``, else
    ``$XDG_CACHE_HOME/rerankit/exports``, else ``~/.cache/rerankit/exports``."""
    root = os.environ.get("RERANKIT_CACHE_DIR")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rerankit")
    return Path(root) / "exports"


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_backend(backend: str, dtype: str, quantize: Optional[str], threads: Optional[int], device: Optional[str],
                  torch_int8: bool) -> None:
    """Refuse a combination the backend cannot run, naming the option (a ValueError, which the
    config turns into a ConfigError)."""
    kind = (device or "auto").split(":")[0]
    if backend == "torch":
        if threads is not None:
            raise ValueError(
                "threads applies to backend='onnx' or 'openvino'; torch's thread pool is process-wide "
                "(torch.set_num_threads): drop threads or pick one of those backends"
            )
        if quantize is not None and not torch_int8:
            raise ValueError(
                f"quantize='{quantize}' runs on backend='onnx' (ONNX Runtime dynamic int8) or 'openvino' (int8 "
                "weights) here"
            )
    else:
        if kind not in ("auto", "cpu"):
            raise ValueError(
                f"backend='{backend}' runs on the CPU; drop device='{device}' or use backend='torch' on it"
            )
        if backend == "onnx" and dtype != "float32":
            raise ValueError(
                f"dtype='{dtype}' is not offered on backend='onnx' (ONNX Runtime's CPU kernels are float32 "
                "or int8): use dtype='float32', quantize='int8', or backend='openvino' for bfloat16"
            )
        if backend == "openvino" and quantize not in (None, "int8"):
            raise ValueError(f"quantize='{quantize}' is not offered on backend='openvino'; use quantize='int8'")
        if backend == "openvino" and dtype == "float16":
            raise ValueError("dtype='float16' needs a GPU; on backend='openvino' use 'float32' or 'bfloat16'")
    if quantize is not None and dtype != "float32":
        raise ValueError(f"quantize='{quantize}' starts from float32 weights; drop dtype='{dtype}'")


#: Padded sequence lengths are rounded up to a multiple of this (``limit`` permitting, see
#: :meth:`Runtime.run`), per (backend, dtype); 1 (exact lengths) where not listed. OpenVINO's CPU
#: plugin prepares its kernels for every new input shape (MiniLM-L6 on 2 cores: about 50-90 ms a
#: new shape, against about 100 ms for a warm batch of 8 x 150 tokens), and length-sorted batches
#: of varying length hardly ever repeat a shape; rounding makes them repeat, for a little more
#: padding. Measured end to end (the embedding reranker on Cranfield texts, benchmarks/backends.py
#: --varied) the two balance out: OpenVINO bf16 rounded to 16 ran -3% to +8% against exact lengths
#: in three runs, float32 -15% to +5%; so nothing rounds by default.
LENGTH_MULTIPLE: dict[tuple[str, str], int] = {}
#: Overrides LENGTH_MULTIPLE for runtimes opened after it is set (``1``: exact lengths).
LENGTH_MULTIPLE_ENV = "RERANKIT_LENGTH_MULTIPLE"


def length_multiple(backend: str, dtype: str) -> int:
    """What sequence lengths are rounded up to on ``backend`` at ``dtype``:
    ``$RERANKIT_LENGTH_MULTIPLE`` if set, else :data:`LENGTH_MULTIPLE`."""
    value = os.environ.get(LENGTH_MULTIPLE_ENV, "").strip()
    if not value:
        return LENGTH_MULTIPLE.get((backend, dtype), 1)
    try:
        multiple = int(value)
    except ValueError:
        multiple = 0
    if multiple < 1:
        raise ConfigError(
            f"{LENGTH_MULTIPLE_ENV}={value!r}: expected a whole number of tokens, 1 or more (1: exact lengths)"
        )
    return multiple


class Runtime:
    """A compiled model on one CPU backend: :meth:`run` takes encoded inputs, returns the outputs."""

    def __init__(self, backend: str, path: Path, run: Callable[[dict[str, np.ndarray]], list[np.ndarray]],
                 inputs: Sequence[str], origin: str, per_token: Sequence[bool] = (), multiple: int = 1) -> None:
        self.backend = backend
        #: The model file in use (in the cache, or the checkpoint's own).
        self.path = path
        #: The input names the model takes; :meth:`run` passes only these.
        self.inputs = tuple(inputs)
        #: Where the model came from: 'shipped', 'cache' or 'converted'.
        self.origin = origin
        #: Sequence lengths are padded up to a multiple of this when :meth:`run` is given a limit.
        self.length_multiple = multiple
        #: The (batch, sequence) shapes the model has run, padding included: how many distinct
        #: shapes the runtime had to prepare for.
        self.shapes: set[tuple[int, ...]] = set()
        self._per_token = tuple(per_token)  # outputs with a sequence axis (axis 1), cut back after padding
        self._run = run

    def run(self, inputs: Mapping[str, Any], *, limit: Optional[int] = None) -> list[np.ndarray]:
        """The model's outputs (numpy, float32) for one batch; ``inputs`` may hold extra names.

        With ``limit`` (the longest sequence the model takes, such as the tokenizer's
        ``max_length``), right-padded inputs are padded further, up to a multiple of
        :attr:`length_multiple` but never past ``limit``, so that batches of varying length repeat
        a few shapes; the padding is masked (``attention_mask`` 0), per-token outputs are cut back
        to the given length, and the outputs are those of the unpadded batch. Without ``limit``, or
        for a model without an ``attention_mask`` input, the inputs run as given."""
        feed = {name: np.ascontiguousarray(np.asarray(inputs[name]), dtype=np.int64) for name in self.inputs}
        length = _padded_length(feed, self.length_multiple, limit) if "attention_mask" in feed else None
        given = None
        if length is not None:
            given = feed["attention_mask"].shape[1]
            feed = {name: np.pad(value, ((0, 0), (0, length - given))) if value.ndim == 2 else value
                    for name, value in feed.items()}
        self.shapes.add(feed["input_ids"].shape if "input_ids" in feed else next(iter(feed.values())).shape)
        outputs = [np.asarray(out, dtype=np.float32) for out in self._run(feed)]
        if given is not None:
            outputs = [out[:, :given] if token and out.ndim >= 2 else out
                       for out, token in zip(outputs, self._per_token or [False] * len(outputs), strict=True)]
        return outputs

    def __repr__(self) -> str:
        return f"Runtime(backend={self.backend!r}, origin={self.origin!r}, path='{self.path}')"


def _padded_length(feed: dict[str, np.ndarray], multiple: int, limit: Optional[int]) -> Optional[int]:
    """The longer sequence length to pad ``feed`` to, or None to run it as given."""
    mask = feed["attention_mask"]
    if limit is None or multiple <= 1 or mask.ndim != 2 or mask.shape[1] == 0:
        return None
    given = mask.shape[1]
    if any(value.ndim == 2 and value.shape != mask.shape for value in feed.values()):
        return None
    if not mask[:, 0].all():  # left-padded (a padded row starts with 0): padding on the right would shift it
        return None
    length = min(-(-given // multiple) * multiple, max(given, limit))
    return length if length > given else None


@dataclass(frozen=True)
class Export:
    """How to export one part of a loaded torch model when no shipped or cached file serves.

    ``module`` is a factory of the torch module whose ``forward`` takes the ``inputs`` positionally
    and returns the tensor(s) named ``outputs``; ``fingerprint`` is anything that tells this part
    from others of the same weights (a head, a pooling), part of the cache key. ``unused`` are
    prefixes of weight names that never reach the outputs and are left out of the weights' hash
    (a pooler that transformers initialises at random on every load, for instance).
    """

    module: Callable[[], Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fingerprint: str = ""
    unused: tuple[str, ...] = ()


def shipped_file(model_dir: str, backend: str) -> Optional[Path]:
    """The checkpoint's own export for ``backend`` in local directory ``model_dir``, if any."""
    folder, name = SHIPPED[backend]
    path = Path(model_dir) / folder / name
    return path if path.is_file() and os.path.isdir(model_dir) else None


def open_runtime(key: Any, export: Optional[Export], *, shipped: Optional[Path] = None) -> Runtime:
    """What :func:`_open_runtime` gives, one thread at a time (see ``_opening``)."""
    with _opening:
        return _open_runtime(key, export, shipped=shipped)


def _open_runtime(key: Any, export: Optional[Export], *, shipped: Optional[Path] = None) -> Runtime:
    """A :class:`Runtime` for ``key`` (a :class:`~rerankit.local.LoadKey`: backend, dtype,
    quantize, threads): the ``shipped`` file if given (quantized into the cache with
    ``quantize='int8'``), else the cached export, else ``export`` run now and cached."""
    backend = key.backend
    _require(backend)
    if backend == "openvino" and key.quantize == "int8":
        _require_nncf()
    threads = key.threads or default_threads()
    length_multiple(backend, key.dtype)  # a bad RERANKIT_LENGTH_MULTIPLE is refused before anything is built
    if shipped is not None and key.quantize is None:
        _count("shipped")
        logger.info("%s: using the checkpoint's own %s model %s", key.model_name, backend, shipped)
        return _compile(backend, shipped, key.dtype, threads, "shipped")
    if shipped is None and export is None:
        raise ConfigError(
            f"backend='{backend}': model_name={key.model_name!r} ships no {'/'.join(SHIPPED[backend])} and "
            "torch is not available to export one; install the plugin with torch or use a folder that "
            "ships the exported model"
        )
    entry = export_dir() / _digest(key, export, shipped)
    path = _cached(entry)
    if path is not None:
        try:
            runtime = _compile(backend, path, key.dtype, threads, "cache")
        except Exception as exc:  # a file that hashes right but will not load: rebuild it
            logger.warning("exported model %s would not load (%s); rebuilding it", entry, exc)
            _count("rebuilt")
        else:
            _count("reused")
            logger.info("%s: reusing the %s export at %s", key.model_name, backend, entry)
            return runtime
    _build(entry, key, export, shipped)
    _count("converted")
    path = _cached(entry)
    if path is None:  # pragma: no cover - just written and verified
        raise ConfigError(f"backend='{backend}': the export written to {entry} did not verify")
    return _compile(backend, path, key.dtype, threads, "converted")


# -- the cache ---------------------------------------------------------------------------------------
def _digest(key: Any, export: Optional[Export], shipped: Optional[Path]) -> str:
    source = _file_fingerprint(shipped) if shipped is not None else _weights_fingerprint(export)
    facts = {
        "format": EXPORT_FORMAT,
        "model": key.model_name,
        "source": source,
        "part": export.fingerprint if export is not None else "",
        "backend": key.backend,
        "quantize": key.quantize,
        "versions": _versions(key.backend, key.quantize),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _versions(backend: str, quantize: Optional[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    if backend == "onnx":
        tools: tuple[str, ...] = ("onnxruntime",)  # its optimizer fuses, its quantizer quantizes
    else:
        tools = ("openvino", "nncf") if quantize else ("openvino",)
    for name in ("torch", "onnx", *tools):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def _file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _weights_fingerprint(export: Optional[Export]) -> str:
    """A hash of the module's weights: the same weights give the same export, whatever path or
    hub id they were loaded from; changed weights never reuse an old export."""
    assert export is not None
    module = export.module()
    digest = hashlib.sha256(type(module).__name__.encode())
    for name, tensor in module.state_dict().items():
        if name.startswith(export.unused):
            continue
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached(entry: Path) -> Optional[Path]:
    """The model file of cache ``entry`` if its manifest and every file's hash check out; a stale or
    damaged entry is removed (and logged) so that it is rebuilt."""
    manifest = entry / "manifest.json"
    if not entry.exists():
        return None
    try:
        facts = json.loads(manifest.read_text(encoding="utf-8"))
        files = facts["files"]
        for name, expected in files.items():
            if _sha256(entry / name) != expected:
                raise ValueError(f"{name} does not match its hash")
        return entry / facts["model"]
    except Exception as exc:
        logger.warning("exported model cache entry %s is damaged (%s); rebuilding it", entry, exc)
        _count("rebuilt")
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _build(entry: Path, key: Any, export: Optional[Export], shipped: Optional[Path]) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=entry.parent))
    try:
        logger.info("%s: converting to %s (%s) into %s", key.model_name, key.backend, key.quantize or key.dtype, entry)
        # the intermediate files in a folder of their own, removed once converted: a model past
        # ONNX's 2 GB protobuf limit is exported with its weights in files beside the graph
        scratch = work / "export"
        scratch.mkdir()
        if shipped is not None:
            onnx_path, shape = shipped, _config_attention_shape(shipped)
        else:
            onnx_path, shape = _export_onnx(export, scratch / "export.onnx")
        if key.backend == "onnx":
            model = "model.onnx"
            onnx_path = _fuse(onnx_path, scratch / "fused.onnx", shape)
            if key.quantize == "int8":
                _quantize_int8(onnx_path, work / model)
            else:
                _save_onnx(onnx_path, work / model)
        else:
            model = "openvino_model.xml"
            import openvino

            converted = openvino.convert_model(str(onnx_path))
            if key.quantize == "int8":
                converted = _compress_int8(converted)
            openvino.save_model(converted, str(work / model), compress_to_fp16=False)
        shutil.rmtree(scratch)
        files = {p.name: _sha256(p) for p in sorted(work.iterdir()) if p.is_file()}
        (work / "manifest.json").write_text(json.dumps({"model": model, "files": files}), encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(work, entry)  # atomic: a reader sees the whole entry or none
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"backend='{key.backend}': could not convert model_name={key.model_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _export_onnx(export: Optional[Export], path: Path) -> tuple[Path, Optional[tuple[int, int]]]:
    """The ONNX file of ``export``'s module, and its attention's (heads, hidden size) when it has a
    transformers config (what ONNX Runtime's graph fusion needs)."""
    import torch

    assert export is not None
    module = export.module().eval()
    batch = 2
    length = 8
    example = []
    for name in export.inputs:
        value = torch.ones(batch, length, dtype=torch.long)
        if name == "attention_mask":
            value[1, length // 2 :] = 0  # a padded row, so the mask is traced as data
        elif name == "token_type_ids":
            value.zero_()
        example.append(value)
    axes = {name: {0: "batch", 1: "sequence"} for name in export.inputs}
    axes.update({name: {0: "batch"} for name in export.outputs})
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), _eager_attention(module):
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            module, tuple(example), str(path), input_names=list(export.inputs), output_names=list(export.outputs),
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )
    return path, _attention_shape(module)


@contextlib.contextmanager
def _eager_attention(module: Any) -> Iterator[None]:
    """Trace transformers models with their plain ("eager") attention, restored afterwards.

    Traced, the SDPA path becomes a softmax wrapped in IsNaN/Where guards that neither ONNX
    Runtime's attention fusion nor OpenVINO's recognise; the eager path's MatMul-Softmax-MatMul is
    the pattern both compile into one fused attention (measured: OpenVINO float32 1.3x faster,
    ONNX Runtime able to fuse at all). The scores are the same math."""
    changed = []
    for sub in module.modules():
        setter = getattr(sub, "set_attn_implementation", None)
        current = getattr(getattr(sub, "config", None), "_attn_implementation", None)
        if setter is None or current in (None, "eager"):
            continue
        try:
            setter("eager")
        except Exception as exc:  # a model that cannot switch is traced as it is
            logger.debug("attention of %s kept as %s: %s", type(sub).__name__, current, exc)
            continue
        changed.append((setter, current))
    try:
        yield
    finally:
        for setter, current in reversed(changed):
            setter(current)


def _attention_shape(module: Any) -> Optional[tuple[int, int]]:
    for sub in module.modules():
        config = getattr(sub, "config", None)
        heads, hidden = getattr(config, "num_attention_heads", None), getattr(config, "hidden_size", None)
        if isinstance(heads, int) and isinstance(hidden, int):
            return heads, hidden
    return None


def _config_attention_shape(model_file: Path) -> Optional[tuple[int, int]]:
    """(heads, hidden size) from the ``config.json`` of the checkpoint that ships ``model_file``."""
    for folder in (model_file.parent.parent, model_file.parent):
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
        if isinstance(heads, int) and isinstance(hidden, int):
            return heads, hidden
    return None


def _fuse(source: Path, target: Path, shape: Optional[tuple[int, int]]) -> Path:
    """ONNX Runtime's transformer graph fusion (attention, embedding and skip LayerNorm, bias GELU)
    of ``source`` into ``target``, checked against ``source`` on a probe batch: the fused file if
    it fused anything and gives the same outputs (within 1e-4), else ``source``, logged."""
    if shape is None:
        return source
    from onnxruntime.transformers.optimizer import optimize_model

    heads, hidden = shape
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "failed to detect" notes for graphs it does not know
    try:
        fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        if not any(fused.get_fused_operator_statistics().values()):
            return source
        fused.save_model_to_file(str(target), use_external_data_format=_over_2gb(fused.model))
        expected, got = _probe(source), _probe(target)
    except Exception as exc:  # a graph the optimizer or the probe cannot handle: the plain export serves
        logger.warning("ONNX Runtime's graph fusion failed (%s: %s); keeping the unfused graph",
                       type(exc).__name__, exc)
        target.unlink(missing_ok=True)
        return source
    finally:
        quiet.setLevel(level)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(expected, got, strict=True))
    if worst > 1e-4:
        logger.warning("ONNX Runtime's graph fusion changed the outputs by %.1e; keeping the unfused graph", worst)
        target.unlink()
        return source
    return target


def _probe(path: Path) -> list[np.ndarray]:
    """The outputs of the ONNX file at ``path`` for a fixed batch of two rows, one padded."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {}
    for port in session.get_inputs():
        value = np.arange(32, dtype=np.int64).reshape(2, 16) % 5 + 1  # ids every vocabulary has
        if port.name == "attention_mask":
            value = np.ones((2, 16), dtype=np.int64)
            value[1, 9:] = 0
        elif port.name == "token_type_ids":
            value = np.zeros((2, 16), dtype=np.int64)  # some models have one type only
        feed[port.name] = value
    return [np.asarray(out, dtype=np.float32) for out in session.run(None, feed)]


def _save_onnx(source: Path, target: Path) -> None:
    import onnx

    model = onnx.load(str(source))
    if _over_2gb(model):  # the weights in one file beside the graph, which ONNX Runtime reads
        onnx.save(model, str(target), save_as_external_data=True, location=target.name + ".data")
    else:
        onnx.save(model, str(target))


#: Weights past this many bytes go in files beside the ONNX graph: one protobuf file holds at
#: most 2 GB, and the graph needs a margin of its own.
_ONE_FILE_WEIGHTS = 1_800_000_000


def _over_2gb(model: Any) -> bool:
    """Whether ``model``'s weights pass what one protobuf file can hold."""
    return sum(tensor.ByteSize() for tensor in model.graph.initializer) > _ONE_FILE_WEIGHTS


def _quantize_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its "consider pre-processing" notice goes to the root logger
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
            # the float32 weights' size (with the files beside the graph) bounds the int8 graph's
            use_external_data_format=sum(p.stat().st_size for p in source.parent.iterdir()) > _ONE_FILE_WEIGHTS,
            # the fused graph's contrib ops (Attention, SkipLayerNormalization) defeat shape
            # inference; their weights are float32
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        quiet.setLevel(level)


def _compress_int8(model: Any) -> Any:
    """OpenVINO ``model`` with its weights compressed to int8 by NNCF (asymmetric, per output
    channel); the CPU plugin then runs those MatMuls on int8 (VNNI/AMX) kernels, quantizing the
    activations on the fly."""
    import nncf

    quiet = logging.getLogger("nncf")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its per-layer statistics table
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its progress bar (rich, on stdout)
            return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    finally:
        quiet.setLevel(level)


# -- the runtimes ----------------------------------------------------------------------------------
def _require(backend: str) -> None:
    if backend not in ("onnx", "openvino"):
        raise ConfigError(f"backend={backend!r} has no runtime here; use 'onnx' or 'openvino'")
    module = "onnxruntime" if backend == "onnx" else "openvino"
    try:
        __import__(module)
    except ImportError as exc:
        raise ConfigError(f"backend='{backend}' needs {module}: {INSTALL[backend]} ({exc})") from None


def _require_nncf() -> None:
    try:
        import nncf  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "quantize='int8' on backend='openvino' compresses the weights with nncf: pip install nncf (or the "
            f"plugin's [openvino] extra); or drop quantize, or use backend='onnx' ({exc})"
        ) from None


def _compile(backend: str, path: Path, dtype: str, threads: int, origin: str) -> Runtime:
    if backend == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads sleep instead of spinning: beside a web server, a batcher or other processes,
        # spinning threads steal the cores the next batch needs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        per_token = [len(o.shape) >= 2 and not isinstance(o.shape[1], int) for o in session.get_outputs()]
        return Runtime(backend, path, lambda feed: session.run(None, feed), names, origin, per_token,
                       length_multiple(backend, dtype))
    import openvino

    compiled = openvino.Core().compile_model(
        str(path),
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": "bf16" if dtype == "bfloat16" else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
        },
    )
    names = [port.get_any_name() for port in compiled.inputs]
    shapes = [port.get_partial_shape() for port in compiled.outputs]
    per_token = [shape.rank.is_static and len(shape) >= 2 and shape[1].is_dynamic for shape in shapes]
    request = compiled.create_infer_request()
    lock = threading.Lock()

    def run(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        with lock:
            result = request.infer(feed)
            return [np.array(result[port]) for port in compiled.outputs]

    return Runtime(backend, path, run, names, origin, per_token, length_multiple(backend, dtype))
