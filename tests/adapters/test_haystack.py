"""RerankitRanker in a Haystack Pipeline after an InMemoryBM25Retriever; serialization by name."""

from __future__ import annotations

import json

import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

import rerankit
from rerankit.haystack import RerankitRanker
from tests.adapters.conftest import KEY, METAS, QUERY, TEXTS, expected

ALLOWED = ["rerankit.haystack"]  # Haystack 3 loads components only from modules the caller allows


@pytest.fixture(scope="module")
def store() -> InMemoryDocumentStore:
    store = InMemoryDocumentStore()
    store.write_documents([Document(id=f"doc-{i}", content=t, meta=m) for i, (t, m) in enumerate(zip(TEXTS, METAS))])
    return store


def pipeline(store: InMemoryDocumentStore, ranker: RerankitRanker) -> Pipeline:
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=8))
    pipe.add_component("ranker", ranker)
    pipe.connect("retriever.documents", "ranker.documents")
    return pipe


async def run(pipe: Pipeline, mode: str, **ranker_inputs) -> list[Document]:
    data = {"retriever": {"query": QUERY}, "ranker": {"query": QUERY, **ranker_inputs}}
    out = await pipe.run_async(data) if mode == "async" else pipe.run(data)
    return out["ranker"]["documents"]


def retrieved(store: InMemoryDocumentStore) -> list[Document]:
    return InMemoryBM25Retriever(document_store=store, top_k=8).run(query=QUERY)["documents"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_pipeline_ranks_as_the_reranker_does(
    store: InMemoryDocumentStore, scorer: rerankit.Reranker, mode: str
) -> None:
    candidates = retrieved(store)
    out = await run(pipeline(store, RerankitRanker(scorer)), mode)

    assert [(d.content, d.score) for d in out] == expected(scorer, QUERY, [d.content for d in candidates])
    by_id = {d.id: d for d in candidates}
    assert sorted(d.id for d in out) == sorted(by_id)
    for doc in out:
        assert doc.meta == METAS[doc.meta["n"]] == by_id[doc.id].meta
    assert [d.score for d in out] != [by_id[d.id].score for d in out]  # BM25's scores were replaced
    assert len({d.score for d in out}) > 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_top_k_and_a_meta_column(store: InMemoryDocumentStore, scorer: rerankit.Reranker, mode: str) -> None:
    candidates = retrieved(store)
    pipe = pipeline(store, RerankitRanker(scorer, column="title", top_k=3))
    want = expected(scorer, QUERY, [d.meta["title"] for d in candidates])
    assert [(d.meta["title"], d.score) for d in await run(pipe, mode)] == want[:3]
    assert [(d.meta["title"], d.score) for d in await run(pipe, mode, top_k=2)] == want[:2]  # run() overrides


def test_round_trip_by_name_without_the_key(
    store: InMemoryDocumentStore, server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    ranker = RerankitRanker("cohere", api_key=KEY, base_url=server.url, top_n=5, top_k=4, column="title")
    data = ranker.to_dict()
    assert data == {
        "type": "rerankit.haystack.RerankitRanker",
        "init_parameters": {"reranker": data["init_parameters"]["reranker"], "top_k": 4, "column": "title"},
    }
    assert {k: data["init_parameters"]["reranker"][k] for k in ("reranker", "base_url", "top_n")} == {
        "reranker": "cohere", "base_url": server.url, "top_n": 5,
    }
    pipe = pipeline(store, ranker)
    dumped = pipe.dumps()
    assert KEY not in json.dumps(data) and KEY not in dumped and "api_key" not in dumped

    keyless = RerankitRanker.from_dict(data)  # the key was never written down: the server refuses
    with pytest.raises(rerankit.AuthenticationError):
        keyless.run(query=QUERY, documents=retrieved(store))
    monkeypatch.setenv("CO_API_KEY", KEY)
    server.reset()
    again = RerankitRanker.from_dict(data)
    assert again.to_dict() == data
    loaded = Pipeline.loads(dumped, allowed_modules=ALLOWED)
    want = pipe.run({"retriever": {"query": QUERY}, "ranker": {"query": QUERY}})
    got = loaded.run({"retriever": {"query": QUERY}, "ranker": {"query": QUERY}})
    assert [(d.id, d.score) for d in got["ranker"]["documents"]] == [
        (d.id, d.score) for d in want["ranker"]["documents"]
    ]
    assert len(got["ranker"]["documents"]) == 4  # the server accepted the key read from CO_API_KEY


def test_documents_without_text_are_refused(scorer: rerankit.Reranker, server) -> None:
    docs = [Document(content="heat", meta={"title": "heat"}), Document(meta={"title": "wing"})]
    with pytest.raises(rerankit.InputError, match=r"document 1 has no text in content \(it is None\)"):
        RerankitRanker(scorer).run(query=QUERY, documents=docs)
    with pytest.raises(rerankit.MissingColumnError, match="document 0 has no meta field 'kind'"):
        RerankitRanker(scorer, column="kind").run(query=QUERY, documents=docs)
    with pytest.raises(rerankit.InputError, match=r"run\(top_k=...\) must be a positive integer"):
        RerankitRanker(scorer).run(query=QUERY, documents=docs[:1], top_k=0)
    assert server.attempts == 0


async def test_no_documents_no_call(scorer: rerankit.Reranker, server) -> None:
    ranker = RerankitRanker(scorer)
    assert ranker.run(query=QUERY, documents=[]) == {"documents": []}
    assert await ranker.run_async(query=QUERY, documents=[]) == {"documents": []}
    assert server.attempts == 0
