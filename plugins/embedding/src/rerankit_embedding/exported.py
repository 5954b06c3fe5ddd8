"""A bi-encoder folder that ships its exported model, encoded without torch or sentence-transformers.

With ``backend="onnx"`` or ``"openvino"`` and a local folder holding ``onnx/model.onnx`` (or
``openvino/openvino_model.xml``) and ``tokenizer.json``, texts are tokenized by the ``tokenizers``
library and encoded by the runtime. The folder is either one :func:`rerankit_embedding.export`
wrote (its graph computes the whole sentence-transformers pipeline: ``rerankit_export.json``
says so) or a sentence-transformers checkpoint with its own ``onnx/`` export, whose graph stops
at the token embeddings: then the rest of the pipeline is read from ``modules.json`` and applied
in numpy (``Pooling`` from its ``config.json``; ``Dense`` from its saved weights; ``Normalize``).
Texts are prepared as sentence-transformers does (prompt put before, stripped, lower-cased when
``sentence_bert_config.json`` says so); sorting, batching and truncation counting are the shared
layer's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rerankit import ConfigError
from rerankit.local import (
    FastTokenizer,
    LengthSortedBatches,
    LoadKey,
    count_truncated,
    models,
    open_runtime,
    read_export_marker,
    read_safetensors,
    shipped_file,
)

from .prompts import SavedPrompts

Step = Callable[[np.ndarray, np.ndarray], np.ndarray]


def exported_folder(key: LoadKey) -> bool:
    """Whether ``key`` names a local folder scored from its own export (the export and tokenizer.json)."""
    return (
        key.backend != "torch"
        and shipped_file(key.model_name, key.backend) is not None
        and (Path(key.model_name) / _transformer_path(Path(key.model_name)) / "tokenizer.json").is_file()
    )


class ExportedEncoder(SavedPrompts):
    """The shipped export, its tokenizer and the numpy rest of the pipeline; the same interface as
    :class:`~.local.LocalEncoder`."""

    def __init__(self, key: LoadKey) -> None:
        self.key = key
        self.lock = models.lock(key)
        folder = Path(key.model_name)
        body = folder / _transformer_path(folder)
        self.tokenizer = FastTokenizer.from_dir(str(body))
        settings = _json(body / "sentence_bert_config.json")
        self.lowercase = bool(settings.get("do_lower_case"))
        # as sentence-transformers: the saved max_seq_length, else the model's and tokenizer's limits
        positions = _json(body / "config.json").get("max_position_embeddings")
        limits = [v for v in (self.tokenizer.model_max_length, positions) if isinstance(v, int) and 0 < v < 1_000_000]
        saved_limit = settings.get("max_seq_length")
        self.max_length = int(key.max_length or saved_limit or (min(limits) if limits else 512))
        saved = _json(folder / "config_sentence_transformers.json")
        self.prompts: dict[str, str] = {k: v for k, v in (saved.get("prompts") or {}).items() if v}
        default = saved.get("default_prompt_name")
        self.default_prompt = self.prompts.get(default, "") if default else ""
        marker = read_export_marker(folder)
        #: The numpy steps after the encoder; empty when the graph computes the whole pipeline.
        self.steps: list[Step] = [] if marker.get("computes") else _pipeline(folder, key.model_name)
        self.runtime = open_runtime(key, None, shipped=shipped_file(key.model_name, key.backend))
        self.dimension = int(self._forward(["a"])[0].shape[1])  # the cache holds this key's lock now

    def encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> tuple[np.ndarray, int]:
        """float32 ``[len(texts), dim]`` embeddings in input order, and how many texts were cut."""
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32), 0
        prepared = [(prompt + t).strip() for t in texts]  # as sentence-transformers' Transformer does
        if self.lowercase:
            prepared = [t.lower() for t in prepared]
        batches = LengthSortedBatches([len(t) for t in prepared], batch_size)
        parts, cut = [], 0
        for rows in batches:
            with self.lock:
                out, batch_cut = self._forward([prepared[i] for i in rows])
            parts.append(out)
            cut += batch_cut
        return batches.restore(np.concatenate(parts)), cut

    def _forward(self, batch: list[str]) -> tuple[np.ndarray, int]:
        """One batch of prepared texts: embeddings and how many were cut (the caller holds the lock)."""
        enc = self.tokenizer(batch, truncation="longest_first", max_length=self.max_length, padding=True,
                             return_tensors="np")
        out = self.runtime.run(enc, limit=self.max_length)[0]
        if out.ndim == 3:  # token embeddings: the rest of the pipeline in numpy
            for step in self.steps:
                out = step(out, enc["attention_mask"])
        return out.astype(np.float32, copy=False), count_truncated(enc, self.max_length, batch)


# -- the pipeline after the encoder ----------------------------------------------------------------
def _transformer_path(folder: Path) -> str:
    """The folder of the Transformer module (modules.json), '' at the root."""
    for module in _modules(folder):
        if str(module.get("type", "")).endswith(".Transformer"):
            return str(module.get("path") or "")
    return ""


def _modules(folder: Path) -> list[dict[str, Any]]:
    found = _json(folder / "modules.json", [])
    return found if isinstance(found, list) else []


def _pipeline(folder: Path, name: str) -> list[Step]:
    steps: list[Step] = []
    for module in sorted(_modules(folder), key=lambda m: int(m.get("idx", 0))):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / str(module.get("path") or "")
        if kind == "Transformer":
            continue
        if kind == "Pooling":
            steps.append(_pooling(_json(path / "config.json"), name))
        elif kind == "Dense":
            steps.append(_dense(path, name))
        elif kind == "Normalize":
            steps.append(lambda x, mask: x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12))
        else:
            raise ConfigError(
                f"model_name={name!r}: its {kind} module is not in the exported graph and cannot run without "
                "torch; export the folder with rerankit_embedding.export (the whole pipeline in the graph)"
            )
    if not steps:  # no modules.json: sentence-transformers' default for a bare transformer
        steps.append(_pooling({"pooling_mode": "mean"}, name))
    return steps


def _pooling(config: dict[str, Any], name: str) -> Step:
    """sentence-transformers' Pooling: the chosen modes computed and joined in its order."""
    if config.get("include_prompt", True) is False:
        raise ConfigError(
            f"backend: model_name={name!r} pools without its prompt tokens, which the exported folder cannot "
            "tell apart; use backend='torch'"
        )
    modes = _pooling_modes(config)
    unknown = [m for m in modes if m not in LEGACY_MODES.values()]
    if not modes or unknown:
        raise ConfigError(f"model_name={name!r}: its Pooling config.json names pooling modes {modes}, which "
                          f"are not ones numpy runs here ({', '.join(LEGACY_MODES.values())})")

    def pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weight = mask[..., None].astype(np.float32)
        count = np.maximum(weight.sum(1), 1e-9)
        out = []
        for mode in modes:
            if mode == "cls":  # the first attended position
                out.append(tokens[np.arange(len(tokens)), np.argmax(mask, axis=1)])
            elif mode == "max":
                out.append(np.where(weight > 0, tokens, -1e9).max(1))
            elif mode == "mean":
                out.append((tokens * weight).sum(1) / count)
            elif mode == "mean_sqrt_len_tokens":
                out.append((tokens * weight).sum(1) / np.sqrt(count))
            elif mode == "weightedmean":
                ramp = weight * np.arange(1, tokens.shape[1] + 1, dtype=np.float32)[None, :, None]
                out.append((tokens * ramp).sum(1) / np.maximum(ramp.sum(1), 1e-9))
            else:  # lasttoken: each row's last attended position
                last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
                out.append(tokens[np.arange(len(tokens)), last])
        return np.concatenate(out, axis=1)

    return pool


#: sentence-transformers' older Pooling config keys and the mode each turns on, in its order.
LEGACY_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def _pooling_modes(config: dict[str, Any]) -> list[str]:
    """The modes, in order: ``pooling_mode`` (a name or a list; sentence-transformers 6) or the older flags."""
    mode = config.get("pooling_mode")
    if mode is None:
        return [m for key, m in LEGACY_MODES.items() if config.get(key)]
    return [mode] if isinstance(mode, str) else list(mode)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Identity": lambda x: x,
    "Tanh": np.tanh,
    "ReLU": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}


def _dense(path: Path, name: str) -> Step:
    """sentence-transformers' Dense: ``activation(x @ W.T + b)`` from the module's saved weights."""
    config = _json(path / "config.json")
    activation = str(config.get("activation_function", "torch.nn.modules.activation.Tanh")).rsplit(".", 1)[-1]
    if activation not in ACTIVATIONS or not (path / "model.safetensors").is_file():
        raise ConfigError(
            f"model_name={name!r}: its Dense module in {path.name!r} (activation {activation}, weights in "
            "model.safetensors) cannot run in numpy; export the folder with rerankit_embedding.export"
        )
    state = read_safetensors(path / "model.safetensors")
    weight, bias = state["linear.weight"], state.get("linear.bias")
    act = ACTIVATIONS[activation]
    return lambda x, mask: act(x @ weight.T + (bias if bias is not None else 0))


def _json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {} if default is None else default
