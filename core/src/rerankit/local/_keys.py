"""Cache keys of loaded models: one :class:`LoadKey` for every local-model plugin.

A key holds everything that changes what gets loaded, and nothing else: options such as
``batch_size``, ``column`` or ``top_n`` are applied when scoring, so rerankers that differ only in
them share one model. :func:`load_key` makes one from a :class:`~rerankit.local.LocalModelConfig`
(the device resolved, a local path made absolute, the precision checked against the device);
what only one plugin loads by (a token limit, a recipe) goes in as keyword arguments. A plugin
subclasses :class:`LoadKey` in one line so that its models have their own namespace in the shared
cache: ``MyKey.cache_info()`` and ``MyKey.clear()`` then see only them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from ._cache import models
from ._device import check_dtype, resolve_device
from ._paths import model_path

if TYPE_CHECKING:
    from ._config import LocalModelConfig

K = TypeVar("K", bound="LoadKey")


@dataclass(frozen=True)
class LoadKey:
    """What a local model is loaded by; a key of :data:`rerankit.local.models`.

    Plugins subclass it (``class CrossEncoderKey(LoadKey): ...``) as their namespace; keys of two
    classes never compare equal. ``extra`` holds the plugin's own load options, read as attributes
    (``key.max_length``).
    """

    model_name: str
    device: str
    dtype: str
    trust_remote_code: bool
    cache_dir: Optional[str]
    local_files_only: bool
    backend: str = "torch"
    quantize: Optional[str] = None
    threads: Optional[int] = None
    extra: tuple[tuple[str, Hashable], ...] = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "extra":  # unpickling asks before the fields are set
            raise AttributeError(name)
        for option, value in self.extra:
            if option == name:
                return value
        raise AttributeError(f"{type(self).__name__} has no load option {name!r}")

    @classmethod
    def cache_info(cls) -> dict[str, Any]:
        """How many models of this kind the process loaded (reloads included) and which it holds,
        as ``(model_name, device, dtype, backend, quantize)``."""
        return {
            "loads": models.loads(cls),
            "models": [(k.model_name, k.device, k.dtype, k.backend, k.quantize) for k in models.keys(cls)],
        }

    @classmethod
    def clear(cls) -> None:
        """Drop every cached model of this kind; rerankers built earlier reload on their next score."""
        models.clear(cls)


def load_key(config: LocalModelConfig, kind: type[K] = LoadKey, /, **extra: Hashable) -> K:  # type: ignore[assignment]
    """The cache key of ``config``'s model, as a ``kind`` (a plugin's :class:`LoadKey` subclass).

    The device is resolved (``"auto"`` and the device it becomes share one model; a model that
    runs only on the CPU, quantized or on a CPU backend, resolves ``"auto"`` to ``"cpu"``), the
    precision is checked against it and a local directory is made absolute. ``extra`` are the
    plugin's own options that change what gets loaded.
    """
    backend = getattr(config, "backend", "torch")
    quantize = getattr(config, "quantize", None)
    if config.device in (None, "auto") and (quantize is not None or backend != "torch"):
        device = "cpu"
    else:
        device = resolve_device(config.device)
    check_dtype(config.dtype, device, config.device)
    return kind(
        model_name=model_path(config.model_name),
        device=device,
        dtype=config.dtype,
        trust_remote_code=config.trust_remote_code,
        cache_dir=config.cache_dir,
        local_files_only=config.local_files_only,
        backend=backend,
        quantize=quantize,
        threads=getattr(config, "threads", None),
        extra=tuple(sorted(extra.items())),
    )
