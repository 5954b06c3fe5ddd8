"""What the hosted plugins' own tests share: one fake server per module, reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import rerankit
from rerankit.testing import FakeRerankServer
from rerankit.testing.hosted import KEY

FAST = {"backoff_base": 0.001, "backoff_max": 0.005}


def reranker(name: str, server: FakeRerankServer, **options: Any) -> rerankit.Reranker:
    """``name`` pointed at ``server``, with the test key and quick retries (options override)."""
    return rerankit.get_reranker(name, **{"api_key": KEY, "base_url": server.url, **FAST, **options})


def shared_server(dialect: Any, *env_vars: str, api_key: str | None = KEY) -> Any:
    """A ``server`` fixture: one fake per module, forgotten requests and fresh limits per test,
    and the plugin's key variables unset."""

    @pytest.fixture(scope="module", name="module_server")
    def module_server() -> Iterator[FakeRerankServer]:
        with FakeRerankServer(dialect, api_key=api_key) as server:
            yield server

    @pytest.fixture(name="server")
    def server(module_server: FakeRerankServer, monkeypatch: pytest.MonkeyPatch) -> FakeRerankServer:
        for var in env_vars:
            monkeypatch.delenv(var, raising=False)
        module_server.reset()
        module_server.api_key = api_key
        module_server.dialect = type(module_server.dialect)()
        return module_server

    return module_server, server  # assign both, under these names, in the test module
