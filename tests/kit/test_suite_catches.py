"""The conformance suite fails plugins that break the contract, each on the rule it breaks.

Deliberately broken plugins (tests/kit/fixtures) are pip-installed into a private directory and the
suite is run on them in a pytest subprocess, as a plugin author would run it; the JUnit report says
which tests failed. A well-behaved control plugin passes every test of the same run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import defaultdict

import pytest

from tests.kit.conftest import KIT_FIXTURES, env_with_path, pip_install_target

CLASSES = textwrap.dedent(
    """
    from rerankit.testing import HEAVY_MODULES, RerankerConformance


    class TestGood(RerankerConformance):
        name = "kit-good"
        distribution = "rerankit-kit-bad"


    class TestPlainKey(RerankerConformance):
        name = "kit-plainkey"
        distribution = "rerankit-kit-bad"


    class TestExtra(RerankerConformance):
        name = "kit-extra"
        distribution = "rerankit-kit-bad"


    class TestLoggedKey(RerankerConformance):
        name = "kit-loggedkey"
        distribution = "rerankit-kit-bad"


    class TestAsync(RerankerConformance):
        name = "kit-async"
        distribution = "rerankit-kit-bad"


    class TestRandom(RerankerConformance):
        name = "kit-random"
        distribution = "rerankit-kit-bad"


    class TestNan(RerankerConformance):
        name = "kit-nan"
        distribution = "rerankit-kit-bad"


    class TestWrongDistribution(RerankerConformance):
        name = "kit-good"
        distribution = "rerankit-someone-else"


    class TestHeavy(RerankerConformance):
        name = "kit-heavy"
        distribution = "rerankit-kit-heavy"
        heavy_modules = (*HEAVY_MODULES, "rerankit_kit_fake_sdk")


    class TestHeavyBuild(RerankerConformance):
        name = "kit-heavy-build"
        distribution = "rerankit-kit-heavy"
        heavy_modules = (*HEAVY_MODULES, "rerankit_kit_fake_model")
    """
)

# class -> (tests that must fail, whether every other test must pass, text the first failure shows)
EXPECTED = {
    "TestGood": (set(), True, None),
    "TestPlainKey": ({"test_secrets_hidden"}, True, "['api_key'] look like secrets"),
    "TestExtra": ({"test_unknown_option_is_config_error"}, True, "ConfigError"),
    "TestLoggedKey": ({"test_secrets_hidden"}, True, "a secret leaks through log records"),
    "TestAsync": ({"test_async_matches_sync", "test_batch_matches_single"}, True, "scores differ"),
    "TestRandom": ({"test_deterministic", "test_top_n"}, False, "two identical rerank_vector calls"),
    "TestNan": ({"test_output_invariants", "test_multivector_invariants"}, False, "non-finite"),
    "TestWrongDistribution": (
        {"test_registered_through_entry_point", "test_import_is_light"}, True, "expected 'rerankit-someone-else'"
    ),
    "TestHeavy": ({"test_import_is_light"}, True, "imports ['rerankit_kit_fake_sdk']"),
    "TestHeavyBuild": ({"test_import_is_light"}, True, "get_reranker('kit-heavy-build') imports"),
}


@pytest.fixture(scope="module")
def suite_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str | None]]:
    """Run the suite on the broken plugins; {class: {test name: failure text or None}}."""
    site = pip_install_target(
        tmp_path_factory.mktemp("kit-bad-site"),
        KIT_FIXTURES / "rerankit-kit-bad",
        KIT_FIXTURES / "rerankit-kit-heavy",
    )
    work = tmp_path_factory.mktemp("kit-bad-tests")
    (work / "test_broken_plugins.py").write_text(CLASSES)
    report = work / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         "-o", "junit_logging=no", "test_broken_plugins.py"],
        cwd=work, env=env_with_path(site), capture_output=True, text=True, timeout=600,
    )
    assert report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    results: dict[str, dict[str, str | None]] = defaultdict(dict)
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        assert case.find("skipped") is None, f"{case.get('name')} was skipped"
        text = None if problem is None else f"{problem.get('message')}\n{problem.text}"
        results[case.get("classname").rsplit(".", 1)[-1]][case.get("name")] = text
    return results


@pytest.mark.parametrize("cls", sorted(EXPECTED))
def test_suite_fails_exactly_the_broken_rule(suite_report, cls: str) -> None:
    must_fail, others_pass, shown = EXPECTED[cls]
    results = suite_report[cls]
    assert len(results) >= 25, f"{cls}: only {len(results)} tests ran"
    failed = {name.split("[")[0]: text for name, text in results.items() if text is not None}
    missing = must_fail - set(failed)
    assert not missing, f"{cls}: the suite did not catch it in {sorted(missing)}"
    if others_pass:
        assert set(failed) == must_fail, f"{cls}: unexpected failures {sorted(set(failed) - must_fail)}"
    if shown:
        messages = "\n".join(t for n, t in failed.items() if n in must_fail)
        assert shown in messages, f"{cls}: failure does not say {shown!r}:\n{messages[:3000]}"


def test_good_plugin_failure_free_and_complete(suite_report) -> None:
    """The control plugin passes every test the suite has (so the checks above are not noise)."""
    from rerankit.testing import RerankerConformance

    names = {n for n in dir(RerankerConformance) if n.startswith("test_")}
    ran = {n.split("[")[0] for n in suite_report["TestGood"]}
    assert ran == names
    assert all(text is None for text in suite_report["TestGood"].values())

