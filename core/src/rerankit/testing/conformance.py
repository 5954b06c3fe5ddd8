"""The conformance suite: one base class a plugin's tests subclass to check the whole contract.

    from rerankit.testing import RerankerConformance

    class TestOverlap(RerankerConformance):
        name = "overlap"                   # the registered name
        distribution = "rerankit-overlap"  # the package that registers it
        config = {"min_token_length": 2}   # options for a working reranker (optional)

Plugins that need set-up (a tiny model saved to a temporary directory, a local HTTP server)
override the ``conformance_config`` fixture instead of (or on top of) ``config``; ``env`` sets
environment variables (e.g. an API key variable) for every test. See docs/writing-a-plugin.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import textwrap
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pyarrow as pa
import pytest
from pydantic import SecretBytes, SecretStr

import rerankit
from rerankit._config import public_dump
from rerankit._registry import canonical_name

from . import checks, data

#: Modules a plugin must never import at import time (nor when a reranker is merely built):
#: model frameworks and vendor SDKs. Import them inside the method that needs them.
HEAVY_MODULES: tuple[str, ...] = (
    "torch",
    "transformers",
    "sentence_transformers",
    "tensorflow",
    "jax",
    "onnxruntime",
    "cohere",
    "voyageai",
    "openai",
    "anthropic",
    "mistralai",
    "google.genai",
    "lancedb",
)

#: Option or variable names that must hold secrets: *api_key, *token, *secret, *password, ...
_SECRET_LIKE = re.compile(
    r"(^|_)(api_?key|access_key|secret(_key)?|token|password|passwd|credentials?)$", re.IGNORECASE
)
_SENTINEL = "rk-conformance-SECRET-7d1f"
_OWNED_BY_SUITE = ("column", "top_n", "return_score")
_ENTRIES = ("vector", "fts", "hybrid")


def _is_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, (SecretStr, SecretBytes)):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))


def _call(reranker: rerankit.Reranker, entry: str, query: str | None = data.QUERY) -> Any:
    """Run ``entry`` on the sample results; returns (output, expected rows)."""
    vec, fts = data.vector_results(), data.fts_results()
    if entry == "vector":
        return reranker.rerank_vector(query, vec), vec
    if entry == "fts":
        return reranker.rerank_fts(query, fts), fts
    return reranker.rerank_hybrid(query, vec, fts), checks.expected_union([vec, fts])


async def _acall(reranker: rerankit.Reranker, entry: str) -> pa.Table:
    vec, fts = data.vector_results(), data.fts_results()
    if entry == "vector":
        return await reranker.arerank_vector(data.QUERY, vec)
    if entry == "fts":
        return await reranker.arerank_fts(data.QUERY, fts)
    return await reranker.arerank_hybrid(data.QUERY, vec, fts)


class RerankerConformance:
    """Subclass as ``class TestMyPlugin(RerankerConformance)`` and set the class attributes below.

    Every reranker, scorer or fusion, gets: registration through its entry point, config
    validation, secrets kept out of reprs, dumps, errors and pickles, a light import, the output
    invariants of the data model for vector, full-text and hybrid results (both ``return_score``
    modes, ``top_n``, empty input), typed input errors, and sync/async/batch/pickle parity.
    """

    #: The name the plugin registers (``register("overlap", ...)``). Required.
    name: ClassVar[str] = ""
    #: The distribution (``[project] name``) expected to provide it. Required.
    distribution: ClassVar[str] = ""
    #: Options for a working reranker; the suite sets column/top_n/return_score itself.
    config: ClassVar[Mapping[str, Any]] = {}
    #: Environment variables set for every test (an API-key variable for a hosted plugin, say);
    #: values of variables whose name looks secret are checked never to leak.
    env: ClassVar[Mapping[str, str]] = {}
    #: Modules whose import at plugin import (or reranker build) time fails the suite.
    heavy_modules: ClassVar[tuple[str, ...]] = HEAVY_MODULES
    #: Whether the same call twice gives the same output (needed for the top_n/parity checks).
    deterministic: ClassVar[bool] = True
    #: How far two runs' scores may differ and still count as equal (float noise from batching,
    #: threads or padding); rows whose scores tie within it may swap places.
    score_rtol: ClassVar[float] = 1e-5
    score_atol: ClassVar[float] = 1e-6

    def _same(self, got: pa.Table, want: pa.Table, what: str, *, head: bool = False) -> None:
        checks.assert_same_ranking(got, want, what, head=head, rtol=self.score_rtol, atol=self.score_atol)

    # -- hooks a plugin may override ---------------------------------------------------------
    @pytest.fixture
    def conformance_config(self) -> dict[str, Any]:
        """The config every test builds the reranker from (``config`` by default).

        Override this fixture to add options that need set-up, taking what it needs from your own
        fixtures, e.g. a session-scoped tiny model or local server::

            @pytest.fixture
            def conformance_config(self, tiny_model_dir):
                return {**self.config, "model_name": str(tiny_model_dir)}
        """
        return dict(self.config)

    # -- the suite's own fixtures ------------------------------------------------------------
    @pytest.fixture
    def make_reranker(
        self, conformance_config: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Callable[..., rerankit.Reranker]]:
        """``make_reranker(**overrides)``: the plugin's reranker built by name, as users do."""
        assert self.name, f"{type(self).__name__} must set name = '<registered reranker name>'"
        assert self.distribution, f"{type(self).__name__} must set distribution = '<its package name>'"
        owned = sorted(set(conformance_config) & set(_OWNED_BY_SUITE))
        assert not owned, f"conformance config must not set {owned}: the suite sets them per test"
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        built: list[rerankit.Reranker] = []

        def make(**overrides: Any) -> rerankit.Reranker:
            reranker = rerankit.get_reranker(self.name, **{**conformance_config, **overrides})
            built.append(reranker)
            return reranker

        yield make
        for reranker in built:
            close = getattr(reranker, "close", None)
            if close is not None:
                close()

    def _info(self) -> rerankit.RerankerInfo:
        assert self.name, f"{type(self).__name__} must set name = '<registered reranker name>'"
        assert self.distribution, f"{type(self).__name__} must set distribution = '<its package name>'"
        infos = rerankit.list_rerankers()
        found = [i for i in infos if i.name == self.name and i.status == "ok"]
        failed = [f"{i.name} ({i.distribution}): {i.error}" for i in infos if i.status == "error"]
        assert found, (
            f"no reranker named '{self.name}' is registered; installed: "
            f"{sorted(i.name for i in infos if i.status == 'ok')}; failed to load: {failed}. "
            "Is the package installed (pip install -e .) and its [project.entry-points.rerankit] set?"
        )
        return found[0]

    def _kind(self) -> str:
        return self._info().kind or "scorer"

    # -- registration and config -------------------------------------------------------------
    def test_registered_through_entry_point(self) -> None:
        info = self._info()
        assert canonical_name(info.distribution) == canonical_name(self.distribution), (
            f"'{self.name}' is registered by {info.distribution!r}, expected {self.distribution!r}"
        )
        assert info.kind in ("scorer", "fusion")
        assert isinstance(info.config, type) and issubclass(info.config, rerankit.RerankerConfig), (
            "the config model must subclass rerankit.RerankerConfig"
        )
        if info.kind == "scorer":
            assert isinstance(info.factory, type) and issubclass(info.factory, rerankit.Scorer), (
                "register_scorers must register a rerankit.Scorer subclass"
            )
        else:
            assert callable(info.factory)
        broken = [i for i in rerankit.list_rerankers() if i.status == "error"
                  and canonical_name(i.distribution) == canonical_name(self.distribution)]
        assert not broken, f"part of {self.distribution} failed to load: {[b.error for b in broken]}"
        if canonical_name(self.distribution) != "rerankit":
            import importlib_metadata

            dist = importlib_metadata.distribution(self.distribution)
            assert info.version == dist.version
            eps = [ep for ep in dist.entry_points if ep.group == "rerankit"]
            assert eps, f"{self.distribution} declares no entry point in the 'rerankit' group"

    def test_builds_by_name(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker()
        info = self._info()
        assert isinstance(reranker, rerankit.Reranker)
        assert reranker.name == self.name
        assert isinstance(reranker.config, info.config)
        assert (reranker.column, reranker.top_n, reranker.return_score) == ("text", None, "relevance"), (
            "the shared options must keep their defaults (column='text', top_n=None, return_score='relevance')"
        )
        assert rerankit.from_config({"reranker": self.name, **self._public(reranker)}).name == self.name

    @staticmethod
    def _public(reranker: rerankit.Reranker) -> dict[str, Any]:
        return json.loads(json.dumps(public_dump(reranker.config), default=str))

    def test_unknown_option_is_config_error(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        with pytest.raises(rerankit.ConfigError) as err:
            make_reranker(no_such_option_xyz=1)
        assert "no_such_option_xyz" in str(err.value)

    def test_invalid_value_is_config_error(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        for key, bad in (("top_n", 0), ("return_score", "everything")):
            with pytest.raises(rerankit.ConfigError) as err:
                make_reranker(**{key: bad})
            assert key in str(err.value)

    def _secret_fields(self) -> list[str]:
        model = self._info().config
        return [n for n, f in model.model_fields.items() if _is_secret(f.annotation)]

    def _secret_values(self, conformance_config: Mapping[str, Any]) -> list[str]:
        values = [_SENTINEL]
        values += [v for k, v in self.env.items() if _SECRET_LIKE.search(k) and v]
        values += [str(conformance_config[f]) for f in self._secret_fields() if conformance_config.get(f)]
        return [v for v in values if len(v) >= 6]

    def test_secrets_hidden(
        self,
        make_reranker: Callable[..., rerankit.Reranker],
        conformance_config: Mapping[str, Any],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        model = self._info().config
        secret = self._secret_fields()
        plain = [n for n in model.model_fields if _SECRET_LIKE.search(n) and n not in secret]
        assert not plain, f"option(s) {plain} look like secrets: declare them as pydantic.SecretStr"
        if not secret:
            return
        caplog.set_level(logging.DEBUG)
        reranker = make_reranker(**{f: _SENTINEL for f in secret})
        values = self._secret_values(conformance_config)
        shown = {
            "repr(reranker)": repr(reranker),
            "str(reranker)": str(reranker),
            "repr(config)": repr(reranker.config),
            "str(config)": str(reranker.config),
            "config.model_dump_json()": reranker.config.model_dump_json(),
            "pickle.dumps(reranker)": pickle.dumps(reranker).decode("latin-1"),
        }
        try:  # using it: a rejected key must not be echoed by the error or the logs
            reranker.rerank_vector(data.QUERY, data.vector_results())
        except rerankit.RerankitError as exc:
            shown["the error raised"] = f"{exc!r} {exc}"
        with pytest.raises(rerankit.ConfigError) as err:
            make_reranker(**{f: _SENTINEL for f in secret}, top_n=0)
        shown["a ConfigError"] = str(err.value)
        shown["log records"] = caplog.text
        for where, text in shown.items():
            for value in values:
                assert value not in text, f"a secret leaks through {where}"

    def test_import_is_light(self, conformance_config: Mapping[str, Any]) -> None:
        """Import the plugin (and build the reranker) in a fresh interpreter: no heavy module loads."""
        script = textwrap.dedent(
            """
            import json, sys
            import rerankit
            name, config, heavy = json.loads(sys.argv[1])
            infos = rerankit.list_rerankers()
            failed = [f"{i.name}: {i.error}" for i in infos if i.status == "error"]
            stage = {"import": sorted(m for m in heavy if m in sys.modules)}
            rerankit.get_reranker(name, **config)
            stage["build"] = sorted(m for m in heavy if m in sys.modules)
            print(json.dumps({"failed": failed, **stage}))
            """
        )
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["RERANKIT_PLUGINS"] = self.distribution
        payload = json.dumps([self.name, dict(conformance_config), list(self.heavy_modules)], default=str)
        proc = subprocess.run(
            [sys.executable, "-c", script, payload], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"importing the plugin in a fresh interpreter failed:\n{proc.stderr}"
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        assert not found["failed"], f"plugin failed to load: {found['failed']}"
        assert not found["import"], (
            f"importing {self.distribution} imports {found['import']}; import them inside the method "
            "that needs them (e.g. when the model is first loaded)"
        )
        assert not found["build"], (
            f"get_reranker('{self.name}') imports {found['build']}; load models lazily, on first score"
        )

    # -- output invariants -------------------------------------------------------------------
    @pytest.mark.parametrize("return_score", ["relevance", "all"])
    @pytest.mark.parametrize("entry", _ENTRIES)
    def test_output_invariants(
        self, make_reranker: Callable[..., rerankit.Reranker], entry: str, return_score: str
    ) -> None:
        out, expected = _call(make_reranker(return_score=return_score), entry)
        checks.assert_reranked(out, expected, return_score=return_score)

    @pytest.mark.parametrize("return_score", ["relevance", "all"])
    def test_multivector_invariants(
        self, make_reranker: Callable[..., rerankit.Reranker], return_score: str
    ) -> None:
        reranker = make_reranker(return_score=return_score)
        lists = [data.vector_results(), data.second_vector_results()]
        out = reranker.rerank_multivector(lists, query=data.QUERY)
        if self._kind() == "fusion":
            expected = checks.expected_union(lists)
        else:
            expected = checks.expected_concat(lists)
            deduped = reranker.rerank_multivector(lists, query=data.QUERY, deduplicate=True)
            checks.assert_reranked(deduped, checks.expected_first_per_rowid(lists), return_score=return_score)
        checks.assert_reranked(out, expected, return_score=return_score)

    def test_plain_list_input(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker()
        if self._kind() == "scorer":
            texts = data.corpus()["text"].to_pylist()
            out = reranker.rerank(data.QUERY, texts)
            checks.assert_reranked(out, pa.table({"text": texts}))
            assert reranker.rerank(data.QUERY, []).num_rows == 0
        else:
            docs = data.fts_results().select(["_rowid", "text", "_score"]).to_pylist()
            out = reranker.rerank(data.QUERY, docs)
            checks.assert_reranked(out, pa.Table.from_pylist(docs))

    @pytest.mark.parametrize("entry", _ENTRIES)
    def test_top_n(self, make_reranker: Callable[..., rerankit.Reranker], entry: str) -> None:
        full, expected = _call(make_reranker(), entry)
        cut, _ = _call(make_reranker(top_n=3), entry)
        checks.assert_reranked(cut, expected, top_n=3)
        if self.deterministic:
            self._same(cut, full, "top_n=3 vs the head of the full ranking", head=True)
        big, _ = _call(make_reranker(top_n=1000), entry)
        checks.assert_reranked(big, expected, top_n=1000)

    @pytest.mark.parametrize("return_score", ["relevance", "all"])
    def test_empty_input(self, make_reranker: Callable[..., rerankit.Reranker], return_score: str) -> None:
        reranker = make_reranker(return_score=return_score)
        vec, fts = data.empty(data.vector_results()), data.empty(data.fts_results())
        outputs = {
            "rerank_vector": (reranker.rerank_vector(data.QUERY, vec), vec),
            "rerank_fts": (reranker.rerank_fts(data.QUERY, fts), fts),
            "rerank_hybrid": (reranker.rerank_hybrid(data.QUERY, vec, fts), checks.expected_union([vec, fts])),
            "rerank_multivector": (reranker.rerank_multivector([vec], query=data.QUERY), vec),
        }
        for what, (out, expected) in outputs.items():
            assert out.num_rows == 0, f"{what} of zero rows returned {out.num_rows}"
            checks.assert_reranked(out, expected, return_score=return_score)

    def test_rerank_own_output(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        """Reranking an already reranked table replaces ``_relevance_score`` instead of adding one."""
        reranker = make_reranker(return_score="all")
        first = reranker.rerank_vector(data.QUERY, data.vector_results())
        again = reranker.rerank_vector(data.QUERY, first)
        checks.assert_reranked(again, data.vector_results(), return_score="all")

    # -- bad input ---------------------------------------------------------------------------
    def test_missing_column(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker()
        vec, fts = data.vector_results(), data.fts_results()
        with pytest.raises(rerankit.MissingColumnError) as err:
            reranker.rerank_hybrid(data.QUERY, vec.drop_columns(["_rowid"]), fts)
        assert err.value.column == "_rowid" and "_rowid" in str(err.value)
        if self._kind() == "scorer":
            for entry, call in (
                ("vector", lambda r: r.rerank_vector(data.QUERY, vec.drop_columns(["text"]))),
                ("fts", lambda r: r.rerank_fts(data.QUERY, fts.drop_columns(["text"]))),
                ("hybrid", lambda r: r.rerank_hybrid(
                    data.QUERY, vec.drop_columns(["text"]), fts.drop_columns(["text"]))),
            ):
                with pytest.raises(rerankit.MissingColumnError) as err:
                    call(reranker)
                assert err.value.column == "text" and "'text'" in str(err.value), entry
            with pytest.raises(rerankit.MissingColumnError) as err:
                make_reranker(column="body").rerank_vector(data.QUERY, vec)
            assert err.value.column == "body" and "'body'" in str(err.value)

    def test_null_values_are_input_errors(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker()
        vec = data.vector_results()
        null_ids = vec.set_column(0, "_rowid", pa.array([1, None, 3, 4, 5, 6], pa.uint64()))
        with pytest.raises(rerankit.InputError, match="_rowid"):
            reranker.rerank_hybrid(data.QUERY, null_ids, data.fts_results())
        if self._kind() == "scorer":
            texts = vec["text"].to_pylist()
            texts[2] = None
            null_text = vec.set_column(1, "text", pa.array(texts, pa.string()))
            with pytest.raises(rerankit.InputError, match="'text'"):
                reranker.rerank_vector(data.QUERY, null_text)

    def test_query(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        """Scorers need a non-empty query (InputError otherwise); fusion ignores it."""
        reranker = make_reranker()
        if self._kind() == "scorer":
            for bad in ("", "   ", None):
                with pytest.raises(rerankit.InputError, match="query"):
                    reranker.rerank_vector(bad, data.vector_results())
        else:
            a, _ = _call(reranker, "hybrid", data.QUERY)
            b, _ = _call(reranker, "hybrid", data.OTHER_QUERY)
            self._same(a, b, "fusion output for two different queries")

    # -- parity --------------------------------------------------------------------------------
    def test_deterministic(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker()
        for entry in _ENTRIES:
            a, _ = _call(reranker, entry)
            b, _ = _call(reranker, entry)
            if self.deterministic:
                self._same(a, b, f"two identical rerank_{entry} calls")
            else:
                assert a.schema == b.schema and a.num_rows == b.num_rows

    def test_async_matches_sync(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        """Every ``arerank_*`` gives its sync twin's answer, alone or concurrently, in two event
        loops one after the other (as two ``asyncio.run`` calls in a script do)."""
        reranker = make_reranker()
        sync = {entry: _call(reranker, entry)[0] for entry in _ENTRIES}
        lists = [data.vector_results(), data.second_vector_results()]
        sync["multivector"] = reranker.rerank_multivector(lists, query=data.QUERY)
        docs = data.fts_results()
        sync["docs"] = reranker.rerank(data.QUERY, docs)

        async def run_all() -> dict[str, pa.Table]:
            one = {entry: await _acall(reranker, entry) for entry in _ENTRIES}
            one["multivector"] = await reranker.arerank_multivector(lists, query=data.QUERY)
            one["docs"] = await reranker.arerank(data.QUERY, docs)
            together = await asyncio.gather(*(_acall(reranker, entry) for entry in _ENTRIES))
            one.update({f"{e} (concurrent)": t for e, t in zip(_ENTRIES, together)})
            return one

        for loop in ("first", "second"):
            got = asyncio.run(run_all())
            if not self.deterministic:
                continue
            for what, table in got.items():
                self._same(table, sync[what.split(" ")[0]], f"arerank_{what} ({loop} event loop)")

    def test_batch_matches_single(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        reranker = make_reranker(top_n=4)
        queries = [data.QUERY, data.OTHER_QUERY, data.QUERY]
        results = [data.vector_results(), data.fts_results(), data.vector_results((9, 3, 6), start=0.2)]
        singles = [reranker.rerank(q, r) for q, r in zip(queries, results)]
        batch = reranker.rerank_batch(queries, results, max_concurrency=2)
        abatch = asyncio.run(reranker.arerank_batch(queries, results, max_concurrency=2))
        assert len(batch) == len(abatch) == 3
        for i, single in enumerate(singles):
            checks.assert_reranked(single, results[i], top_n=4)
            if self.deterministic:
                self._same(batch[i], single, f"rerank_batch item {i}")
                self._same(abatch[i], single, f"arerank_batch item {i}")
        with pytest.raises(rerankit.InputError):
            reranker.rerank_batch(queries, results[:2])

    def test_pickle_round_trip(self, make_reranker: Callable[..., rerankit.Reranker]) -> None:
        """A reranker pickles by (name, config), so it can be shipped to worker processes."""
        reranker = make_reranker(top_n=5, return_score="all")
        clone = pickle.loads(pickle.dumps(reranker))
        assert type(clone) is type(reranker) and clone.name == reranker.name
        assert public_dump(clone.config) == public_dump(reranker.config)
        if self.deterministic:
            for entry in _ENTRIES:
                self._same(
                    _call(clone, entry)[0], _call(reranker, entry)[0], f"rerank_{entry} after unpickling"
                )
