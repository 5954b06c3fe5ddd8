"""Loading ColBERT checkpoints: once per process for each set of load-relevant options.

Rerankers with the same model, device, precision and loading options share one model, held in
rerankit's process-wide cache of local models (:data:`rerankit.local.models`) under a
:class:`ColbertKey`; ``colbert`` and ``answerdotai`` on the same checkpoint share it too. Lengths,
``batch_size``, ``column`` and ``top_n`` are applied when scoring and do not split the cache.
torch and transformers are imported inside functions, never when the plugin is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rerankit.local import LoadKey, models
from rerankit.local import load_key as shared_load_key

from .config import ColbertConfig

if TYPE_CHECKING:
    from .encoder import ColbertModel


class ColbertKey(LoadKey):
    """ColBERT models in the shared cache (``colbert`` and ``answerdotai`` alike)."""


def load_key(config: ColbertConfig) -> ColbertKey:
    """The cache key for ``config``: the device resolved, a local path made absolute."""
    return shared_load_key(config, ColbertKey)


def load(key: ColbertKey) -> ColbertModel:
    """The process-wide model for ``key``, loaded on first request (thread-safe)."""
    from .encoder import ColbertModel

    return models.get(key, lambda: ColbertModel.load(key))


#: How many ColBERT models this process loaded and which are held (model, device, dtype, backend, quantize).
model_cache_info = ColbertKey.cache_info
#: Drop every cached ColBERT model (rerankers built earlier reload on their next score).
clear_model_cache = ColbertKey.clear
