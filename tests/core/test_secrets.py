"""Keys are never shown: fuzzing every registered reranker's config while a key is set.

The rerankers come from the registry (``rerankit.list_rerankers()``), so a plugin installed later,
or an option added to a config later, is fuzzed without a new test. Each example builds a reranker
from invalid values and combinations of its options, with the key in its secret options, under
secret-like names nested in other options and in the provider's environment variables, through
``get_reranker``, ``from_config`` and the command line's ``--set``; the key must appear in no
exception (message, repr, chained errors, pickle), no repr/str/dump/pickle of a built reranker,
no log record and no CLI output. The core README's promise "keys never shown" rests on this file.

The key comes in every form a secret takes: plain, with a line break, NUL or non-ASCII character
(refused at config time, never echoed), as the credentials of a ``base_url``
(``http://user:KEY@host``), and inside fallbacks at depth 2. Requests that fail show no key or URL
credentials in the exception, the DEBUG log or ``rerankit rerank``'s stderr; a served config holding
a key anywhere is refused without showing it (the server's bodies and log: tests/serve).
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import traceback
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rerankit
from rerankit._cli import main as cli_main
from rerankit._config import secret_fields

KEY = "sk-fuzz-KEY-3f9c1a"
ENV_KEY = "sk-env-KEY-77e0b2"
KEYS = (KEY, ENV_KEY)

REGISTERED = {e.name: e for e in rerankit.list_rerankers() if e.status == "ok"}

#: Keys that cannot go in an HTTP header: a two-line key file, a NUL, a non-ASCII character.
UNSENDABLE = (f"{KEY}\nold-{KEY}", f"{KEY}\x00", f"{KEY}\u00e9", f"\u2022{KEY}", f"{KEY}\told")
#: The key as the credentials of a URL.
IN_URLS = (f"http://user:{KEY}@127.0.0.1:9", f"https://{KEY}@api.example.com/v1", f"http://{KEY}:x@127.0.0.1:9")
#: The key inside fallbacks, at depth 1 and 2 (a fallback's own fallback).
FALLBACKS = (
    [{"reranker": "jina", "api_key": KEY, "fallback": [{"reranker": "cohere", "api_key": KEY}]}],
    [{"reranker": "jina", "fallback": [{"reranker": "cohere", "base_url": IN_URLS[0], "token": KEY}]}],
    [{"reranker": "cohere", "base_url": IN_URLS[1]}, {"reranker": "jina", "api_key": f"{KEY}\n"}],
    [{"reranker": "jina", "name": "cohere", "api_key": KEY}],
)


def _values() -> st.SearchStrategy[Any]:
    """Values that are wrong for most options (and right for some): types, ranges, combinations."""
    odd = [
        None, True, False, 0, -1, 1, 2, 5, 7, 10**30, -(10**30), 0.5, -0.5, 1e308,
        math.nan, math.inf, -math.inf, "", " ", "x", "auto", "cpu", "cuda:7", "float16", "int8",
        "onnx", "min-max", "tm2c2", "rank", "/rel", "rel", "http://", "ftp://x", "https://127.0.0.1:9",
        "{query}", "{nope}", [], [0], [5, 0], [math.nan, 0], [1, 2, 3], [-1, 1], {}, {"a": 1},
        "1", "0.5", "true", f"https://user:{KEY}@api.example.com", f"http://{KEY}@127.0.0.1:9",
    ]
    scalars = st.one_of(
        st.sampled_from(odd), st.integers(-5, 100), st.floats(allow_nan=True), st.text(max_size=6)
    )
    nested_key = st.dictionaries(
        st.sampled_from(["api_key", "token", "password", "Authorization", "client_secret", "X-Api-Key"]),
        st.sampled_from([KEY, f"Bearer {KEY}"]),
        min_size=1,
        max_size=2,
    )
    return st.one_of(scalars, st.lists(scalars, max_size=3), nested_key)


@st.composite
def _options(draw: st.DrawFn, name: str) -> dict[str, Any]:
    model = REGISTERED[name].config
    fields = sorted(model.model_fields)
    keys = st.sampled_from([*fields, "api_kye", "apikey", "token", "unknown_option"])
    options = draw(st.dictionaries(keys, _values(), max_size=4))
    for field in secret_fields(model):  # the key set, sometimes in a wrong shape or one that cannot be sent
        options[field] = draw(st.sampled_from([KEY, KEY, KEY, [KEY], {"value": KEY}, f"  {KEY}  ", *UNSENDABLE]))
    if not secret_fields(model) and draw(st.booleans()):
        options["api_key"] = KEY  # an option the reranker does not have: still never echoed
    if "base_url" in model.model_fields and draw(st.booleans()):
        options["base_url"] = draw(st.sampled_from(IN_URLS))
    if "fallback" in model.model_fields and draw(st.booleans()):
        options["fallback"] = draw(st.sampled_from(FALLBACKS))
    if "api_key_env" in model.model_fields and draw(st.booleans()):
        options["api_key_env"] = draw(st.sampled_from([KEY, "Ab3" + KEY.replace("-", "") + "Zz9xQ"]))
    return options


@pytest.fixture(scope="module", autouse=True)
def _keys_in_environment():
    """Every provider's key variable holds a key too (hosted scorers read it when building)."""
    names = {"OPENAI_API_KEY", "COHERE_API_KEY"}
    for entry in REGISTERED.values():
        env = getattr(entry.factory, "api_key_env", ()) or ()
        names.update([env] if isinstance(env, str) else env)
    with pytest.MonkeyPatch.context() as mp:
        for var in names:
            mp.setenv(var, ENV_KEY)
        yield


def _error_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(type(error), error, error.__traceback__))]
    seen: BaseException | None = error
    while seen is not None:  # chained errors, shown or not, and their inputs
        texts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, rerankit.RerankitError):
        texts.append(repr(pickle.loads(pickle.dumps(error)).args))
    return texts


def _reranker_texts(reranker: rerankit.Reranker) -> list[str]:
    config = reranker.config
    return [
        repr(reranker), str(reranker), repr(config), str(config), config.model_dump_json(),
        repr(config.model_dump()), repr(rerankit.Reranker.__repr__(reranker)), repr(vars(reranker)),
        pickle.dumps(reranker).decode("latin-1"),
    ]


def _assert_hidden(texts: list[str], where: str) -> None:
    for text in texts:
        for key in KEYS:
            assert key not in text, f"the key leaked in {where}: {text[:400]}"


def _build(name: str, options: dict[str, Any], entry: str) -> list[str]:
    try:
        if entry == "from_config":
            reranker = rerankit.from_config({"reranker": name, **options})
        else:
            reranker = rerankit.get_reranker(name, **options)
    except rerankit.RerankitError as exc:
        return _error_texts(exc)
    texts = _reranker_texts(reranker)
    close = getattr(reranker, "close", None)
    if close is not None:
        close()
    return texts


def _cli(name: str, options: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> list[str]:
    sets: list[str] = []
    for key, value in options.items():
        sets += ["--set", f"{key}={json.dumps(value)}"]
    capsys.readouterr()
    code = cli_main(["rerank", "--reranker", name, *sets, "--query", "q", "--input", "/nonexistent/in.jsonl"])
    out, err = capsys.readouterr()
    assert code == 1, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("rerankit: error:") and "Traceback" not in err, err
    return [out, err]


@pytest.mark.parametrize("name", sorted(REGISTERED))
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_key_never_shown(
    name: str, data: st.DataObject, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid values and combinations of every option, a key set: never in any message."""
    options = data.draw(_options(name))
    entry = data.draw(st.sampled_from(["get_reranker", "from_config", "cli"]))
    caplog.set_level(logging.DEBUG, logger="rerankit")
    texts = _cli(name, options, capsys) if entry == "cli" else _build(name, options, entry)
    _assert_hidden(texts, f"{entry}({name}, {sorted(options)})")
    _assert_hidden([r.getMessage() for r in caplog.records], "a log record")
    _assert_hidden([caplog.text], "the log")


def test_every_reranker_is_fuzzed() -> None:
    """The registry gives the fuzz test the core's three fusions and each installed plugin."""
    assert {"rrf", "linear", "mrr"} <= set(REGISTERED)
    hosted = [n for n, e in REGISTERED.items() if secret_fields(e.config)]
    assert "cohere" in hosted, hosted  # at least one reranker whose config holds a key


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("cohere", {"backoff_base": 5, "backoff_max": 1}),  # a model-level validator
        ("jina", {"backoff_base": 5, "backoff_max": 1}),
        ("tei", {"backoff_base": 5, "backoff_max": 1}),
        ("openai", {"batch_size": 5, "window_size": 6}),
        ("cohere", {"timeout": "soon"}),  # a field validator
        ("cohere", {"api_key": [KEY]}),  # the key in the wrong shape
        ("cohere", {"api_kye": KEY}),  # a typo: an unknown option holding the key
    ],
)
def test_reported_leaks(name: str, options: dict[str, Any]) -> None:
    """The exact calls the issue reported: a ConfigError that names the problem, not the key."""
    if name not in REGISTERED:
        pytest.fail(f"the {name} plugin is not installed in the dev environment")
    if name == "openai" and "window_size" not in REGISTERED[name].config.model_fields:
        options = {"batch_size": 0}
    with pytest.raises(rerankit.ConfigError) as err:
        rerankit.get_reranker(name, **{"api_key": KEY, **options})
    _assert_hidden(_error_texts(err.value), "the error")
    assert "invalid config" in str(err.value)


def test_secret_named_options_hidden_at_any_nesting() -> None:
    """A plugin written later, with its own key-holding options and validators, is covered too."""
    from pydantic import Field, SecretStr, field_validator, model_validator

    class Later(rerankit.RerankerConfig):
        credentials: dict[str, Any] = Field(default_factory=dict)
        password: SecretStr | None = None
        retries: int = 1

        @field_validator("credentials")
        @classmethod
        def _echo(cls, value: dict[str, Any]) -> dict[str, Any]:
            raise ValueError(f"bad credentials {value}")  # a careless plugin echoing its input

        @model_validator(mode="before")
        @classmethod
        def _echo_all(cls, data: Any) -> Any:
            if data.get("retries") == 0:
                raise ValueError(f"retries=0 with {data}")
            return data

    from rerankit._config import validate_config

    for options in (
        {"credentials": {"token": KEY}, "password": KEY},
        {"retries": 0, "password": KEY, "credentials": {"access_key": KEY}},
    ):
        with pytest.raises(rerankit.ConfigError) as err:
            validate_config("later", Later, options)
        _assert_hidden(_error_texts(err.value), "a later plugin's error")
        assert "credentials" in str(err.value) or "retries" in str(err.value)


def test_environment_is_restored() -> None:
    """The fixture's variables hold the key only while this module runs (no leak into others)."""
    assert os.environ.get("COHERE_API_KEY") == ENV_KEY


# -- keys in the forms a request would leak them ----------------------------------------------------
HOSTED = sorted(n for n, e in REGISTERED.items() if "base_url" in e.config.model_fields)


@pytest.mark.parametrize("name", HOSTED)
@pytest.mark.parametrize("key", UNSENDABLE)
def test_a_key_that_cannot_be_sent_is_refused_unshown(name: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key with a line break, NUL or non-ASCII character: a ConfigError at config time, as an
    option or from the environment, and never shown (httpx would have echoed the header)."""
    base = {"base_url": "http://127.0.0.1:9", "model_name": "m"}
    with pytest.raises(rerankit.ConfigError) as err:
        rerankit.get_reranker(name, api_key=key, **base)
    _assert_hidden(_error_texts(err.value), "a refused key's error")
    assert "cannot be" in str(err.value) and "api_key" in str(err.value)
    if "\x00" in key:
        return  # an environment variable cannot hold a NUL
    for var in {"COHERE_API_KEY", "CO_API_KEY", "JINA_API_KEY", "OPENAI_API_KEY", "EMBEDDING_API_KEY",
                "VOYAGE_API_KEY", "TEI_API_KEY", "MXBAI_API_KEY", "PINECONE_API_KEY", "MY_KEY"}:
        monkeypatch.setenv(var, key)
    with pytest.raises(rerankit.ConfigError) as err:
        rerankit.get_reranker(name, api_key_env="MY_KEY", **base)
    _assert_hidden(_error_texts(err.value), "a refused environment key's error")
    assert "MY_KEY" in str(err.value)


@pytest.mark.parametrize("name", HOSTED)
def test_url_credentials_are_masked_in_errors_logs_and_reprs(
    name: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    """``base_url = http://user:KEY@host`` of every hosted reranker (and of a fallback entry): the
    failed request's exception, the DEBUG log line, the repr, the dumps and the CLI's stderr."""
    caplog.set_level(logging.DEBUG, logger="rerankit")
    url = f"http://user:{KEY}@127.0.0.1:9"
    options = {"api_key": ENV_KEY[::-1], "base_url": url, "model_name": "m", "max_retries": 0}
    reranker = rerankit.get_reranker(name, **options)
    texts = [*_reranker_texts(reranker), repr(getattr(reranker, "scorer", ""))]
    with pytest.raises(rerankit.ProviderError) as err:
        reranker.rerank("q", ["a", "b"])
    texts += _error_texts(err.value)
    assert "**********@127.0.0.1:9" in str(err.value)
    reranker.close()
    fallback = {"reranker": name, "base_url": url, "model_name": "m", "max_retries": 0}
    primary = rerankit.get_reranker("cohere", api_key="k", base_url="http://127.0.0.1:9", max_retries=0,
                                    fallback=[fallback])
    texts += _reranker_texts(primary)
    with pytest.raises(rerankit.ProviderError) as err:
        primary.rerank("q", ["a"])
    texts += _error_texts(err.value)
    primary.close()
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"text": "a"}\n', encoding="utf-8")
    sets = [x for k, v in options.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    capsys.readouterr()
    assert cli_main(["rerank", "--reranker", name, *sets, "--query", "q", "--input", str(rows)]) == 1
    out, stderr = capsys.readouterr()
    assert "**********@127.0.0.1:9" in stderr
    texts += [out, stderr, caplog.text, *(r.getMessage() for r in caplog.records)]
    assert any("POST http://**********@127.0.0.1:9" in r.getMessage() for r in caplog.records)
    _assert_hidden(texts, f"{name} with credentials in base_url")


def test_nested_fallback_keys_are_masked_at_every_depth() -> None:
    """The issue's case: a fallback entry's own fallback's key, in model_dump / model_dump_json."""
    deep = [{"reranker": "jina", "api_key": KEY, "fallback": [{"reranker": "cohere", "api_key": ENV_KEY,
                                                               "base_url": f"http://u:{KEY}@127.0.0.1:9"}]}]
    reranker = rerankit.get_reranker("cohere", api_key="k", fallback=deep)
    _assert_hidden(_reranker_texts(reranker), "a depth-2 fallback")
    dumped = reranker.config.model_dump_json()
    assert '"api_key":"**********"' in dumped and "http://**********@127.0.0.1:9" in dumped
    assert reranker.config.fallback[0]["fallback"][0]["reranker"] == "cohere"  # still usable
    reranker.close()


@pytest.mark.parametrize(
    "config",
    [
        {"m": {"reranker": "cohere", "api_key": KEY}},
        {"m": {"reranker": "cohere", "fallback": [{"reranker": "jina", "api_key": KEY}]}},
        {"m": {"reranker": "cohere", "fallback": [{"reranker": "jina", "fallback": [{"reranker": "cohere",
                                                                                       "password": KEY}]}]}},
        {"m": {"reranker": "cohere", "headers": {"Authorization": f"Bearer {KEY}"}}},
        {"ok": {"reranker": "rrf"}, "m": {"reranker": "cohere", "serve": {"max_wait_ms": 5}, "token": KEY}},
    ],
)
def test_a_serve_config_with_a_key_anywhere_is_refused_unshown(config: dict, tmp_path, capsys) -> None:
    """Keys in a served config are refused at any depth, in Python and from the command line."""
    from rerankit.serve import load_models

    with pytest.raises(rerankit.ConfigError) as err:
        load_models(config)
    _assert_hidden(_error_texts(err.value), "a serve config's error")
    assert "environment variable" in str(err.value)
    path = tmp_path / "serve.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    capsys.readouterr()
    assert cli_main(["serve", "--config", str(path)]) == 1
    _assert_hidden(list(capsys.readouterr()), "rerankit serve's output")
