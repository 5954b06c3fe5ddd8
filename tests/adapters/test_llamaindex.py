"""RerankitPostprocessor as a LlamaIndex query engine's node postprocessor over a VectorStoreIndex."""

from __future__ import annotations

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, Node, NodeWithScore, TextNode

import rerankit
from rerankit.llamaindex import RerankitPostprocessor
from tests.adapters.conftest import METAS, QUERY, TEXTS, expected


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    nodes = [TextNode(id_=f"node-{i}", text=t, metadata=m) for i, (t, m) in enumerate(zip(TEXTS, METAS))]
    return VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))


async def query(index: VectorStoreIndex, post: RerankitPostprocessor, mode: str) -> list[NodeWithScore]:
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=8), llm=MockLLM(), node_postprocessors=[post]
    )
    response = await engine.aquery(QUERY) if mode == "async" else engine.query(QUERY)
    return response.source_nodes


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_query_engine_ranks_as_the_reranker_does(
    index: VectorStoreIndex, scorer: rerankit.Reranker, mode: str
) -> None:
    candidates = index.as_retriever(similarity_top_k=8).retrieve(QUERY)
    out = await query(index, RerankitPostprocessor(scorer), mode)

    want = expected(scorer, QUERY, [n.get_content() for n in candidates])
    assert [(n.node.get_content(), n.score) for n in out] == want
    stored = {n.node.node_id: n.node for n in candidates}
    assert sorted(n.node.node_id for n in out) == sorted(stored)
    for n in out:
        assert n.node.metadata == METAS[int(n.node.node_id.split("-")[1])]
    assert len({n.score for n in out}) > 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_top_n_and_a_metadata_column(index: VectorStoreIndex, scorer: rerankit.Reranker, mode: str) -> None:
    candidates = index.as_retriever(similarity_top_k=8).retrieve(QUERY)
    out = await query(index, RerankitPostprocessor(scorer, column="title", top_n=3), mode)
    want = expected(scorer, QUERY, [n.node.metadata["title"] for n in candidates])[:3]
    assert [(n.node.metadata["title"], n.score) for n in out] == want


async def test_retrieved_nodes_postprocessed_directly(index: VectorStoreIndex, scorer: rerankit.Reranker) -> None:
    nodes = index.as_retriever(similarity_top_k=5).retrieve(QUERY)
    before = [(n.node, n.score) for n in nodes]
    post = RerankitPostprocessor(scorer, top_n=2)
    out = post.postprocess_nodes(nodes, query_str=QUERY)
    want = expected(scorer, QUERY, [n.get_content() for n in nodes])[:2]
    assert [(n.node.get_content(), n.score) for n in out] == want
    assert await post.apostprocess_nodes(nodes, query_str=QUERY) == out
    assert [(n.node, n.score) for n in nodes] == before  # the retriever's NodeWithScores are unchanged


def test_metadata_mode_puts_metadata_in_the_text(scorer: rerankit.Reranker) -> None:
    node = TextNode(text="heat transfer", metadata={"title": "wing"})
    out = RerankitPostprocessor(scorer, metadata_mode=MetadataMode.ALL).postprocess_nodes(
        [NodeWithScore(node=node)], query_str=QUERY
    )
    assert out[0].score == expected(scorer, QUERY, [node.get_content(metadata_mode=MetadataMode.ALL)])[0][1]


def test_nodes_without_text_and_calls_without_a_query_are_refused(scorer: rerankit.Reranker, server) -> None:
    post = RerankitPostprocessor(scorer)
    empty = [NodeWithScore(node=TextNode(text="heat")), NodeWithScore(node=Node())]
    with pytest.raises(rerankit.InputError, match=r"node 1 has no text in text \(it is None\)"):
        post.postprocess_nodes(empty, query_str=QUERY)
    with pytest.raises(rerankit.InputError, match="needs the query: pass query_str="):
        post.postprocess_nodes([NodeWithScore(node=TextNode(text="heat"))])
    with pytest.raises(rerankit.MissingColumnError, match="node 0 has no metadata field 'title'"):
        RerankitPostprocessor(scorer, column="title").postprocess_nodes(empty, query_str=QUERY)
    assert server.attempts == 0


async def test_no_nodes_no_call(scorer: rerankit.Reranker, server) -> None:
    post = RerankitPostprocessor(scorer)
    assert post.postprocess_nodes([], query_str=QUERY) == []
    assert await post.apostprocess_nodes([], query_str=QUERY) == []
    assert server.attempts == 0
