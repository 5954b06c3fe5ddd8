"""What every loader passes to Hugging Face, and what it says when a load fails, written once.

A :class:`~rerankit.local.LoadKey` becomes the keyword arguments of transformers'
``from_pretrained`` (:func:`hub_options`) or of sentence-transformers' model classes
(:func:`sentence_transformers_options`): a local directory never asks the hub. A load that fails
becomes a :class:`~rerankit.ConfigError` naming ``model_name`` and the usual fixes
(:func:`load_error`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._paths import is_local

if TYPE_CHECKING:
    from ._keys import LoadKey


def hub_options(key: LoadKey) -> dict[str, Any]:
    """``trust_remote_code``, ``local_files_only`` and ``cache_dir`` for transformers' loaders."""
    options: dict[str, Any] = {
        "trust_remote_code": key.trust_remote_code,
        "local_files_only": key.local_files_only or is_local(key.model_name),
    }
    if key.cache_dir is not None:
        options["cache_dir"] = key.cache_dir
    return options


def sentence_transformers_options(key: LoadKey) -> dict[str, Any]:
    """The same options spelled as sentence-transformers' ``CrossEncoder`` and
    ``SentenceTransformer`` take them, with the device (always the torch model: another backend
    converts it)."""
    options = hub_options(key)
    cache_dir = options.pop("cache_dir", None)
    if cache_dir is not None:
        options["cache_folder"] = cache_dir
    options["device"] = key.device
    return options


def load_error(what: str, key: LoadKey, exc: BaseException, saved_with: str = "save_pretrained") -> ConfigError:
    """The error for a model that would not load: which one, why, and the fixes that usually apply."""
    return ConfigError(
        f"could not load {what} model_name={key.model_name!r}: {type(exc).__name__}: {exc}. "
        f"Check the id or local path (a directory saved with {saved_with}); models that ship their "
        "own code need trust_remote_code=True; offline, set local_files_only=True"
    )
