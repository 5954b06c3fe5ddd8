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
    "LengthMeasure",
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
    "rerankit.demo": ["DemoError", "DemoResult", "default_cache_dir", "run_demo"],
    "rerankit.eval": ["BUNDLED", "CalibrationResult", "Collection", "DEFAULT_METRICS", "EvalError", "RETRIEVERS",
                      "Runs", "TuneResult",
                      "brier_score", "calibrate", "default_cache_dir", "evaluate", "expected_calibration_error",
                      "fit_calibration", "load_collection", "make_long_documents", "measure",
                      "measure_per_query", "tune", "tune_runs"],
    "rerankit.http": ["HTTPConfig", "HTTPScorer", "afan_out", "check_ranking", "error_message", "fan_out",
                      "mask_urls", "pack", "ranked", "retry_after_seconds", "retryable_status", "safe_headers"],
    "rerankit.haystack": ["RerankitRanker"],
    "rerankit.lancedb": ["AnswerdotaiRerankers", "CohereReranker", "ColbertReranker", "CrossEncoderReranker",
                         "JinaReranker", "LanceDBReranker", "LinearCombinationReranker", "MRRReranker",
                         "OpenaiReranker", "RRFReranker", "VoyageAIReranker", "to_lancedb"],
    "rerankit.langchain": ["SCORE_KEY", "RerankitCompressor"],
    "rerankit.llamaindex": ["RerankitPostprocessor"],
    "rerankit.local": ["Backend", "DEVICE_PATTERN", "DType", "EXPORT_MARKER", "Export", "FastTokenizer",
                       "LengthSortedBatches",
                       "LoadKey", "LocalModelConfig", "ModelCache", "Runtime", "TokenLength", "Truncations",
                       "check_dtype", "count_truncated", "default_threads", "export_info", "hub_options", "is_local",
                       "load_error", "load_key", "model_path", "models", "open_runtime", "read_export_marker",
                       "read_safetensors", "resolve_device", "sentence_transformers_options", "shipped_file",
                       "write_export_folder"],
    "rerankit.ray": ["rerank_dataset", "rerank_parquet"],  # extra rerankit[ray]
    "rerankit.serve": ["API_KEY_ENV", "Batching", "FUSION_FIELDS", "Limits", "RerankService", "ServeSettings",
                       "ServedModel", "api_keys_from", "create_app", "create_service", "load_models", "ray_app",
                       "run"],  # extra rerankit[serve]
    "rerankit.testing": ["DIALECTS", "Dialect", "EmbeddingsDialect", "FakeRerankServer", "Fault",
                         "HEAVY_MODULES", "HostedRerankerConformance", "Reject", "RerankerConformance",
                         "Seen", "assert_reranked", "assert_same_ranking", "data", "expected_concat",
                         "expected_first_per_rowid", "expected_union", "fake_embedding", "fake_score"],
    "rerankit.testing.chat": ["CHATTER", "FIELDS", "PATH", "ChatDialect", "ChatModel", "ChatReply",
                              "count_tokens", "edit_json", "edit_ranking", "finish", "ranking_answer", "refuse",
                              "replace_content", "strict_schema_problem", "truncate", "yes_no_logprobs"],
    "rerankit.testing.embeddings": ["DEFAULT_DIMENSIONS", "FIELDS", "FIXED_SIZE_MODELS", "MAX_INPUTS", "PATH",
                                    "EmbeddingsDialect", "drop_vector", "extra_vector", "fake_embedding",
                                    "resize_vector", "set_index", "set_value", "shuffle"],
}
#: Public modules inside the test kit, named in its docs (``from rerankit.testing.hosted import KEY``).
KIT_MODULES = {"chat", "checks", "conformance", "data", "embeddings", "hosted", "server"}


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
        private = any(part.startswith("_") for part in name.split(".")[1:])
        assert private or name in public, f"{name} is neither private (a _name) nor listed as public"

