"""The plugin registry: entry points in the ``rerankit`` group, loaded lazily and once.

``get_reranker(name, **config)`` finds a registered scorer or fusion method, validates the config
with its pydantic model and returns a ready :class:`~rerankit.Reranker`. The core's own names
(``rrf``, ``linear``, ``mrr``) are reserved and resolve without loading any plugin. A plugin that fails to
import, or whose hook raises, is recorded with its real error and never breaks the others;
``RERANKIT_PLUGINS`` (comma-separated distribution names; empty means none) limits what loads.

Rerankers never reach back here: :func:`get_reranker` hands each one what it needs (the
``select_text`` hook, and the function that rebuilds it by name when it is unpickled).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import pluggy

from . import _hookspecs as hookspecs
from ._builtins import BUILTIN_PLUGINS
from ._config import RerankerConfig, validate_config
from ._errors import ConfigError, UnknownRerankerError
from ._fusion import FusionReranker
from ._reranker import Reranker
from ._scoring.reranker import ScoringReranker
from ._scoring.steps import scoring_config
from ._version import __version__

logger = logging.getLogger("rerankit")

ENTRY_POINT_GROUP = "rerankit"
ALLOWLIST_ENV = "RERANKIT_PLUGINS"

#: First-party rerankers and the distribution that provides each, for install hints.
FIRST_PARTY = {
    "cohere": "rerankit-cohere",
    "jina": "rerankit-jina",
    "voyage": "rerankit-voyage",
    "tei": "rerankit-tei",
    "mixedbread": "rerankit-mixedbread",
    "pinecone": "rerankit-pinecone",
    "openai": "rerankit-openai",
    "crossencoder": "rerankit-crossencoder",
    "colbert": "rerankit-colbert",
    "answerdotai": "rerankit-colbert",
    "embedding": "rerankit-embedding",
}

Kind = Literal["scorer", "fusion"]


@dataclass(frozen=True)
class RerankerInfo:
    """One row of :func:`list_rerankers`: a registered reranker, or a plugin that failed to load."""

    name: str
    kind: Optional[Kind]
    distribution: Optional[str]
    version: Optional[str]
    status: Literal["ok", "error"] = "ok"
    error: Optional[str] = None
    config: Optional[type[RerankerConfig]] = None
    factory: Any = None


def canonical_name(distribution: str | None) -> str:
    """A distribution name as packaging compares them (PEP 503): 'Rerankit_Foo' -> 'rerankit-foo'."""
    return re.sub(r"[-_.]+", "-", distribution or "").lower()


class Registry:
    """Holds the pluggy manager and what plugins registered; built on first use."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._entries: dict[str, RerankerInfo] = {}
        self._failures: list[RerankerInfo] = []
        self._dist_of: dict[str, tuple[Optional[str], Optional[str]]] = {}
        self._builtins_loaded = False
        self._left_out: dict[str, str] = {}  # entry point -> its distribution, skipped by RERANKIT_PLUGINS
        self._unmatched: list[str] = []  # RERANKIT_PLUGINS entries that match no installed distribution
        self._loaded = False
        self._lock = threading.RLock()

    # -- loading -----------------------------------------------------------------------------
    def load_builtins(self) -> None:
        """Register the core's own plugins (fusion methods, column selection); no entry points."""
        with self._lock:
            if self._builtins_loaded:
                return
            names = set()
            for name in BUILTIN_PLUGINS:
                self.pm.register(importlib.import_module(name), name=name)
                self._dist_of[name] = ("rerankit", __version__)
                names.add(name)
            self._collect("register_fusions", "fusion", names)
            self._collect("register_scorers", "scorer", names)
            self._builtins_loaded = True

    def load(self) -> None:
        """Load every plugin the entry points name (once), after the built-ins."""
        with self._lock:
            if self._loaded:
                return
            self.load_builtins()
            before = {name for name, _ in self.pm.list_name_plugin()}
            self._load_entry_points()
            added = {name for name, _ in self.pm.list_name_plugin()} - before
            self._collect("register_fusions", "fusion", added)
            self._collect("register_scorers", "scorer", added)
            self._loaded = True

    def _load_entry_points(self) -> None:
        import importlib_metadata

        allow = os.environ.get(ALLOWLIST_ENV)
        allowed = None if allow is None else {canonical_name(d) for d in allow.split(",") if d.strip()}
        seen: set[str] = set()
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            seen.add(canonical_name(dist or ep.name))
            if allowed is not None and canonical_name(dist or ep.name) not in allowed:
                self._left_out[ep.name] = dist or ep.name
                continue
            plugin_name = f"{dist or '?'}:{ep.name}"
            if self.pm.has_plugin(plugin_name):
                continue
            try:
                module = ep.load()
                self.pm.register(module, name=plugin_name)
            except Exception as exc:  # a broken plugin must not break the others
                logger.warning("rerankit plugin %s (%s) failed to load: %r", ep.name, dist, exc)
                self._failures.append(
                    RerankerInfo(ep.name, None, dist, version, "error", f"{type(exc).__name__}: {exc}")
                )
                continue
            self._dist_of[plugin_name] = (dist, version)
        self._unmatched = sorted((allowed or set()) - seen)
        if self._unmatched:
            logger.warning(
                "%s names %s, which no installed rerankit plugin distribution matches (installed: %s)",
                ALLOWLIST_ENV, ", ".join(self._unmatched), ", ".join(sorted(seen)) or "none",
            )

    def _collect(self, hook_name: str, kind: Kind, plugins: set[str]) -> None:
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            if impl.plugin_name not in plugins:
                continue
            dist, version = self._dist_of.get(impl.plugin_name, (None, None))

            def register(
                name: str, factory: Any, config: type[RerankerConfig] | None = None, *, _d=dist, _v=version
            ) -> None:
                model = config if config is not None else getattr(factory, "Config", RerankerConfig)
                if kind == "scorer" and not _is_reranker(factory):
                    model = scoring_config(model)  # every scorer gets the scoring path's options
                existing = self._entries.get(name)
                if existing is not None and existing.distribution == "rerankit" and _d != "rerankit":
                    logger.warning("reranker name '%s' is the core's own; %s cannot replace it", name, _d)
                    return
                if existing is not None:
                    logger.warning("reranker '%s' from %s replaces the one from %s", name, _d, existing.distribution)
                self._entries[name] = RerankerInfo(name, kind, _d, _v, config=model, factory=factory)

            try:
                impl.function(register=register)
            except Exception as exc:
                logger.warning("rerankit plugin %s failed in %s: %r", impl.plugin_name, hook_name, exc)
                self._failures.append(
                    RerankerInfo(impl.plugin_name, None, dist, version, "error", f"{type(exc).__name__}: {exc}")
                )

    # -- queries -----------------------------------------------------------------------------
    def entries(self) -> list[RerankerInfo]:
        self.load()
        return sorted(self._entries.values(), key=lambda e: e.name) + list(self._failures)

    def lookup(self, name: str) -> RerankerInfo:
        self.load_builtins()
        if name in self._entries:  # a built-in: plugins cannot replace it, so none need loading
            return self._entries[name]
        self.load()
        try:
            return self._entries[name]
        except KeyError:
            raise _unknown(name, sorted(self._entries), self._failures, self._left_out, self._unmatched) from None

    def select_text(self, table: Any, column: str) -> Any:
        """Call the ``select_text`` hook: every loaded plugin's answer first, the core's last."""
        self.load()
        return self.pm.hook.select_text(table=table, column=column)

    def build(self, name: str, options: Mapping[str, Any]) -> Reranker:
        """The reranker registered as ``name``, its options validated, with what it needs passed in."""
        info = self.lookup(name)
        cfg = validate_config(name, info.config, dict(options))
        if info.kind == "fusion":
            return FusionReranker(name, cfg, info.factory, rebuild=_rebuild)
        if _is_reranker(info.factory):  # a reranker of its own (the core's cascade): built as it is
            return info.factory(name, cfg, rebuild=_rebuild, build=self.build)
        return ScoringReranker(
            name, cfg, info.factory(cfg), select_text=self.select_text, rebuild=_rebuild, build=self.build
        )


def _unknown(
    name: str,
    available: list[str],
    failures: list[RerankerInfo],
    left_out: Mapping[str, str] | None = None,
    unmatched: list[str] | None = None,
) -> UnknownRerankerError:
    import difflib

    parts = [f"no reranker named '{name}'; installed: {', '.join(available) or 'none'}."]
    allow = os.environ.get(ALLOWLIST_ENV)
    skipped = sorted({canonical_name(d) for d in (left_out or {}).values()})
    if name in FIRST_PARTY and canonical_name(FIRST_PARTY[name]) in skipped:
        parts.append(
            f"{FIRST_PARTY[name]} is installed, but {ALLOWLIST_ENV}={allow!r} leaves it out; add it to "
            f"{ALLOWLIST_ENV} or unset it."
        )
    elif name in FIRST_PARTY:
        parts.append(f"Install it with: pip install {FIRST_PARTY[name]}")
    else:
        close = [a for a in available if a.lower() == name.lower()] or difflib.get_close_matches(
            name.lower(), available, n=1
        )
        if close:
            parts.append(f"Did you mean '{close[0]}'?")
        if skipped:  # the name may come from a plugin the allowlist left out
            parts.append(
                f"{ALLOWLIST_ENV}={allow!r} leaves out the installed plugin distribution(s) "
                f"{', '.join(skipped)}; if '{name}' comes from one of them, add it to {ALLOWLIST_ENV} or unset it."
            )
    if unmatched:
        parts.append(
            f"{ALLOWLIST_ENV} names {', '.join(unmatched)}, which no installed plugin distribution "
            "matches; check the spelling (distribution names, e.g. rerankit-cohere) or unset it."
        )
    broken = [f.distribution or f.name for f in failures]
    if broken:
        parts.append(f"Plugins that failed to load: {', '.join(broken)} (see rerankit.list_rerankers()).")
    return UnknownRerankerError(" ".join(parts), name=name, available=available)


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The process-wide registry (created on first use)."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                _registry = Registry()
    return _registry


def reset_registry() -> None:
    """Forget loaded plugins so the next lookup scans entry points again (tests, notebooks)."""
    global _registry
    with _registry_lock:
        _registry = None


# -- public functions --------------------------------------------------------------------------
def get_reranker(name: str, **config: Any) -> Reranker:
    """Build the reranker registered as ``name`` with ``config`` validated by its pydantic model.

    >>> get_reranker("rrf", K=60, top_n=10)
    FusionReranker('rrf', top_n=10)
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"reranker name must be a non-empty string, got {name!r}")
    return registry().build(name, config)


def list_rerankers() -> list[RerankerInfo]:
    """Every registered reranker (name, kind, distribution, version) and every plugin that failed."""
    return registry().entries()


def from_config(source: Mapping[str, Any] | str | os.PathLike[str]) -> Reranker:
    """Build a reranker from a mapping or a .toml/.json file: ``{reranker = "rrf", K = 60}``.

    The name is read from ``reranker`` (or ``name``); every other key is passed as config. A TOML
    file may instead hold the mapping under a ``[reranker]`` table with a ``name`` key.
    """
    if isinstance(source, Mapping):
        data = dict(source)
        origin = "config"
    else:
        path = Path(source)
        data = read_config_file(path)
        origin = str(path)
    name, options = split_config(data)
    if not name:
        import difflib

        near = difflib.get_close_matches("reranker", [str(k) for k in options], n=1, cutoff=0.6)
        hint = f" ('{near[0]}' is not a key here: did you mean 'reranker'?)" if near else ""
        raise ConfigError(
            f"{origin} does not name a reranker{hint}; add reranker = \"<name>\" (e.g. \"rrf\")"
        )
    return get_reranker(name, **options)


def split_config(data: Mapping[str, Any]) -> tuple[Optional[str], dict[str, Any]]:
    """A config mapping as ``(reranker name or None, options)``.

    The name is the ``reranker`` key (or ``name``); the whole config may sit under a
    ``[reranker]`` table instead. Every other key is an option.
    """
    if isinstance(data.get("reranker"), Mapping):
        beside = sorted(k for k in data if k != "reranker")
        if beside:
            raise ConfigError(
                f"the config has key(s) {', '.join(beside)} beside its [reranker] table, where they would "
                "be ignored; move them into the [reranker] table"
            )
        data = data["reranker"]
    options = dict(data)
    name = options.pop("reranker", None)
    alias = options.pop("name", None)
    if name is not None and alias is not None and str(name) != str(alias):
        raise ConfigError(
            f"the config names the reranker twice, reranker = '{name}' and name = '{alias}'; keep one of them"
        )
    name = name if name is not None else alias
    return (None if name is None else str(name)), options


def read_config_file(path: Path) -> dict[str, Any]:
    """A .toml or .json config file as a dict, or ConfigError saying what is wrong with it."""
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            return tomllib.loads(path.read_text(encoding="utf-8"))
        if suffix == ".json":
            import json

            loaded = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ConfigError(f"config file {path} must hold a JSON object")
            return loaded
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"config file {path} could not be parsed: {exc}") from None
    raise ConfigError(f"config file {path} must end in .toml or .json")


def _is_reranker(factory: Any) -> bool:
    """Whether a registered factory is a Reranker class (not a Scorer the core wraps)."""
    return isinstance(factory, type) and issubclass(factory, Reranker)


def _rebuild(name: str, config: dict[str, Any]) -> Reranker:
    """Rebuild a pickled reranker by name and public config (secrets come from the environment)."""
    return get_reranker(name, **config)

