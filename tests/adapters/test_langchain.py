"""RerankitCompressor inside LangChain's ContextualCompressionRetriever over an InMemoryVectorStore."""

from __future__ import annotations

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore

import rerankit
from rerankit.langchain import SCORE_KEY, RerankitCompressor
from tests.adapters.conftest import METAS, QUERY, TEXTS, expected


@pytest.fixture(scope="module")
def store() -> InMemoryVectorStore:
    store = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=8))
    store.add_documents([Document(page_content=t, metadata=m) for t, m in zip(TEXTS, METAS)],
                        ids=[f"doc-{i}" for i in range(len(TEXTS))])
    return store


def base(store: InMemoryVectorStore, k: int = 8):
    return store.as_retriever(search_kwargs={"k": k})


async def retrieve(retriever, mode: str) -> list[Document]:
    return await retriever.ainvoke(QUERY) if mode == "async" else retriever.invoke(QUERY)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_retriever_ranks_as_the_reranker_does(
    store: InMemoryVectorStore, scorer: rerankit.Reranker, mode: str
) -> None:
    candidates = base(store).invoke(QUERY)
    retriever = ContextualCompressionRetriever(base_compressor=RerankitCompressor(scorer), base_retriever=base(store))
    out = await retrieve(retriever, mode)

    assert [(d.page_content, d.metadata[SCORE_KEY]) for d in out] == expected(
        scorer, QUERY, [d.page_content for d in candidates]
    )
    by_id = {d.id: d for d in candidates}
    assert sorted(d.id for d in out) == sorted(by_id)
    for doc in out:
        original = by_id[doc.id]
        assert doc.metadata == {**original.metadata, SCORE_KEY: doc.metadata[SCORE_KEY]}
        assert SCORE_KEY not in original.metadata  # the retrieved documents were not modified
    assert len({d.metadata[SCORE_KEY] for d in out}) > 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_top_n_and_a_metadata_column(store: InMemoryVectorStore, scorer: rerankit.Reranker, mode: str) -> None:
    candidates = base(store).invoke(QUERY)
    compressor = RerankitCompressor(scorer, column="title", top_n=3)
    out = await retrieve(ContextualCompressionRetriever(base_compressor=compressor, base_retriever=base(store)), mode)

    want = expected(scorer, QUERY, [d.metadata["title"] for d in candidates])[:3]
    assert [(d.metadata["title"], d.metadata[SCORE_KEY]) for d in out] == want
    assert all(d.page_content == TEXTS[d.metadata["n"]] for d in out)


def test_documents_without_the_chosen_text_are_refused(scorer: rerankit.Reranker, server) -> None:
    docs = [Document(page_content="heat", metadata={"title": "heat"}), Document(page_content="wing", metadata={})]
    with pytest.raises(rerankit.MissingColumnError, match=r"document 1 has no metadata field 'title'") as info:
        RerankitCompressor(scorer, column="title").compress_documents(docs, QUERY)
    assert info.value.column == "title"
    docs[1].metadata["title"] = None
    with pytest.raises(rerankit.InputError, match=r"document 1 has no text in metadata\['title'\] \(it is None\)"):
        RerankitCompressor(scorer, column="title").compress_documents(docs, QUERY)
    assert server.attempts == 0


async def test_no_documents_no_call(scorer: rerankit.Reranker, server) -> None:
    compressor = RerankitCompressor(scorer)
    assert compressor.compress_documents([], QUERY) == []
    assert await compressor.acompress_documents([], QUERY) == []
    assert server.attempts == 0

