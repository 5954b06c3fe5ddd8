"""The local path: a sentence-transformers bi-encoder, loaded once per process and load options.

Rerankers built with the same model, device, precision, token limit and loading options share one
model in rerankit's process-wide cache (:data:`rerankit.local.models`) under an :class:`EmbeddingKey`;
``batch_size``, prompts, similarity, ``column`` and ``top_n`` are applied when encoding and do
not split the cache. Texts are encoded in batches of similar length
(:class:`rerankit.local.LengthSortedBatches`) with the model's lock held per batch (a fast
tokenizer fails under two threads at once, and one forward pass already uses every CPU thread),
by ``SentenceTransformer.encode`` itself, so prompts, pooling and normalization are exactly the
model's own. Truncation is counted from the tokenizer at the model's limit and reported by the
scorer. torch and sentence-transformers are imported here, inside functions, on first use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from rerankit import ConfigError
from rerankit.local import (
    Export,
    LengthSortedBatches,
    LoadKey,
    Runtime,
    count_truncated,
    load_error,
    models,
    open_runtime,
    sentence_transformers_options,
)
from rerankit.local import load_key as shared_load_key

from .config import EmbeddingConfig
from .prompts import SavedPrompts

if TYPE_CHECKING:
    from .exported import ExportedEncoder

logger = logging.getLogger("rerankit.embedding")

INSTALL = "pip install 'rerankit-embedding[local]'"


class EmbeddingKey(LoadKey):
    """The embedding reranker's local models in the shared cache (:func:`load_key` adds ``max_length``)."""


def load_key(config: EmbeddingConfig) -> EmbeddingKey:
    """The cache key for ``config``, with the device resolved and a local path made absolute."""
    return shared_load_key(config, EmbeddingKey, max_length=config.max_length)


class LocalEncoder(SavedPrompts):
    """A loaded sentence-transformers bi-encoder plus what encoding needs: lock, limit, prompts."""

    def __init__(self, model: Any, key: EmbeddingKey) -> None:
        self.model = model
        self.key = key
        self.lock = models.lock(key)
        #: The Hugging Face tokenizer the model cuts texts with (for length-aware callers).
        self.tokenizer = model.tokenizer
        #: The token limit texts are truncated at.
        self.max_length = int(model.max_seq_length or 512)
        # renamed in sentence-transformers 6 (the old name warns there)
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = dimension()
        # empty entries are sentence-transformers' placeholders ("document": ""), not prompts
        self.prompts: dict[str, str] = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
        default = getattr(model, "default_prompt_name", None)
        self.default_prompt = self.prompts.get(default, "") if default else ""
        #: The onnx or openvino runtime that runs the forward pass; None on torch.
        self.runtime: Optional[Runtime] = None
        if key.backend != "torch":
            self.runtime = _runtime(model, key)

    def encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> tuple[np.ndarray, int]:
        """float32 ``[len(texts), dim]`` embeddings in input order, and how many texts were cut."""
        import torch

        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32), 0
        batches = LengthSortedBatches([len(t) for t in texts], batch_size)
        parts = []
        cut = 0
        for rows in batches:
            batch = [texts[i] for i in rows]
            with self.lock:
                cut += self._count_truncated([prompt + t for t in batch])
                if self.runtime is not None:  # only the forward pass changes
                    features = _tokenize(self.model, [prompt + t for t in batch])
                    arrays = {k: v.numpy() for k, v in features.items() if isinstance(v, torch.Tensor)}
                    vectors = torch.from_numpy(self.runtime.run(arrays, limit=self.max_length)[0])
                else:
                    vectors = self.model.encode(
                        batch, prompt=prompt, batch_size=len(batch), convert_to_tensor=True, show_progress_bar=False
                    )
            parts.append(vectors.float())
        # one device-to-host copy at the end: a GPU never waits for the host between batches
        out = torch.cat(parts).cpu().numpy()
        return batches.restore(out).astype(np.float32, copy=False), cut

    def _count_truncated(self, texts: list[str]) -> int:
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=False)
        return count_truncated(enc, self.max_length, texts, tokenizer=self.tokenizer)


def _runtime(model: Any, key: EmbeddingKey) -> Runtime:
    """The whole sentence-transformers pipeline (transformer, pooling, normalization, dense) as one
    exported model: the tokenizer's inputs in, the sentence embedding out."""
    import torch

    if any(getattr(module, "include_prompt", True) is False for module in model):
        raise ConfigError(
            f"backend='{key.backend}': model_name={key.model_name!r} pools without its prompt tokens, "
            "which the exported model cannot tell apart; use backend='torch'"
        )
    sample = _tokenize(model, ["a"])
    names = tuple(k for k, v in sample.items() if isinstance(v, torch.Tensor))
    constants = {k: v for k, v in sample.items() if not isinstance(v, torch.Tensor)}  # e.g. modality="text"

    class Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model({**constants, **dict(zip(names, inputs, strict=True))})["sentence_embedding"]

    pipeline = "+".join(type(module).__name__ for module in model)
    export = Export(Embed, names, ("sentence_embedding",), f"sentence-transformers:{pipeline}")
    return open_runtime(key, export)


def _tokenize(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own preprocessing of ``texts`` (``preprocess`` from sentence-transformers 6 on)."""
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    return preprocess(texts)


def load(key: EmbeddingKey) -> LocalEncoder | ExportedEncoder:
    """The process-wide model for ``key`` (see :func:`load_key`), loaded on first request (thread-safe):
    a local folder that ships its export for the onnx or openvino backend loads as an
    :class:`~.exported.ExportedEncoder`, without torch."""
    return models.get(key, lambda: _load(key))


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
    weights only with ``weights=True``) plus the whole pipeline (transformer, pooling, dense,
    normalization) as one ONNX or OpenVINO graph. Run it where torch is installed; score the folder
    anywhere with ``get_reranker("embedding", model_name=out, backend=backend)``. ``options`` are
    other loading options (``cache_dir``, ``local_files_only``, ``trust_remote_code``)."""
    config = EmbeddingConfig(model_name=model_name, backend=backend, quantize=quantize, device="cpu", **options)
    return write_folder(load(load_key(config)), out, weights=weights, overwrite=overwrite)


def write_folder(
    encoder: LocalEncoder | ExportedEncoder, out: str | os.PathLike[str], *, weights: bool, overwrite: bool
) -> Path:
    """The export folder of a loaded ``encoder`` (see :func:`export`)."""
    from rerankit.local import read_export_marker, write_export_folder

    from .exported import ExportedEncoder

    key = encoder.key
    if encoder.runtime is None:
        raise ConfigError("export writes an ONNX or OpenVINO graph: set backend='onnx' or 'openvino'")
    computes: tuple[str, ...] = ("pipeline",)
    if isinstance(encoder, ExportedEncoder):  # already an export folder: keep what its graph computes
        computes = tuple(read_export_marker(key.model_name).get("computes", ()))
    return write_export_folder(
        encoder.runtime, key.model_name, out, scorer="embedding", computes=computes, quantize=key.quantize,
        weights=weights, overwrite=overwrite, cache_dir=key.cache_dir, local_files_only=key.local_files_only,
        tokenizer=encoder.tokenizer,
    )


def _load(key: EmbeddingKey) -> LocalEncoder | ExportedEncoder:
    from .exported import ExportedEncoder, exported_folder

    if exported_folder(key):  # the folder's own export: encoded without torch or sentence-transformers
        logger.info("loading exported embedding model %s on %s", key.model_name, key.backend)
        return ExportedEncoder(key)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(
            f"the embedding reranker's local model needs sentence-transformers and torch: {INSTALL} "
            f"(or set base_url to use an embeddings server) ({exc})"
        ) from None
    kwargs = sentence_transformers_options(key)
    logger.info("loading embedding model %s on %s (%s)", key.model_name, key.device, key.dtype)
    try:
        model = SentenceTransformer(key.model_name, **kwargs)
    except Exception as exc:
        raise load_error("embedding", key, exc, saved_with="SentenceTransformer.save") from exc
    if key.max_length is not None:
        model.max_seq_length = key.max_length
    if key.dtype != "float32" and key.backend == "torch":  # other backends take float32 and set their own
        import torch

        model.to(getattr(torch, key.dtype))
    model.eval()
    return LocalEncoder(model, key)


#: How many embedding models this process loaded and which are held (model, device, dtype, backend, quantize).
model_cache_info = EmbeddingKey.cache_info
#: Drop every cached embedding model (rerankers built earlier reload on their next score).
clear_model_cache = EmbeddingKey.clear
