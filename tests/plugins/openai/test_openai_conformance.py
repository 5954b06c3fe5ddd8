"""rerankit-openai under both conformance suites, against a local chat-completions server.

The hosted suite's tests that assume a rerank API's body (``query``, ``documents``, ``top_n``, a
results list) are replaced by their chat-completions equivalents in ``TestOpenAIHosted``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pytest

import rerankit
from rerankit.testing import FakeRerankServer, Fault, RerankerConformance, fake_score
from rerankit.testing.chat import ChatDialect, edit_json
from rerankit.testing.hosted import KEY, HostedRerankerConformance, docs

from .fake_llm import FakeJudge, labels_of, read_prompt


class JudgeDialect(ChatDialect):
    def __init__(self) -> None:
        super().__init__(FakeJudge())


@pytest.fixture(scope="module")
def chat_server():
    with FakeRerankServer(JudgeDialect(), api_key=KEY) as server:
        yield server


class TestOpenAIConformance(RerankerConformance):
    name = "openai"
    distribution = "rerankit-openai"
    env: ClassVar[dict] = {"OPENAI_API_KEY": KEY}

    @pytest.fixture
    def conformance_config(self, chat_server):
        return {"base_url": chat_server.url + "/v1"}


class TestOpenAIHosted(HostedRerankerConformance):
    name = "openai"
    dialect = JudgeDialect
    env_vars = ("OPENAI_API_KEY",)
    top_n_field = None
    results_key = "choices"

    def make(self, server: FakeRerankServer, **options: Any) -> Any:
        return super().make(server, **{"base_url": server.url + "/v1", **options})

    def test_rerank_scores_every_row(self, server: FakeRerankServer) -> None:
        texts = docs(12)
        out = self.make(server).rerank("solar panel cost", texts)
        assert out.num_rows == 12 and sorted(out["text"].to_pylist()) == sorted(texts)
        for row in out.to_pylist():
            assert np.float32(row["_relevance_score"]) == np.float32(fake_score("solar panel cost", row["text"]))
        assert server.attempts == 1
        seen = server.seen[0]
        assert seen.path == "/v1/chat/completions"
        assert seen.headers.get("Authorization") == f"Bearer {KEY}"
        prompt = read_prompt(seen.body)
        assert prompt.query == "solar panel cost" and list(prompt.documents.values()) == texts

    def test_bad_rankings_are_rejected(self, server: FakeRerankServer) -> None:
        """Wrong twice (the split halves too): every label checked, the error names the problem."""
        cases = {
            "missing": lambda o: {k: v for k, v in o.items() if k != "d2"},
            "unknown": lambda o: {**o, "d99": 1.0},
            "out of range": lambda o: {**o, "d1": 10.5},
            "string": lambda o: {**o, "d1": "5"},
        }
        for problem, edit in cases.items():
            server.reset()
            server.script(*[Fault.change(edit_json(edit))] * 3)
            with pytest.raises(rerankit.ProviderResponseError) as info:
                self.make(server).rerank("q", docs(5))
            # the window, then its first half (wrong again: the second half is not sent)
            assert info.value.provider == self.name and server.attempts == 2, problem
            assert "documents 0-4" in str(info.value) and "split in half" in str(info.value)

    def test_fewer_rows_than_top_n_is_an_error(self, server: FakeRerankServer) -> None:
        """No top_n is sent to a chat model: every row is rated, the cut is the reranker's own."""
        out = self.make(server, top_n=3).rerank("solar", docs(10))
        assert out.num_rows == 3 and server.attempts == 1
        assert labels_of(server.seen[0].body) == [f"d{i}" for i in range(1, 11)]
        assert "top_n" not in json.dumps(server.seen[0].body)

    def test_split_above_the_request_limit(self, server: FakeRerankServer) -> None:
        """Windows of window_size documents, each labelled d1..dN, reassembled in input order."""
        server.latency = 0.05  # answers overlap, so the windows' concurrency is visible
        texts = docs(23, 4)
        q = "solar roof install"
        out = self.make(server, window_size=5, max_concurrency=3).rerank(q, texts)
        assert out.num_rows == 23 and server.attempts == 5
        windows = sorted((read_prompt(s.body) for s in server.seen), key=lambda p: texts.index(p.documents["d1"]))
        assert [list(p.documents) for p in windows] == [[f"d{i}" for i in range(1, n + 1)] for n in (5, 5, 5, 5, 3)]
        assert [t for p in windows for t in p.documents.values()] == texts
        for row in out.to_pylist():
            assert np.float32(row["_relevance_score"]) == np.float32(fake_score(q, row["text"]))
        assert 1 < server.max_in_flight <= 3


class TestOpenAIListwiseConformance(RerankerConformance):
    """method='listwise' keeps every promise a reranker makes (rows, top_n, return_score, async, batch)."""

    name = "openai"
    distribution = "rerankit-openai"
    env: ClassVar[dict] = {"OPENAI_API_KEY": KEY}
    # the plugin's import and its key handling do not depend on the method: TestOpenAIConformance
    # runs these two (each starts a Python process), so they are not repeated here
    test_import_is_light = None
    test_secrets_hidden = None

    @pytest.fixture
    def conformance_config(self, chat_server):
        return {"base_url": chat_server.url + "/v1", "method": "listwise", "window_size": 4}
