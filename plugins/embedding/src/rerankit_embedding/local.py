"""The local path: a sentence-transformers bi-encoder, loaded once per process and load options.

Rerankers built with the same model, device, precision, token limit and loading options share one
model in rerankit's process-wide cache (:data:`rerankit.local.models`) under a :class:`LoadKey`;
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from rerankit import ConfigError
from rerankit.local import (
    LengthSortedBatches,
    check_dtype,
    count_truncated,
    is_local,
    model_path,
    models,
    resolve_device,
)

from .config import EmbeddingConfig

logger = logging.getLogger("rerankit.embedding")

#: Saved prompt names read for documents, in order (sentence-transformers' own spellings).
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")
INSTALL = "pip install 'rerankit-embedding[local]'"


@dataclass(frozen=True)
class LoadKey:
    """Everything that changes what gets loaded; the cache key of :func:`load`."""

    model_name: str
    device: str
    dtype: str
    max_length: Optional[int]
    trust_remote_code: bool
    cache_dir: Optional[str]
    local_files_only: bool


def load_key(config: EmbeddingConfig) -> LoadKey:
    """The cache key for ``config``, with the device resolved and a local path made absolute."""
    device = resolve_device(config.device)
    check_dtype(config.dtype, device, config.device)
    return LoadKey(
        model_name=model_path(config.model_name),
        device=device,
        dtype=config.dtype,
        max_length=config.max_length,
        trust_remote_code=config.trust_remote_code,
        cache_dir=config.cache_dir,
        local_files_only=config.local_files_only,
    )


class LocalEncoder:
    """A loaded sentence-transformers bi-encoder plus what encoding needs: lock, limit, prompts."""

    def __init__(self, model: Any, key: LoadKey) -> None:
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

    def query_prompt(self, configured: Optional[str]) -> str:
        """The text put before queries: the configured one, else the model's saved 'query' prompt."""
        if configured is not None:
            return configured
        return self.prompts.get("query", self.default_prompt)

    def document_prompt(self, configured: Optional[str]) -> str:
        """The text put before documents: the configured one, else the model's saved document prompt."""
        if configured is not None:
            return configured
        for name in DOCUMENT_PROMPT_NAMES:
            if name in self.prompts:
                return self.prompts[name]
        return self.default_prompt

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


def load(key: LoadKey) -> LocalEncoder:
    """The process-wide model for ``key`` (see :func:`load_key`), loaded on first request (thread-safe)."""
    return models.get(key, lambda: _load(key))


def _load(key: LoadKey) -> LocalEncoder:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(
            f"the embedding reranker's local model needs sentence-transformers and torch: {INSTALL} "
            f"(or set base_url to use an embeddings server) ({exc})"
        ) from None
    kwargs: dict[str, Any] = {
        "device": key.device,
        "trust_remote_code": key.trust_remote_code,
        # a local directory never needs the hub
        "local_files_only": key.local_files_only or is_local(key.model_name),
    }
    if key.cache_dir is not None:
        kwargs["cache_folder"] = key.cache_dir
    logger.info("loading embedding model %s on %s (%s)", key.model_name, key.device, key.dtype)
    try:
        model = SentenceTransformer(key.model_name, **kwargs)
    except Exception as exc:
        raise ConfigError(
            f"could not load embedding model_name={key.model_name!r}: {type(exc).__name__}: {exc}. "
            "Check the id or local path (a directory saved by SentenceTransformer.save); models that "
            "ship their own code need trust_remote_code=True; offline, set local_files_only=True"
        ) from exc
    if key.max_length is not None:
        model.max_seq_length = key.max_length
    if key.dtype != "float32":
        import torch

        model.to(getattr(torch, key.dtype))
    model.eval()
    return LocalEncoder(model, key)


def model_cache_info() -> dict[str, Any]:
    """How many embedding models this process loaded and which are held (model, device, dtype)."""
    return {
        "loads": models.loads(LoadKey),
        "models": [(k.model_name, k.device, k.dtype) for k in models.keys(LoadKey)],
    }


def clear_model_cache() -> None:
    """Drop every cached embedding model (rerankers built earlier reload on their next score)."""
    models.clear(LoadKey)
