"""Plugin discovery through real installed packages, the allowlist, configs and errors."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pyarrow as pa
import pytest

import rerankit
from tests.conftest import FIXTURES, plugin_env


def by_name(infos):
    return {i.name: i for i in infos}


def test_builtins_are_registered_through_the_fusion_hook():
    infos = by_name(rerankit.list_rerankers())
    for name in ("rrf", "linear", "mrr"):
        assert infos[name].kind == "fusion"
        assert infos[name].distribution == "rerankit"
        assert infos[name].version == rerankit.__version__
        assert infos[name].status == "ok"


def test_third_party_plugin_is_discovered_through_its_entry_point(use_plugin_site):
    infos = by_name(rerankit.list_rerankers())
    scorer = infos["fixture-terms"]
    assert (scorer.kind, scorer.distribution, scorer.version) == ("scorer", "rerankit-fixture-plugin", "1.2.3")
    assert infos["fixture-borda"].kind == "fusion"
    out = rerankit.get_reranker("fixture-terms").rerank("apple pie", ["an apple", "apple pie", "pear"])
    assert out["text"].to_pylist() == ["apple pie", "an apple", "pear"]
    assert out["_relevance_score"].to_pylist() == [2.0, 1.0, 0.0]


def test_broken_plugin_is_reported_and_others_keep_working(use_plugin_site, caplog):
    infos = rerankit.list_rerankers()
    broken = [i for i in infos if i.status == "error"]
    assert len(broken) == 1
    assert broken[0].distribution == "rerankit-broken-plugin"
    assert "ModuleNotFoundError" in broken[0].error
    assert "rerankit_missing_dependency_for_tests" in broken[0].error
    assert "failed to load" in caplog.text
    assert rerankit.get_reranker("fixture-terms") is not None
    with pytest.raises(rerankit.UnknownRerankerError, match="rerankit-broken-plugin"):
        rerankit.get_reranker("broken")


def test_allowlist_hints_name_what_it_left_out_and_what_matches_nothing(use_plugin_site, monkeypatch, caplog):
    monkeypatch.setenv("RERANKIT_PLUGINS", "rerankit-broken-plugin,rerankit-cohre")
    rerankit._registry.reset_registry()
    with pytest.raises(rerankit.UnknownRerankerError) as info:
        rerankit.get_reranker("fixture-terms")  # installed, but the allowlist leaves it out
    message = str(info.value)
    assert "leaves out the installed plugin distribution(s) " in message and "rerankit-fixture-plugin" in message
    assert "if 'fixture-terms' comes from one of them, add it to RERANKIT_PLUGINS or unset it" in message
    assert "RERANKIT_PLUGINS names rerankit-cohre, which no installed plugin distribution matches" in message
    assert "RERANKIT_PLUGINS names rerankit-cohre" in caplog.text  # and a WARNING when loading


def test_allowlist_limits_which_distributions_load(use_plugin_site, monkeypatch):
    monkeypatch.setenv("RERANKIT_PLUGINS", "rerankit_fixture_plugin")  # normalized like pip names
    rerankit._registry.reset_registry()
    names = by_name(rerankit.list_rerankers())
    assert "fixture-terms" in names and all(i.status == "ok" for i in names.values())
    monkeypatch.setenv("RERANKIT_PLUGINS", "")
    rerankit._registry.reset_registry()
    assert sorted(by_name(rerankit.list_rerankers())) == ["cascade", "linear", "mrr", "rrf"]


def test_entry_points_are_loaded_lazily_and_once(plugin_site):
    code = (
        "import sys, rerankit; assert 'rerankit_fixture_plugin' not in sys.modules;"
        "rerankit.get_reranker('rrf'); assert 'rerankit_fixture_plugin' not in sys.modules;"  # built-in
        "rerankit.get_reranker('fixture-terms'); assert 'rerankit_fixture_plugin' in sys.modules;"
        "import rerankit._registry as r; reg = r.registry(); before = reg.pm.get_plugins();"
        "reg.load(); rerankit.list_rerankers(); assert reg.pm.get_plugins() == before;"
        "print(sorted(n for n, _ in reg.pm.list_name_plugin()))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=plugin_env(plugin_site), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = eval(out.stdout)  # a printed list of plugin names
    assert names.count("rerankit-fixture-plugin:fixture") == 1
    assert {"rerankit._builtins.fusions", "rerankit._builtins.text"} <= set(names)
    assert not any(n.startswith("rerankit-broken-plugin") for n in names)  # failed, so never registered


def test_builtin_names_are_reserved(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(FIXTURES / "rerankit-greedy-plugin")],
        check=True,
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("RERANKIT_PLUGINS", "rerankit-greedy-plugin")
    infos = by_name(rerankit.list_rerankers())
    assert "reranker name 'rrf' is the core's own; rerankit-greedy-plugin cannot replace it" in caplog.text
    assert (infos["rrf"].distribution, infos["rrf"].factory) == ("rerankit", rerankit._builtins.fusions.rrf)
    assert infos["greedy-constant"].distribution == "rerankit-greedy-plugin"


def test_plugin_select_text_hook_wins_over_the_default(use_plugin_site):
    docs = [{"body": "apple"}, {"body": "APPLE PIE"}]
    out = rerankit.get_reranker("fixture-terms", column="upper:body").rerank("APPLE PIE", docs)
    assert out["body"].to_pylist() == ["APPLE PIE", "apple"]  # rows unchanged, only scored upper-cased
    assert out["_relevance_score"].to_pylist() == [2.0, 1.0]


def test_unknown_name_lists_installed_and_gives_pip_hint(monkeypatch):
    monkeypatch.setenv("RERANKIT_PLUGINS", "")  # only the built-ins, whatever this venv holds
    with pytest.raises(rerankit.UnknownRerankerError) as info:
        rerankit.get_reranker("cohere")
    assert "installed: cascade, linear, mrr, rrf" in str(info.value)
    # rerankit-cohere is in this venv: the allowlist, not a missing package, is the cause
    assert "rerankit-cohere is installed, but RERANKIT_PLUGINS='' leaves it out" in str(info.value)
    assert info.value.available == ["cascade", "linear", "mrr", "rrf"]
    monkeypatch.setitem(rerankit._registry.FIRST_PARTY, "acme-x", "rerankit-acme-x")  # not installed
    with pytest.raises(rerankit.UnknownRerankerError, match=r"Install it with: pip install rerankit-acme-x"):
        rerankit.get_reranker("acme-x")
    with pytest.raises(rerankit.UnknownRerankerError, match="Did you mean 'rrf'"):
        rerankit.get_reranker("rff")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 60}, "unknown option 'k' (did you mean 'K'?); allowed: K, column, min_score, return_score, top_n"),
        ({"K": 0}, "option 'K': Input should be greater than 0 (got 0)"),
        ({"top_n": 0}, "option 'top_n'"),
        ({"return_score": "some"}, "option 'return_score': Input should be 'relevance' or 'all'"),
    ],
)
def test_config_errors_name_the_option(options, message):
    with pytest.raises(rerankit.ConfigError) as info:
        rerankit.get_reranker("rrf", **options)
    assert str(info.value).startswith("invalid config for reranker 'rrf': ")
    assert message in str(info.value)


def test_mrr_weights_must_sum_to_one():
    with pytest.raises(rerankit.ConfigError, match=r"weight_vector \+ weight_fts must equal 1.0"):
        rerankit.get_reranker("mrr", weight_vector=0.9, weight_fts=0.9)


def test_from_config_mapping_toml_and_json(tmp_path):
    r = rerankit.from_config({"reranker": "rrf", "K": 10, "top_n": 3})
    assert (r.name, r.config.K, r.top_n) == ("rrf", 10, 3)
    toml = tmp_path / "reranker.toml"
    toml.write_text('reranker = "linear"\nweight = 0.4\n')
    assert rerankit.from_config(toml).config.weight == 0.4
    nested = tmp_path / "nested.toml"
    nested.write_text('[reranker]\nname = "mrr"\nweight_vector = 0.2\nweight_fts = 0.8\n')
    assert rerankit.from_config(str(nested)).config.weight_fts == 0.8
    js = tmp_path / "r.json"
    js.write_text(json.dumps({"reranker": "rrf", "return_score": "all"}))
    assert rerankit.from_config(js).return_score == "all"


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("K = 3\n", ".toml", "does not name a reranker; add reranker"),
        ('rerankr = "rrf"\n', ".toml", r"a reranker \('rerankr' is not a key here: did you mean 'reranker'\?\)"),
        ("reranker = \n", ".toml", "could not be parsed"),
        ("[1, 2]", ".json", "must hold a JSON object"),
        ("reranker: rrf", ".yaml", "must end in .toml or .json"),
    ],
)
def test_from_config_file_errors(tmp_path, content, suffix, message):
    path = tmp_path / f"cfg{suffix}"
    path.write_text(content)
    with pytest.raises(rerankit.ConfigError, match=message):
        rerankit.from_config(path)
    with pytest.raises(rerankit.ConfigError, match="does not exist"):
        rerankit.from_config(tmp_path / "missing.toml")


def test_rerankers_pickle_by_name_and_config():
    r = rerankit.get_reranker("linear", weight=0.2, top_n=4)
    clone = pickle.loads(pickle.dumps(r))
    assert type(clone) is type(r) and clone.config == r.config
    assert repr(clone) == "FusionReranker('linear', top_n=4, weight=0.2)"
    table = pa.table({"_rowid": [1, 2], "_distance": [0.2, 0.1], "text": ["a", "b"]})
    assert clone.rerank_vector("q", table).equals(r.rerank_vector("q", table))


def test_importing_rerankit_imports_nothing_heavy():
    heavy = "('torch', 'lancedb', 'httpx', 'pandas', 'transformers', 'ray', 'starlette', 'uvicorn')"
    code = f"import sys, rerankit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
