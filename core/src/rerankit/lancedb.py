"""Use any rerankit reranker inside LanceDB queries.

LanceDB's query builders accept only instances of ``lancedb.rerankers.Reranker``;
:func:`to_lancedb` wraps a rerankit reranker in such an instance, so every installed plugin works
where a LanceDB reranker does::

    from rerankit.lancedb import to_lancedb

    reranker = to_lancedb("rrf", K=60)                      # or to_lancedb(rerankit.get_reranker(...))
    tbl.search("query", query_type="hybrid").rerank(reranker=reranker).to_arrow()
    tbl.search(vector).rerank(reranker=reranker, query_string="query").to_arrow()
    reranker.rerank_multivector([tbl.search(v1), tbl.search(v2)], "query")

LanceDB's own class names work too, with LanceDB's arguments, so migrating is one import line::

    from rerankit.lancedb import CohereReranker, RRFReranker   # was: from lancedb.rerankers import ...

    reranker = RRFReranker(K=60)                   # str(reranker) == "RRFReranker(K=60)", as in LanceDB
    reranker = CohereReranker(api_key=..., top_n=5)

Those ten classes (``RRFReranker``, ``LinearCombinationReranker``, ``MRRReranker``,
``CohereReranker``, ``JinaReranker``, ``VoyageAIReranker``, ``OpenaiReranker``,
``CrossEncoderReranker``, ``AnswerdotaiRerankers``, ``ColbertReranker``) are
``LanceDBReranker`` subclasses with LanceDB's constructor signatures, public attributes and
methods (see ``rerankit._lancedb_classes``); :func:`to_lancedb` returns one of them when the
reranker is of one of those kinds. Importing :mod:`rerankit` never imports ``lancedb``; this
module imports it only when a wrapper or class is first used. (Imports here are absolute, so
this module's name never shadows the real package.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from rerankit import Reranker
from rerankit._adapters import RerankerSource, framework_missing, resolve_reranker
from rerankit._config import public_dump

# Every name but to_lancedb comes from __getattr__: the classes are built when first used.
__all__ = [  # noqa: F822
    "AnswerdotaiRerankers",
    "CohereReranker",
    "ColbertReranker",
    "CrossEncoderReranker",
    "JinaReranker",
    "LanceDBReranker",
    "LinearCombinationReranker",
    "MRRReranker",
    "OpenaiReranker",
    "RRFReranker",
    "VoyageAIReranker",
    "to_lancedb",
]

_adapter: type | None = None
_drop_ins: dict[str, type] | None = None
_adapter_lock = threading.RLock()


def to_lancedb(reranker: RerankerSource, **config: Any) -> Any:
    """Return a ``lancedb.rerankers.Reranker`` that delegates every call to a rerankit reranker.

    ``reranker`` is a rerankit :class:`~rerankit.Reranker`, a registered name (``config`` is then
    passed to :func:`rerankit.get_reranker`), a mapping or a path to a .toml/.json config file (as
    :func:`rerankit.from_config` reads; a plain string is always a name, so pass files as
    ``pathlib.Path``). Options such as ``top_n`` and ``return_score`` belong to
    the rerankit reranker; the wrapper's ``return_score`` follows it, so LanceDB asks for row ids
    and restores the original ``_distance``/``_score`` when it is ``"all"``.

    A reranker of a kind LanceDB has a class for (``rrf``, ``linear``, ``mrr``, ``cohere``,
    ``jina``, ``voyage``, ``openai``, ``crossencoder``, ``colbert``, ``answerdotai``) comes back as
    that class of this module (``to_lancedb("rrf")`` is an ``RRFReranker``), with its attributes,
    methods and ``str()``; any other as a plain :class:`LanceDBReranker`.
    """
    built = resolve_reranker(reranker, config, "to_lancedb")
    drop_in = _drop_in_classes().get(built.name)
    return drop_in.wrap(built) if drop_in is not None else _adapter_class()(built)


def __getattr__(name: str) -> Any:
    # The classes exist once lancedb can be imported (built on first use).
    if name == "LanceDBReranker":
        return _adapter_class()
    if name in __all__:
        return {cls.__name__: cls for cls in _drop_in_classes().values()}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _adapter_class() -> type:
    global _adapter
    with _adapter_lock:
        if _adapter is None:
            _adapter = _build_adapter()
    return _adapter


def _drop_in_classes() -> dict[str, type]:
    """LanceDB's class names, each a mix of its ``rerankit._lancedb_classes`` class and the adapter,
    by the name of the rerankit reranker behind it."""
    global _drop_ins
    with _adapter_lock:
        if _drop_ins is None:
            from rerankit._lancedb_classes import DROP_INS

            built: dict[str, type] = {}
            for name, mixin in DROP_INS.items():
                parent = next((built[n] for n, m in DROP_INS.items() if m in mixin.__bases__), None)
                cls = type(mixin.__name__, (mixin, parent or _adapter_class()), {"__doc__": mixin.__doc__})
                cls.__module__ = __name__
                built[name] = cls
            _drop_ins = built
    return _drop_ins


def _build_adapter() -> type:
    try:
        from lancedb.rerankers import Reranker as LanceReranker
    except ImportError as exc:
        raise framework_missing("rerankit.lancedb", "lancedb", "lancedb", exc) from exc

    from rerankit._lancedb_classes import Option

    class LanceDBReranker(LanceReranker):
        """A LanceDB reranker whose every entry point is a rerankit reranker's.

        ``reranker`` is the wrapped rerankit reranker. Results keep every input column, gain
        ``_relevance_score`` (float32) and are sorted by it; see :mod:`rerankit` for the rules.
        """

        score = Option("return_score")  # LanceDB's name for it; setting it rebuilds the reranker

        def __init__(self, reranker: Reranker) -> None:
            self.reranker = reranker
            super().__init__(return_score=reranker.return_score)

        def __str__(self) -> str:  # shown by LanceDB's explain_plan()
            return f"rerankit {self.reranker!r}"

        def __repr__(self) -> str:
            return f"{type(self).__name__}({self.reranker!r})"

        def __reduce__(self) -> tuple[Any, ...]:
            # Rebuilt from the wrapped reranker, which pickles by name and public config.
            return (_rebuild, (self.reranker.name, public_dump(self.reranker.config)))

        def rerank_vector(self, query: Any, vector_results: pa.Table) -> pa.Table:
            return self.reranker.rerank_vector(_query_text(query), vector_results)

        def rerank_fts(self, query: Any, fts_results: pa.Table) -> pa.Table:
            return self.reranker.rerank_fts(_query_text(query), fts_results)

        def rerank_hybrid(self, query: Any, vector_results: pa.Table, fts_results: pa.Table) -> pa.Table:
            # LanceDB has already min-max normalized _distance and _score to [0, 1] here and
            # restores the originals afterwards (by _rowid) when return_score == "all".
            vector_results, fts_results = _with_rowids(vector_results, fts_results)
            return self.reranker.rerank_hybrid(_query_text(query), vector_results, fts_results)

        def rerank_multivector(
            self,
            vector_results: Any,
            query: Any = None,
            deduplicate: bool = False,
            weights: Sequence[float] | None = None,
        ) -> pa.Table:
            """Rerank several vector searches together: result tables, or LanceDB query builders
            not yet run (they are run here, with row ids)."""
            if isinstance(vector_results, (list, tuple)):
                results = [_executed(r) for r in vector_results]
            else:
                results = [_executed(vector_results)]
            return self.reranker.rerank_multivector(
                results, query=_query_text(query), deduplicate=deduplicate, weights=weights
            )

    LanceDBReranker.__module__ = __name__
    return LanceDBReranker


def _rebuild(name: str, config: dict[str, Any]) -> Any:
    return to_lancedb(name, **config)


def _query_text(query: Any) -> Any:
    """The text of a query: strings pass through; LanceDB full-text query objects give their text."""
    if query is None or isinstance(query, str):
        return query
    text = getattr(query, "query", None)
    if isinstance(text, str):  # MatchQuery, PhraseQuery, MultiMatchQuery
        return text
    positive = getattr(query, "positive", None)  # BoostQuery
    if positive is not None:
        return _query_text(positive)
    return query


def _executed(result: Any) -> Any:
    """A LanceDB query builder is run (asking for ``_rowid``); anything else passes through."""
    if hasattr(result, "to_arrow") and not isinstance(result, pa.Table):
        if hasattr(result, "with_row_id"):
            result = result.with_row_id(True)
        return result.to_arrow()
    return result


def _with_rowids(vector_results: pa.Table, fts_results: pa.Table) -> tuple[pa.Table, pa.Table]:
    """LanceDB may hand over an empty side without a ``_rowid`` column; give it one."""
    out = []
    for table in (vector_results, fts_results):
        if isinstance(table, pa.Table) and table.num_rows == 0 and "_rowid" not in table.column_names:
            table = table.append_column("_rowid", pa.array([], pa.uint64()))
        out.append(table)
    return out[0], out[1]
