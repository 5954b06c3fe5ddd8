"""Any rerankit reranker as a LlamaIndex node postprocessor.

:class:`RerankitPostprocessor` is a ``llama_index.core`` ``BaseNodePostprocessor``, so it goes in a
query engine's ``node_postprocessors`` or reranks a retriever's nodes directly::

    from rerankit.llamaindex import RerankitPostprocessor

    rerank = RerankitPostprocessor("crossencoder", model_name="cross-encoder/ms-marco-MiniLM-L6-v2", top_n=3)
    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])
    nodes = rerank.postprocess_nodes(index.as_retriever().retrieve("query"), query_str="query")

Needs ``pip install 'rerankit[llamaindex]'``; ``import rerankit`` never imports LlamaIndex.
"""

from __future__ import annotations

from typing import Any

from rerankit import InputError, Reranker
from rerankit import _adapters as shared
from rerankit._adapters import Ranked, RerankerSource

try:
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, Node, NodeWithScore, QueryBundle
except ImportError as exc:
    raise shared.framework_missing("rerankit.llamaindex", "llama-index-core", "llamaindex", exc) from exc

__all__ = ["RerankitPostprocessor"]


class RerankitPostprocessor(BaseNodePostprocessor):
    """Rerank LlamaIndex nodes with a rerankit reranker; best first, ``NodeWithScore.score`` its score.

    ``reranker`` is a built :class:`~rerankit.Reranker`, a registered name (``options`` go to
    :func:`rerankit.get_reranker`), a config mapping or a ``pathlib.Path`` to a config file.
    ``column`` chooses the text: None reads the node's content (``get_content(metadata_mode)``,
    by default without metadata), a name reads that ``metadata`` key. ``top_n`` keeps the best n
    (None keeps all; the reranker's own ``top_n`` applies as well). The nodes themselves are
    passed on untouched (same objects, metadata intact) in new ``NodeWithScore`` s.
    """

    reranker: Reranker
    column: str | None = None
    top_n: int | None = None
    metadata_mode: MetadataMode = MetadataMode.NONE

    def __init__(
        self,
        reranker: RerankerSource,
        *,
        column: str | None = None,
        top_n: int | None = None,
        metadata_mode: MetadataMode = MetadataMode.NONE,
        **options: Any,
    ) -> None:
        super().__init__(
            reranker=shared.text_reranker(reranker, options, "RerankitPostprocessor"),
            column=column,
            top_n=shared.check_top_n(top_n, "RerankitPostprocessor(top_n=...)"),
            metadata_mode=metadata_mode,
        )

    @classmethod
    def class_name(cls) -> str:
        return "RerankitPostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        ranking = shared.rank_texts(self.reranker, self._query(query_bundle), self._texts(nodes), self.top_n)
        return self._scored(nodes, ranking)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        ranking = await shared.arank_texts(self.reranker, self._query(query_bundle), self._texts(nodes), self.top_n)
        return self._scored(nodes, ranking)

    @staticmethod
    def _query(query_bundle: QueryBundle | None) -> str:
        if query_bundle is None:
            raise InputError(
                "RerankitPostprocessor needs the query: pass query_str= (or query_bundle=) to "
                "postprocess_nodes; query engines pass it themselves"
            )
        return query_bundle.query_str

    def _texts(self, nodes: list[NodeWithScore]) -> list[str]:
        return [
            shared.document_text(
                "node", i, _content(n.node, self.metadata_mode), n.node.metadata, self.column,
                content_field="text", metadata_field="metadata",
            )
            for i, n in enumerate(nodes)
        ]

    @staticmethod
    def _scored(nodes: list[NodeWithScore], ranking: list[Ranked]) -> list[NodeWithScore]:
        return [NodeWithScore(node=nodes[r.index].node, score=r.score) for r in ranking]


def _content(node: Any, mode: MetadataMode) -> str | None:
    """The node's text, or None for a node that holds none (a ``Node`` without a text resource)."""
    if isinstance(node, Node) and (node.text_resource is None or node.text_resource.text is None):
        return None
    return node.get_content(metadata_mode=mode)
