"""Loading ColBERT checkpoints: once per process for each set of load-relevant options.

Rerankers with the same model, device, precision and loading options share one model, held in
rerankit's process-wide cache of local models (:data:`rerankit.local.models`) under a
:class:`LoadKey`; ``colbert`` and ``answerdotai`` on the same checkpoint share it too. Lengths,
``batch_size``, ``column`` and ``top_n`` are applied when scoring and do not split the cache.
torch and transformers are imported inside functions, never when the plugin is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from rerankit.local import check_dtype, model_path, models, resolve_device

from .config import ColbertConfig

if TYPE_CHECKING:
    from .encoder import ColbertModel


@dataclass(frozen=True)
class LoadKey:
    """Everything that changes what gets loaded; the cache key of :func:`load`."""

    model_name: str
    device: str
    dtype: str
    trust_remote_code: bool
    cache_dir: Optional[str]
    local_files_only: bool


def load_key(config: ColbertConfig) -> LoadKey:
    """The cache key for ``config``: the device resolved, a local path made absolute."""
    device = resolve_device(config.device)
    check_dtype(config.dtype, device, config.device)
    return LoadKey(
        model_name=model_path(config.model_name),
        device=device,
        dtype=config.dtype,
        trust_remote_code=config.trust_remote_code,
        cache_dir=config.cache_dir,
        local_files_only=config.local_files_only,
    )


def load(key: LoadKey) -> ColbertModel:
    """The process-wide model for ``key``, loaded on first request (thread-safe)."""
    from .encoder import ColbertModel

    return models.get(key, lambda: ColbertModel.load(key))


def model_cache_info() -> dict[str, Any]:
    """How many ColBERT models this process loaded and which are held (model, device, dtype)."""
    return {
        "loads": models.loads(LoadKey),
        "models": [(k.model_name, k.device, k.dtype) for k in models.keys(LoadKey)],
    }


def clear_model_cache() -> None:
    """Drop every cached ColBERT model (rerankers built earlier reload on their next score)."""
    models.clear(LoadKey)
