"""One process-wide cache of loaded models, keyed by everything that changes what gets loaded.

Rerankers built with the same model and load options share one copy in memory, whichever plugin
or reranker name asked for it. Each key has its own lock: two threads asking for the same model
load it once, different models load side by side, and the same lock serializes the model's use
(see :meth:`ModelCache.lock`). A load that raises leaves nothing behind, so the next call retries.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Any, Optional, TypeVar

T = TypeVar("T")


class ModelCache:
    """Loaded models by key. Keys are hashable values (frozen dataclasses are the usual choice);
    a plugin's key type doubles as its namespace in :meth:`keys`, :meth:`loads` and :meth:`clear`."""

    def __init__(self) -> None:
        self._models: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._loads: collections.Counter[type] = collections.Counter()
        self._guard = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The model for ``key``, calling ``load()`` (once, under the key's lock) if it is not held."""
        model = self._models.get(key)
        if model is not None:
            return model
        with self.lock(key):
            model = self._models.get(key)
            if model is None:
                model = load()
                with self._guard:
                    self._models[key] = model
                    self._loads[type(key)] += 1
            return model

    def lock(self, key: Hashable) -> threading.Lock:
        """The lock of ``key``'s model: held while it loads, and by plugins while they run a batch.

        Hugging Face fast tokenizers fail when two threads use one at once, and one forward pass
        already keeps every CPU core (or the GPU's stream) busy, so serializing each batch costs no
        throughput and lets concurrent callers interleave batch by batch.
        """
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def keys(self, kind: Optional[type] = None) -> list[Hashable]:
        """Keys of the models held, in load order; only those of type ``kind`` if given."""
        with self._guard:
            return [k for k in self._models if kind is None or isinstance(k, kind)]

    def loads(self, kind: Optional[type] = None) -> int:
        """How many loads this process made (of keys of type ``kind`` if given), reloads included."""
        with self._guard:
            return sum(n for k, n in self._loads.items() if kind is None or issubclass(k, kind))

    def clear(self, kind: Optional[type] = None) -> None:
        """Drop every model (of keys of type ``kind`` if given); rerankers reload on next use."""
        with self._guard:
            for key in [k for k in self._models if kind is None or isinstance(k, kind)]:
                del self._models[key]


#: The process-wide cache every local-model plugin shares.
models = ModelCache()
