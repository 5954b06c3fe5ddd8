"""Model names as cache keys: a local directory is made absolute, so two spellings of one path
share one loaded model; a hub id is kept as given."""

from __future__ import annotations

import os


def model_path(name: str) -> str:
    """``name`` with a local directory resolved to its real absolute path; hub ids unchanged."""
    return os.path.realpath(name) if os.path.isdir(name) else name


def is_local(name: str) -> bool:
    """Whether ``name`` is a local directory (which never needs the hub)."""
    return os.path.isdir(name)
