"""Any rerankit reranker as a LangChain document compressor.

:class:`RerankitCompressor` is a ``langchain_core`` ``BaseDocumentCompressor``, so it goes wherever
LangChain reranks retrieved documents, ``ContextualCompressionRetriever`` included::

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from rerankit.langchain import RerankitCompressor

    compressor = RerankitCompressor("cohere", top_n=5)          # or a built reranker, a config
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=base)
    docs = retriever.invoke("query")        # best first; metadata["relevance_score"] holds the score

Needs ``pip install 'rerankit[langchain]'``; ``import rerankit`` never imports LangChain. (Imports
here are absolute, so this module's name never shadows the real package.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rerankit import Reranker
from rerankit import _adapters as shared
from rerankit._adapters import Ranked, RerankerSource

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
    from pydantic import ConfigDict
except ImportError as exc:
    raise shared.framework_missing("rerankit.langchain", "langchain-core", "langchain", exc) from exc

__all__ = ["SCORE_KEY", "RerankitCompressor"]

#: The metadata key each returned document's rerankit score is stored under (as LangChain's Cohere
#: reranker does); a score already there from an earlier reranker is replaced.
SCORE_KEY = "relevance_score"


class RerankitCompressor(BaseDocumentCompressor):
    """Rerank LangChain ``Document`` s with a rerankit reranker; best first, each scored.

    ``reranker`` is a built :class:`~rerankit.Reranker`, a registered name (``options`` go to
    :func:`rerankit.get_reranker`), a config mapping or a ``pathlib.Path`` to a config file.
    ``column`` chooses the text: None reads ``page_content``, a name reads that ``metadata`` key.
    ``top_n`` keeps the best n (None keeps all; the reranker's own ``top_n`` applies as well).
    Returned documents are copies with every metadata key kept and the score under
    :data:`SCORE_KEY`; the input documents are not modified.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: Reranker
    column: str | None = None
    top_n: int | None = None

    def __init__(
        self,
        reranker: RerankerSource,
        *,
        column: str | None = None,
        top_n: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            reranker=shared.text_reranker(reranker, options, "RerankitCompressor"),
            column=column,
            top_n=shared.check_top_n(top_n, "RerankitCompressor(top_n=...)"),
        )

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Rerank ``documents`` for ``query``; no documents, no call."""
        return self._scored(documents, shared.rank_texts(self.reranker, query, self._texts(documents), self.top_n))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The async twin: hosted rerankers send their requests without blocking the event loop."""
        ranking = await shared.arank_texts(self.reranker, query, self._texts(documents), self.top_n)
        return self._scored(documents, ranking)

    def _texts(self, documents: Sequence[Document]) -> list[str]:
        return [
            shared.document_text(
                "document", i, doc.page_content, doc.metadata, self.column,
                content_field="page_content", metadata_field="metadata",
            )
            for i, doc in enumerate(documents)
        ]

    @staticmethod
    def _scored(documents: Sequence[Document], ranking: list[Ranked]) -> list[Document]:
        return [
            documents[r.index].model_copy(update={"metadata": {**documents[r.index].metadata, SCORE_KEY: r.score}})
            for r in ranking
        ]
