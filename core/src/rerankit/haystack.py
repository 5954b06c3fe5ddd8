"""Any rerankit reranker as a Haystack ranker component.

:class:`RerankitRanker` is a Haystack component (``run(query, documents, top_k=None)`` and
``run_async``), so it goes after any retriever in a ``Pipeline`` or ``AsyncPipeline``::

    from haystack import Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from rerankit.haystack import RerankitRanker

    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=20))
    pipe.add_component("ranker", RerankitRanker("cohere", top_k=5))
    pipe.connect("retriever.documents", "ranker.documents")
    pipe.run({"retriever": {"query": "q"}, "ranker": {"query": "q"}})["ranker"]["documents"]

It serializes by reranker name and public config (``to_dict`` / ``from_dict``, so pipelines dump
to YAML); API keys are never written and are read from the environment when the pipeline is loaded.
Needs ``pip install 'rerankit[haystack]'``; ``import rerankit`` never imports Haystack. (Imports
here are absolute, so this module's name never shadows the real package.)
"""

# No ``from __future__ import annotations`` here: Haystack 2 reads run()'s annotations at runtime.

import dataclasses
from typing import Any, Optional

from rerankit import InputError, Reranker
from rerankit import _adapters as shared
from rerankit._adapters import Ranked, RerankerSource

try:
    from haystack import Document, component, default_from_dict, default_to_dict
except ImportError as exc:
    raise shared.framework_missing("rerankit.haystack", "haystack-ai", "haystack", exc) from exc

__all__ = ["RerankitRanker"]


@component
class RerankitRanker:
    """Rank Haystack ``Document`` s with a rerankit reranker; best first, ``Document.score`` its score.

    ``reranker`` is a built :class:`~rerankit.Reranker`, a registered name (``options`` go to
    :func:`rerankit.get_reranker`), a config mapping or a ``pathlib.Path`` to a config file.
    ``column`` chooses the text: None reads ``content``, a name reads that ``meta`` key. ``top_k``
    keeps the best k (None keeps all; ``run(top_k=...)`` overrides it per call; the reranker's own
    ``top_n`` applies as well). Returned documents are copies with ``score`` set and ``meta`` kept.
    """

    def __init__(
        self,
        reranker: RerankerSource,
        *,
        top_k: Optional[int] = None,
        column: Optional[str] = None,
        **options: Any,
    ) -> None:
        self.reranker: Reranker = shared.text_reranker(reranker, options, "RerankitRanker")
        self.top_k = shared.check_top_n(top_k, "RerankitRanker(top_k=...)")
        self.column = column

    def to_dict(self) -> dict[str, Any]:
        """The component as Haystack's dict: the reranker by name and public config, no secrets."""
        reranker = shared.config_mapping(self.reranker)
        return default_to_dict(self, reranker=reranker, top_k=self.top_k, column=self.column)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RerankitRanker":
        """Rebuild from :meth:`to_dict`'s output; API keys come from the environment."""
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: Optional[int] = None) -> dict[str, list[Document]]:
        """Rerank ``documents`` for ``query``: ``{"documents": [...]}``, best first; none in, none out."""
        texts = self._texts(documents)
        return self._scored(documents, shared.rank_texts(self.reranker, query, texts, self._top_k(top_k)))

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, documents: list[Document], top_k: Optional[int] = None
    ) -> dict[str, list[Document]]:
        """The async twin of :meth:`run`, for ``AsyncPipeline``."""
        texts = self._texts(documents)
        return self._scored(documents, await shared.arank_texts(self.reranker, query, texts, self._top_k(top_k)))

    def _top_k(self, top_k: Optional[int]) -> Optional[int]:
        return self.top_k if top_k is None else shared.check_top_n(top_k, "RerankitRanker.run(top_k=...)", InputError)

    def _texts(self, documents: list[Document]) -> list[str]:
        return [
            shared.document_text(
                "document", i, doc.content, doc.meta, self.column, content_field="content", metadata_field="meta"
            )
            for i, doc in enumerate(documents)
        ]

    @staticmethod
    def _scored(documents: list[Document], ranking: list[Ranked]) -> dict[str, list[Document]]:
        return {"documents": [dataclasses.replace(documents[r.index], score=r.score) for r in ranking]}
