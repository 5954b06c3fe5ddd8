"""One module per rerank wire format, shared by the fake servers and the real server.

:mod:`rerankit.testing` answers tests with these dialects (``FakeRerankServer``) and
:mod:`rerankit.serve` answers clients with the three it serves: ``cohere`` (``/v2/rerank``),
``jina`` (``/v1/rerank``, the shape vLLM and Infinity also serve) and ``tei`` (``/rerank``). A new
wire format is a new module here and an entry in :data:`DIALECTS`. OpenAI's chat completions and
embeddings (:mod:`.openai_chat`, :mod:`.openai_embeddings`, sharing :mod:`.openai`'s error shape)
live here too, outside :data:`DIALECTS`: each answers with a fake model, so it is made with one
(``rerankit.testing.chat`` / ``rerankit.testing.embeddings`` re-export them with their mutators).
"""

from __future__ import annotations

from .base import TEXT, Dialect, Reject, Request, pydantic_error, uid
from .cohere import CohereDialect
from .infinity import InfinityDialect
from .jina import JinaDialect
from .mixedbread import MixedbreadDialect
from .pinecone import PineconeDialect
from .tei import TEIDialect
from .together import TogetherDialect
from .vllm import VLLMDialect
from .voyage import VoyageDialect

DIALECTS: dict[str, type[Dialect]] = {
    d.name: d
    for d in (
        CohereDialect, JinaDialect, VoyageDialect, TEIDialect, InfinityDialect, VLLMDialect,
        TogetherDialect, MixedbreadDialect, PineconeDialect,
    )
}

__all__ = [
    "DIALECTS",
    "TEXT",
    "CohereDialect",
    "Dialect",
    "InfinityDialect",
    "JinaDialect",
    "MixedbreadDialect",
    "PineconeDialect",
    "Reject",
    "Request",
    "TEIDialect",
    "TogetherDialect",
    "VLLMDialect",
    "VoyageDialect",
    "pydantic_error",
    "uid",
]
