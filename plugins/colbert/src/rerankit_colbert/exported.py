"""A ColBERT folder that ships its exported model, encoded and scored without torch or transformers.

With ``backend="onnx"`` or ``"openvino"`` and a local folder holding ``onnx/model.onnx`` (or
``openvino/openvino_model.xml``) and ``tokenizer.json``, queries and documents are tokenized by the
``tokenizers`` library exactly as :mod:`.encoder` does (marker after [CLS], [MASK] expansion,
punctuation skip-list), run through the runtime, L2-normalized and scored by MaxSim in numpy.
The folder is either one :func:`rerankit_colbert.export` wrote (its graph ends with the
projection: ``rerankit_export.json`` says so) or a checkpoint whose own export stops at the
encoder's token states: then the projection is applied in numpy from the saved weights
(Stanford's ``linear.weight``, PyLate's ``Dense`` modules, as safetensors).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rerankit import ConfigError
from rerankit.local import (
    FastTokenizer,
    LoadKey,
    count_truncated,
    open_runtime,
    read_export_marker,
    read_safetensors,
    shipped_file,
)

from .base import ColbertBase, position_limit
from .checkpoint import Files, read_settings

Layer = Callable[[np.ndarray], np.ndarray]


def exported_folder(key: LoadKey) -> bool:
    """Whether ``key`` names a local folder scored from its own export (the export and tokenizer.json)."""
    if key.backend == "torch" or shipped_file(key.model_name, key.backend) is None:
        return False
    return any((Path(key.model_name) / sub / "tokenizer.json").is_file() for sub in ("", _transformer(key)))


class ExportedColbert(ColbertBase):
    """The shipped export, its tokenizer and settings; the same interface as :class:`~.encoder.ColbertModel`."""

    def __init__(self, key: LoadKey) -> None:
        files = Files(key.model_name, key.cache_dir, key.local_files_only)
        settings = read_settings(files)
        folder = Path(key.model_name)
        body = folder / settings.transformer
        tokenizer = FastTokenizer.from_dir(str(body if (body / "tokenizer.json").is_file() else folder))
        config = _json(body / "config.json")
        self._setup(key, settings, tokenizer, position_limit(config.get("max_position_embeddings"),
                                                              tokenizer.model_max_length))
        self.skip_ids = np.asarray(self.skip_list, dtype=np.int64)
        #: The projection in numpy; empty when the exported graph ends with it.
        self.head: list[Layer] = [] if read_export_marker(folder).get("computes") else _head(files, settings)
        self.runtime = open_runtime(key, None, shipped=shipped_file(key.model_name, key.backend))
        probe = np.array([[tokenizer.cls_token_id or 0, tokenizer.sep_token_id or 0]], dtype=np.int64)
        self.dim = int(self._embed(probe, np.ones_like(probe)).shape[-1])
        if settings.dim is not None and int(settings.dim) != self.dim:
            raise ConfigError(
                f"ColBERT model_name={key.model_name!r}: its settings say dim={settings.dim} but the exported "
                f"model makes {self.dim}-dimensional vectors"
            )

    def _tokenize(self, texts: list[str], length: int, marker: Optional[int], expand: bool) -> tuple[Any, int]:
        """Token ids and attention with the marker inserted after [CLS], and how many texts were cut."""
        room = length - 1 if marker is not None else length
        enc = self.tokenizer(texts, padding="max_length" if expand else "longest", truncation="longest_first",
                             max_length=room, return_tensors="np")
        cut = count_truncated(enc, room, texts)
        ids, attention = enc["input_ids"], enc["attention_mask"]
        if marker is not None:
            ids = np.insert(ids, 1, marker, axis=1)
            attention = np.insert(attention, 1, 1, axis=1)
        return (ids, attention), cut

    def _embed(self, ids: np.ndarray, attention: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": attention, "token_type_ids": np.zeros_like(ids)}
        vectors = self.runtime.run(feed, limit=self.position_limit)[0]
        for layer in self.head:
            vectors = layer(vectors)
        norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def encode_queries(self, queries: Sequence[str], length: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Query token vectors ``[n, L, dim]``, the positions to score ``[n, L]``, texts truncated."""
        expand = self.settings.query_expansion
        with self.lock:
            (ids, attention), cut = self._tokenize(self._texts(queries), length, self.query_marker_id, expand)
            if expand:
                ids = np.where(attention == 0, self.expansion_id, ids)  # [MASK] augmentation
                scored = np.ones(attention.shape, dtype=bool)
                if self.settings.attend_to_expansion:
                    attention = np.ones_like(attention)
            else:
                scored = attention.astype(bool)
            vectors = self._embed(ids, attention)
        return vectors, scored, cut

    def encode_documents(self, texts: Sequence[str], length: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Document token vectors ``[n, T, dim]``, the tokens that count in the max, texts truncated."""
        with self.lock:
            (ids, attention), cut = self._tokenize(self._texts(texts), length, self.doc_marker_id, False)
            valid = attention.astype(bool) & ~np.isin(ids, self.skip_ids)
            vectors = self._embed(ids, attention)
        return vectors, valid, cut


# -- the projection in numpy, for an export that stops at the encoder -------------------------------
ACTIVATIONS: dict[str, Layer] = {
    "identity": lambda x: x,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}


def _head(files: Files, settings: Any) -> list[Layer]:
    if settings.layout == "stanford":
        path = files.get("model.safetensors")
        state = read_safetensors(path, {"linear.weight"}) if path else {}
        if "linear.weight" not in state:
            raise _no_projection(files.name, "linear.weight in model.safetensors")
        weight = state["linear.weight"]
        return [lambda x: x @ weight.T]
    layers = []
    for spec in settings.dense:
        path = files.get("model.safetensors", spec.folder)
        if path is None or spec.activation not in ACTIVATIONS:
            raise _no_projection(files.name, f"{spec.folder}/model.safetensors with a {spec.activation} activation")
        layers.append(_dense(read_safetensors(path), spec))
    return layers


def _dense(state: dict[str, np.ndarray], spec: Any) -> Layer:
    weight, bias = state["linear.weight"], state.get("linear.bias")
    residual = state.get("residual.weight")
    activation = ACTIVATIONS[spec.activation]

    def layer(x: np.ndarray) -> np.ndarray:
        y = activation(x @ weight.T + (bias if bias is not None else 0))
        if spec.residual:
            y = y + (x @ residual.T if residual is not None else x)
        return y

    return layer


def _no_projection(name: str, needed: str) -> ConfigError:
    return ConfigError(
        f"ColBERT model_name={name!r}: its exported model stops before the projection, which numpy applies "
        f"from {needed}; that is missing here. Export the folder with rerankit_colbert.export (the projection "
        "in the graph)"
    )


def _transformer(key: LoadKey) -> str:
    """The encoder's folder named by a PyLate modules.json ('' at the root)."""
    modules = _json(Path(key.model_name) / "modules.json", [])
    for module in modules if isinstance(modules, list) else []:
        if str(module.get("type", "")).endswith(".Transformer"):
            return str(module.get("path") or "")
    return ""


def _json(path: str | os.PathLike[str], default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {} if default is None else default
