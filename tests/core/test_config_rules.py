"""Config rules that hold at every depth: nested options are typed as strictly as top-level ones,
a mistyped sub-option is matched in its own table, fallback entries are checked as top-level
configs are and their errors say which entry, and a key pasted into ``api_key_env`` is not echoed."""

from __future__ import annotations

import pytest

import rerankit

BASE = {"api_key": "k", "base_url": "http://127.0.0.1:9"}


def build(**options):
    return rerankit.get_reranker("cohere", **BASE, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"passages": {"max_length": "5"}}, "'passages.max_length' must be a whole number, not the str '5' (write "
                                             "passages.max_length = 5 without quotes)"),
        ({"passages": {"max_length": True}}, "'passages.max_length' must be a whole number, not the bool True"),
        ({"rate_limit": {"requests_per_minute": "5"}}, "'rate_limit.requests_per_minute' must be a number"),
        ({"rate_limit": {"requests_per_minute": False}}, "'rate_limit.requests_per_minute' must be a number"),
        ({"passages": True, "return_passage": "true"}, "'return_passage' must be true or false, not the str 'true'"),
        ({"passages": True, "return_passage": 1}, "'return_passage' must be true or false, not the int 1"),
        ({"fallback_on_auth_error": "yes"}, "'fallback_on_auth_error' must be true or false"),
        ({"max_retries": True}, "'max_retries' must be a whole number, not the bool True"),
    ],
)
def test_numbers_and_booleans_are_strict_at_every_depth(options: dict, message: str) -> None:
    with pytest.raises(rerankit.ConfigError) as err:
        build(**options)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("options", "suggestion", "allowed"),
    [
        ({"passages": {"maxlength": 5}}, "did you mean 'passages.max_length'?", "allowed in passages: aggregate"),
        ({"cache": {"pth": "x"}}, "did you mean 'cache.path'?", "allowed in cache: backend"),
        ({"rate_limit": {"request_per_minute": 5}}, "did you mean 'rate_limit.requests_per_minute'?", "allowed in"),
        ({"timout": 5}, "did you mean 'timeout'?", "allowed: api_key"),
    ],
)
def test_a_mistyped_sub_option_is_matched_in_its_table(options: dict, suggestion: str, allowed: str) -> None:
    with pytest.raises(rerankit.ConfigError) as err:
        build(**options)
    assert suggestion in str(err.value) and allowed in str(err.value)


def test_fallback_entries_are_checked_like_top_level_configs() -> None:
    with pytest.raises(rerankit.ConfigError, match="names its reranker twice, reranker = 'jina' and name = 'cohere'"):
        build(fallback=[{"reranker": "jina", "name": "cohere"}])
    with pytest.raises(rerankit.ConfigError) as err:
        build(fallback=[{"reranker": "jina", "api_key": "j"}, {"reranker": "jina", "api_key": "j", "timeout": -1}])
    assert str(err.value).startswith("fallback[1] ('jina') of 'cohere': invalid config for reranker 'jina'")
    with pytest.raises(rerankit.ConfigError) as deep:
        build(fallback=[{"reranker": "jina", "api_key": "j", "fallback": [{"reranker": "cohere", "top_n": 0}]}])
    assert "fallback[0] ('jina') of 'cohere': fallback[0] ('cohere') of 'jina'" in str(deep.value)
    with pytest.raises(rerankit.UnknownRerankerError, match=r"fallback\[0\] of 'cohere'"):
        build(fallback=[{"reranker": "no-such"}])


@pytest.mark.parametrize("pasted", ["sk-live-2b7e1f", "Zq8" + "x7Kp2LmN4vR9sT1wY6uB3c"])
def test_a_key_pasted_into_api_key_env_is_not_echoed(pasted: str) -> None:
    with pytest.raises(rerankit.ConfigError) as err:
        rerankit.get_reranker("cohere", api_key_env=pasted)
    assert "api_key_env takes the name of an environment variable" in str(err.value)
    assert pasted not in str(err.value) and pasted not in repr(err.value.args)


def test_a_variable_name_in_api_key_env_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_COHERE_KEY", "k\n")  # a trailing line break (a key file's) is stripped
    reranker = rerankit.get_reranker("cohere", api_key_env="MY_COHERE_KEY")
    assert "MY_COHERE_KEY" in repr(reranker)
    reranker.close()
