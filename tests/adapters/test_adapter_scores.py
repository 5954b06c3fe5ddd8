"""The RAG framework adapters take ``min_score``, a ``calibration`` and the ``cascade`` reranker as
any option or reranker: what each framework returns is what the reranker itself keeps, in order,
with the (calibrated) scores. Cohere against a local server speaking its wire format."""

from __future__ import annotations

import pytest
from haystack import Document as HaystackDocument
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

import rerankit
from rerankit.haystack import RerankitRanker
from rerankit.langchain import SCORE_KEY, RerankitCompressor
from rerankit.llamaindex import RerankitPostprocessor
from tests.adapters.conftest import KEY, QUERY, TEXTS, expected

CALIBRATION = {"method": "platt", "slope": 6.0, "intercept": -2.0}


def configs(server) -> dict[str, dict]:
    cohere = {"reranker": "cohere", "api_key": KEY, "base_url": server.url}
    return {
        "min_score": {**cohere, "min_score": 0.2},
        "calibrated": {**cohere, "calibration": CALIBRATION, "min_score": 0.5},
        "cascade": {"reranker": "cascade", "stages": [{**cohere, "keep": 4}, cohere], "min_score": 0.1},
    }


def same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [t for t, _ in got] == [t for t, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6)


@pytest.mark.parametrize("case", ["min_score", "calibrated", "cascade"])
def test_every_adapter_keeps_what_the_reranker_keeps(server, case):
    config = configs(server)[case]
    want = expected(rerankit.from_config(config), QUERY, TEXTS)
    assert 0 < len(want) < len(TEXTS), "the threshold should cut somewhere inside the list"
    docs = RerankitCompressor(config).compress_documents([Document(page_content=t) for t in TEXTS], QUERY)
    same([(d.page_content, d.metadata[SCORE_KEY]) for d in docs], want)
    nodes = RerankitPostprocessor(config).postprocess_nodes(
        [NodeWithScore(node=TextNode(text=t)) for t in TEXTS], query_str=QUERY
    )
    same([(n.node.get_content(), n.score) for n in nodes], want)
    ranked = RerankitRanker(config).run(QUERY, [HaystackDocument(content=t) for t in TEXTS])["documents"]
    same([(d.content, d.score) for d in ranked], want)
