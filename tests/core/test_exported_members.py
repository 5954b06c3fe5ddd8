"""The public surface is exactly what the packages export; everything else is private (``_`` names).

Changing these lists is a public API change: update the READMEs and the changelog with it.
"""

from __future__ import annotations

import importlib
import pkgutil

import rerankit

PUBLIC = [
    "AuthenticationError",
    "ConfigError",
    "FusionReranker",
    "InputError",
    "MissingColumnError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "RankedList",
    "RateLimitError",
    "Reranker",
    "RerankerConfig",
    "RerankerInfo",
    "RerankitError",
    "Scorer",
    "ScoringError",
    "ScoringReranker",
    "UnknownRerankerError",
    "__version__",
    "from_config",
    "get_reranker",
    "hookimpl",
    "list_rerankers",
]

#: Public subpackages and modules (each with its own __all__); every other module is private.
PUBLIC_MODULES = {
    "rerankit.batch": ["GroupReranker", "RerankerLike", "as_reranker", "rerank_batches"],
    "rerankit.demo": None,  # the `rerankit demo` command's implementation
    "rerankit.http": ["HTTPConfig", "HTTPScorer", "check_ranking", "error_message", "ranked",
                      "retry_after_seconds", "retryable_status", "safe_headers"],
    "rerankit.lancedb": ["LanceDBReranker", "to_lancedb"],
    "rerankit.ray": ["rerank_dataset", "rerank_parquet"],  # extra rerankit[ray]
    "rerankit.testing": ["DIALECTS", "Dialect", "FakeRerankServer", "Fault", "HEAVY_MODULES",
                         "HostedRerankerConformance", "Reject", "RerankerConformance", "Seen",
                         "assert_reranked", "assert_same_ranking", "data", "expected_concat",
                         "expected_first_per_rowid", "expected_union", "fake_score"],
}
#: Public modules inside the test kit, named in its docs (``from rerankit.testing.hosted import KEY``).
KIT_MODULES = {"checks", "conformance", "data", "hosted", "server"}


def test_rerankit_all_is_pinned() -> None:
    assert sorted(rerankit.__all__) == PUBLIC


def test_every_exported_name_exists() -> None:
    for name in rerankit.__all__:
        assert hasattr(rerankit, name), name
    for module, names in PUBLIC_MODULES.items():
        mod = importlib.import_module(module)
        for name in names or mod.__all__:
            assert hasattr(mod, name), f"{module}.{name}"


def test_public_modules_export_what_is_pinned() -> None:
    for module, names in PUBLIC_MODULES.items():
        if names is not None:
            assert sorted(importlib.import_module(module).__all__) == sorted(names), module


def test_every_other_module_is_private() -> None:
    public = set(PUBLIC_MODULES) | {f"rerankit.testing.{m}" for m in KIT_MODULES} | {"rerankit.__main__"}
    for info in pkgutil.walk_packages(rerankit.__path__, "rerankit."):
        name = info.name
        if name.startswith("rerankit.demo."):
            continue  # inside a public package that exports its own surface
        private = any(part.startswith("_") for part in name.split(".")[1:])
        assert private or name in public, f"{name} is neither private (a _name) nor listed as public"

