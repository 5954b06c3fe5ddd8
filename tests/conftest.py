"""Shared fixtures: third-party plugin packages installed with pip into a private directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rerankit._registry

FIXTURES = Path(__file__).parent / "fixtures"

def _tests(file: str, *names: str, why: str) -> dict[str, str]:
    return {f"tests/{file}::{name}": why for name in names}


_REFERENCE = "a tiny model scored against a reference implementation, or over many batch sizes or options"
_SUBPROCESS = "fresh interpreters importing the plugin, torch and a model"
_CLI = "fresh interpreters (the command line, a pytest run, a document's code blocks)"

#: The slow part of the suite, marked ``slow`` here (one place, so no test file changes for it):
#: ``./dev.sh test -m "not slow"`` is the fast subset for development (every module keeps tests in
#: it), ``./dev.sh test`` and CI run everything. A key is a file, a class (``file::Class``), a
#: test (``file::test``, every parametrization of it) or one parametrization (``file::test[id]``);
#: the value says what makes it slow.
SLOW: dict[str, str] = {
    "tests/kit/test_packaging.py": "builds every wheel and installs each alone into a fresh virtual environment",
    "tests/plugins/jina/test_jina_compat.py::TestJinaOnInfinity": "the jina suite again, on Infinity's dialect "
    "(TestJinaOnVLLM stays)",
    "tests/plugins/jina/test_jina_compat.py::TestJinaOnTogether": "the jina suite again, on Together's dialect",
    "tests/serve/test_serve_threads.py::test_torch_imported_first_is_left_alone_and_says_how_to_set_it": "a fresh "
    "interpreter that imports torch",
    "tests/plugins/embedding/test_embedding_conformance.py::TestEmbeddingHosted": "the hosted suite on the "
    "embeddings path (TestEmbeddingRemoteConformance and test_embedding_remote.py stay)",
    "tests/plugins/openai/test_openai_conformance.py::TestOpenAIHosted": "the hosted suite on the chat path "
    "(TestOpenAIConformance and test_openai.py stay)",
    "tests/kit/test_torch_free.py": "builds wheels and installs them into a fresh virtual environment without torch",
    # the CPU backends: each export converts a model; the fast subset keeps the crossencoder's
    "tests/plugins/embedding/test_embedding_backends.py": "exports and converts models for OpenVINO and ONNX Runtime",
    "tests/plugins/colbert/test_colbert_backends.py": "exports and converts models for OpenVINO and ONNX Runtime",
    "tests/plugins/crossencoder/test_crossencoder_generative_backends.py": "exports and converts five LLM "
    "recipes' models for OpenVINO and ONNX Runtime",
    "tests/plugins/embedding/test_embedding_exported.py": "exports models and writes export folders",
    "tests/plugins/colbert/test_colbert_exported.py": "exports models and writes export folders",
    "tests/integration/test_ray.py": "starts a local Ray runtime",
    "tests/serve/test_serve_ray.py": "starts Ray Serve with two replicas",
    "tests/serve/test_serve_load.py": "hundreds of concurrent requests, faults and drains under load",
    "tests/serve/test_serve_backends.py": "exports and converts a model for four ONNX Runtime and OpenVINO servings",
    "tests/docs/test_browser.py": "the documentation site in a headless browser",
    "tests/docs/test_code_blocks.py::test_python_blocks_of_the_page_run[guides/ray.md]": "starts a local Ray runtime",
    "tests/docs/test_site_build.py": "builds the whole documentation site",
    **{
        f"tests/docs/test_code_blocks.py::test_python_blocks_of_the_page_run[{page}]": "the page's code, with models"
        for page in ("get-started/tour.md", "guides/using-a-reranker.md")
    },
    # model-heavy plugin tests: the fast subset keeps each plugin's cheaper ones
    **_tests(
        "plugins/colbert/test_colbert_scoring.py",
        "test_maxsim_equals_the_naive_reference", "test_vector_fts_hybrid_and_multivector", "test_batch_sizes_agree",
        "test_lengths_can_be_overridden", "test_attending_to_mask_tokens_follows_the_checkpoint",
        "test_loads_lazily_once_per_load_options", "test_rerank_batch_and_async_agree_with_single_calls",
        "test_own_skiplist_words_are_left_out", "test_bfloat16_on_cpu_stays_close", why=_REFERENCE,
    ),
    **_tests(
        "plugins/colbert/test_colbert_scoring.py",
        "test_import_and_construction_do_not_import_torch", "test_trust_remote_code_is_off_unless_asked",
        why=_SUBPROCESS,
    ),
    "tests/plugins/colbert/test_colbert_conformance.py::TestAnswerdotaiConformance": "the colbert suite again, "
    "on the answerdotai checkpoint (TestColbertConformance stays)",
    **_tests(
        "plugins/colbert/test_colbert_conformance.py",
        "TestColbertConformance::test_top_n", "TestColbertConformance::test_deterministic",
        "TestColbertConformance::test_async_matches_sync", "TestColbertConformance::test_batch_matches_single",
        "TestColbertConformance::test_pickle_round_trip", why=_REFERENCE,
    ),
    **_tests(
        "plugins/colbert/test_colbert_embeddings.py",
        "test_lancedb_multivector_table_reranks_from_its_vectors", "test_stored_vectors_score_like_encoding_the_text",
        "test_every_entry_point_reads_the_stored_vectors", "test_the_text_is_not_needed_nor_read", why=_REFERENCE,
    ),
    **_tests(
        "plugins/crossencoder/test_crossencoder_generative.py",
        "test_batch_sizes_1_and_16_agree_across_queries", "test_qwen3_prompt_ids_and_scores_equal_the_model_card_code",
        "test_seq_cls_conversion_equals_p_yes_of_the_causal_checkpoint",
        "test_qwen3_equals_sentence_transformers_logit_score_checkpoint", "test_bge_gemma_prompt_ids_and_raw_yes_logit",
        "test_mxbai_v2_equals_the_mxbai_rerank_package", why=_REFERENCE,
    ),
    **_tests(
        "plugins/crossencoder/test_crossencoder_scoring.py",
        "test_concurrent_threads_get_the_same_scores", "test_batch_size_does_not_change_scores", why=_REFERENCE,
    ),
    **_tests(
        "plugins/crossencoder/test_crossencoder_scoring.py",
        "test_import_and_construction_do_not_import_torch", why=_SUBPROCESS,
    ),
    **_tests("plugins/embedding/test_embedding_local.py", "test_packaged_minilm_equals_sentence_transformers",
             why=_REFERENCE),
    # the command line, documents and examples run for real, in fresh interpreters
    **_tests(
        "integration/test_cli.py",
        "test_rerank_reads_every_input_format", "test_bad_input_files", "test_rerank_writes_every_output_format",
        "test_usage_mistakes_are_one_line_too", "test_plugins_lists_installed_rerankers_and_the_broken_plugin",
        "test_bad_set_values", "test_rerank_writes_text_formats_to_stdout", "test_bad_config_file",
        "test_rerank_with_a_plugin_scorer_a_config_file_and_overrides", "test_rerank_hybrid_from_two_files",
        "test_rerank_json_config_naming_the_reranker_in_a_table", "test_plugins_json_lines",
        "test_plugins_without_third_party_plugins", "test_a_broken_plugin_is_a_warning_not_a_failure", why=_CLI,
    ),
    **_tests(
        "integration/test_eval.py",
        "test_a_reranker_config_naming_vector_column_gets_that_index_column",
        "test_evaluate_equals_ir_measures_on_lancedb_searches_run_directly",
        "test_eval_cli_prints_the_table_and_writes_json_and_png", why="LanceDB indexes of a collection, evaluated",
    ),
    **_tests(
        "integration/test_demo.py",
        "test_demo_prints_every_pipeline_beside_the_reference",
        "test_demo_hybrid_figures_match_lancedb_own_rrf_scored_by_ir_measures",
        "test_a_second_run_uses_the_cache", "test_demo_errors_are_one_line", why="the whole demo over Cranfield",
    ),
    **_tests("integration/test_long_documents.py", "test_rerankit_eval_reads_the_long_collection",
             why="LanceDB indexes of a collection, evaluated"),
    **_tests(
        "integration/test_lancedb_dropin.py",
        "test_model_class_with_lancedb_arguments_in_real_queries",
        "test_model_class_top_n_and_return_score_all_in_a_query",
        why="real LanceDB queries with model rerankers",
    ),
    **_tests("integration/test_lancedb.py", "test_importing_rerankit_does_not_import_lancedb", why=_CLI),
    **_tests("kit/test_local_model_guide.py", "test_every_block_is_python_and_runs", why=_CLI),
    **_tests("kit/test_guide.py", "test_guide_snippet_runs", why=_CLI),
    **_tests("kit/test_acme_example.py", "test_example_own_test_suite_passes", why=_CLI),
    **_tests("kit/test_overlap_example.py", "test_example_own_test_suite_passes", why=_CLI),
    "tests/kit/test_suite_catches.py": "the conformance suite run by pytest on every broken example plugin",
    **_tests("kit/test_checks.py", "test_import_rerankit_does_not_import_the_kit_or_pytest", why=_CLI),
    # the core's exhaustive, real-time and multi-process checks (the core's own import checks stay)
    **_tests(
        "core/test_rate_limit_step.py",
        "test_threads_stay_under_the_rate_and_none_is_lost", "test_asyncio_tasks_stay_under_the_rate_and_none_is_lost",
        why="hundreds of calls paced by the rate limit, in real time",
    ),
    **_tests("core/test_score_cache.py", "test_two_processes_share_a_sqlite_cache", why=_CLI),
    **_tests("core/test_secrets.py", "test_key_never_shown", why="the key fuzz: every key form through every surface"),
    **_tests("core/test_nonfinite_scores.py", "test_non_finite_input_score_is_an_input_error",
             why="every non-finite value at every position of every entry point"),
    **_tests("core/test_http_layer.py", "test_importing_rerankit_and_plugins_does_not_import_httpx", why=_CLI),
    **_tests("core/test_registry.py", "test_builtin_names_are_reserved", why=_CLI),
    **_tests("core/test_http_layer.py", "test_env_key_is_reread_on_unpickling_a_registered_reranker", why=_CLI),
    **_tests(
        "core/test_fusion.py",
        "test_hybrid_matches_lancedb", "test_multivector_matches_lancedb", "test_lancedb_equivalence_at_search_scale",
        why="LanceDB's own rerankers run as the reference",
    ),
    **_tests(
        "core/test_fusion_settings.py",
        "test_mrr_and_linear_config_weights_on_three_searches", "test_rrf_config_weights_and_k_equal_reference",
        why="LanceDB's own rerankers run as the reference",
    ),
    **_tests(
        "integration/test_eval.py",
        "test_a_damaged_index_cache_is_one_error_line_naming_rebuild",
        "test_tune_cli_recipe_scores_in_eval_what_tune_reported",
        why="LanceDB indexes of a collection, evaluated",
    ),
    **_tests("kit/test_acme_example.py", "test_found_and_reranks_against_its_fake_server", why=_CLI),
    **_tests("plugins/openai/test_openai_listwise.py", "test_framework_adapters",
             why="every framework adapter imported"),
    **_tests("plugins/embedding/test_embedding_remote.py", "test_remote_path_imports_no_torch", why=_SUBPROCESS),
    **_tests("serve/test_serve.py", "test_cohere_sdk_reranks_like_in_process", why="the Cohere SDK against the server"),
    **_tests("serve/test_serve_cli.py", "test_the_command_serves_and_stops_on_sigterm", why=_CLI),
    **_tests(
        "adapters/test_choosing_the_reranker.py",
        "test_bad_arguments_are_config_errors", "test_importing_rerankit_imports_no_framework",
        why="every framework adapter imported, fresh interpreters",
    ),
}

#: Tests marked slow wherever they are, by name: the conformance kit's check that importing a
#: plugin stays light runs a fresh interpreter per conformance class (the core's own import checks
#: stay in the fast subset).
SLOW_NAMES: dict[str, str] = {
    "test_import_is_light": "a fresh interpreter per conformance class",
    "test_slow_answer_times_out": "waits out a real timeout per provider (the HTTP layer's own timeout tests stay)",
}


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the fixture plugins, installed by pip (entry points and all).

    Put it on sys.path (``use_plugin_site``) or on PYTHONPATH of a subprocess to make the
    plugins discoverable, exactly as a user's ``pip install`` would.
    """
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-build-isolation", "--target", str(target),
            str(FIXTURES / "rerankit-fixture-plugin"), str(FIXTURES / "rerankit-broken-plugin"),
        ],
        check=True,
    )
    return target


@pytest.fixture
def use_plugin_site(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the fixture plugins importable in this process and rescan entry points."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.delenv(rerankit._registry.ALLOWLIST_ENV, raising=False)
    rerankit._registry.reset_registry()
    yield plugin_site
    rerankit._registry.reset_registry()


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch):
    """Each test starts from an unloaded registry and no allowlist from the environment."""
    monkeypatch.delenv(rerankit._registry.ALLOWLIST_ENV, raising=False)
    rerankit._registry.reset_registry()
    yield
    rerankit._registry.reset_registry()


def plugin_env(plugin_site: Path) -> dict[str, str]:
    """Environment for a subprocess that should see the fixture plugins."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_site), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(autouse=True)
def _rerankit_logger_restored():
    """The CLI, run in-process by many tests, gives the 'rerankit' logger a handler on the stderr
    of that moment and stops propagation; undo it after each test, so later tests' caplog and
    capsys see the logger as a library user's application does."""
    import logging

    logger = logging.getLogger("rerankit")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate, _ = saved[1], logger.setLevel(saved[2])


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not slow"``, files that are slow as a whole are not even imported (Ray, ...)."""
    if config.option.markexpr.replace(" ", "") != "notslow":
        return None
    relative = collection_path.relative_to(config.rootpath).as_posix()
    return True if relative in SLOW else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what :data:`SLOW` lists ``slow``. A stale entry is a usage error: a file that does not
    exist, or a class or test that its file, collected whole, no longer has."""
    root = Path(str(config.rootpath))
    stale = [key for key in SLOW if not (root / key.split("::")[0]).is_file()]
    files: dict[str, set[str]] = {}
    matched: set[str] = set()
    for item in items:
        parts = item.nodeid.split("[")[0].split("::")
        files.setdefault(parts[0], set()).add(parts[-1])
        keys = {item.nodeid, *("::".join(parts[:n]) for n in range(1, len(parts) + 1))} & SLOW.keys()
        matched |= keys
        if keys or parts[-1] in SLOW_NAMES:
            item.add_marker(pytest.mark.slow)
    if not config.option.keyword and not config.option.deselect and not any("::" in a for a in config.args):
        stale += [key for key in SLOW if "::" in key and key.split("::")[0] in files and key not in matched]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW names what does not exist: {', '.join(stale)}")
