"""What the three adapters share: the reranker given four ways, bad arguments, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import rerankit
from tests.adapters.conftest import KEY, QUERY, TEXTS, expected


@dataclass(frozen=True)
class Adapter:
    """One framework adapter: how to build it and how to rank plain texts through it."""

    cls: Callable[..., Any]
    top: str  # the adapter's own keyword for "keep the best n"
    rank: Callable[[Any, list[str]], list[tuple[str, float]]]


def _langchain() -> Adapter:
    from langchain_core.documents import Document

    from rerankit.langchain import SCORE_KEY, RerankitCompressor

    def rank(adapter: Any, texts: list[str]) -> list[tuple[str, float]]:
        docs = adapter.compress_documents([Document(page_content=t) for t in texts], QUERY)
        return [(d.page_content, d.metadata[SCORE_KEY]) for d in docs]

    return Adapter(RerankitCompressor, "top_n", rank)


def _llamaindex() -> Adapter:
    from llama_index.core.schema import NodeWithScore, TextNode

    from rerankit.llamaindex import RerankitPostprocessor

    def rank(adapter: Any, texts: list[str]) -> list[tuple[str, float]]:
        nodes = adapter.postprocess_nodes([NodeWithScore(node=TextNode(text=t)) for t in texts], query_str=QUERY)
        return [(n.node.get_content(), n.score) for n in nodes]

    return Adapter(RerankitPostprocessor, "top_n", rank)


def _haystack() -> Adapter:
    from haystack import Document

    from rerankit.haystack import RerankitRanker

    def rank(adapter: Any, texts: list[str]) -> list[tuple[str, float]]:
        docs = adapter.run(query=QUERY, documents=[Document(content=t) for t in texts])["documents"]
        return [(d.content, d.score) for d in docs]

    return Adapter(RerankitRanker, "top_k", rank)


ADAPTERS = {"langchain": _langchain, "llamaindex": _llamaindex, "haystack": _haystack}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return ADAPTERS[request.param]()


def test_a_built_reranker_a_name_a_mapping_or_a_file(
    adapter: Adapter, server, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CO_API_KEY", KEY)
    reference = rerankit.get_reranker("cohere", base_url=server.url, top_n=4)
    want = expected(reference, QUERY, TEXTS)
    ways = {
        "built": adapter.cls(reference),
        "name": adapter.cls("cohere", base_url=server.url, **{adapter.top: 4}),
        "mapping": adapter.cls({"reranker": "cohere", "base_url": server.url, "top_n": 4}),
        "mapping + options": adapter.cls({"reranker": "cohere", "top_n": 4}, base_url=server.url),
        "file": adapter.cls(config_file),  # top_n = 4 in the file
        "name with the key": adapter.cls("cohere", api_key=KEY, base_url=server.url, **{adapter.top: 4}),
    }
    server.reset()
    for way, built in ways.items():
        assert adapter.rank(built, TEXTS) == want, way
        assert KEY not in repr(built) and KEY not in str(built), way
    assert server.attempts == len(ways)
    assert adapter.rank(adapter.cls(reference, **{adapter.top: 2}), TEXTS) == want[:2]


def test_bad_arguments_are_config_errors(adapter: Adapter, tiny_ce: str, config_file: Path) -> None:
    built = rerankit.get_reranker("rrf")
    with pytest.raises(rerankit.ConfigError, match=r"got options \(K\) with an already built reranker"):
        adapter.cls(built, K=10)
    with pytest.raises(rerankit.ConfigError, match="takes a config file or keyword options, not both"):
        adapter.cls(config_file, model_name="rerank-v3.5")
    with pytest.raises(rerankit.ConfigError, match="needs a rerankit reranker, a reranker name, a config mapping"):
        adapter.cls(42)
    with pytest.raises(rerankit.ConfigError, match=r"column option is the template '\{title\}: \{text\}'"):
        adapter.cls({"reranker": "crossencoder", "model_name": tiny_ce, "column": "{title}: {text}"})
    with pytest.raises(rerankit.ConfigError, match=rf"{adapter.top}=...\) must be a positive integer"):
        adapter.cls(built, **{adapter.top: 0})
    with pytest.raises(rerankit.UnknownRerankerError):
        adapter.cls("no-such-reranker")


def test_a_fusion_reranker_keeps_the_retrieval_order(adapter: Adapter) -> None:
    """A single list gives rank fusion nothing to fuse: rrf scores each text 1 / (K + rank)."""
    texts = TEXTS[:4]
    assert adapter.rank(adapter.cls("rrf", K=10), texts) == [(t, pytest.approx(1 / (10 + i), rel=1e-6))
                                                            for i, t in enumerate(texts, 1)]


def test_importing_rerankit_imports_no_framework() -> None:
    """All three frameworks are installed here; ``import rerankit`` still loads none of them."""
    code = (
        "import sys, rerankit, rerankit.lancedb, rerankit._cli\n"
        "rerankit.list_rerankers()\n"
        "frameworks = ('langchain_core', 'llama_index', 'haystack')\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
        "import rerankit.langchain\n"
        "print(sorted(m for m in frameworks if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split("\n")[:2] == ["[]", "['langchain_core']"]


def test_passages_reach_the_framework_adapters(adapter: Adapter, server) -> None:
    """A reranker with ``passages`` ranks each framework's documents by their best passage."""
    long_texts = [" ".join([t] * 12) for t in TEXTS[:4]]  # each several 10-word passages long
    reference = rerankit.get_reranker(
        "cohere", api_key=KEY, base_url=server.url, passages={"max_length": 16, "stride": 0}
    )
    want = expected(reference, QUERY, long_texts)
    server.reset()
    got = adapter.rank(adapter.cls(reference), long_texts)
    assert got == want
    sent = [d for s in server.seen for d in s.body["documents"]]
    assert sent and all(len(d.split()) <= 10 for d in sent)  # passages went out, not whole texts
