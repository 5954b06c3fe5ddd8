"""Pipelines: a retriever and a reranker, applied to one query's candidates and timed.

A reranker is named (``rrf``, ``crossencoder``, ``none`` for the retriever's own order), read from
a config file (a path) or a mapping, or given built. Fusion rerankers fuse the hybrid retriever's two
lists, so they are paired with ``hybrid`` only; scorers rerank every retriever's list (for hybrid,
the fused list). A retriever left without a pipeline is evaluated on its own (``none``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from rerankit import FusionReranker, Reranker, from_config, get_reranker
from rerankit._config import public_dump
from rerankit._scoring.steps import ScoringOptions

from ._collection import EvalError
from ._search import RETRIEVERS, Candidates

RerankerLike = Union[str, os.PathLike, Mapping[str, Any], Reranker, None]


@dataclass
class Pipeline:
    """``retriever`` followed by ``reranker`` (None: the retriever's own order), shown as ``label``."""

    retriever: str
    label: str
    reranker: Reranker | None

    @property
    def config(self) -> dict[str, Any] | None:
        """The reranker's name and public config (no secrets), or None for ``none``; the scoring
        path's options (passages, cache, ...) only where set, since every scorer has them."""
        if self.reranker is None:
            return None
        path_options = ScoringOptions.model_fields
        return {
            "reranker": self.reranker.name,
            **{
                k: v
                for k, v in public_dump(self.reranker.config).items()
                if k not in path_options or v != path_options[k].default
            },
        }

    def run(self, query: str, found: Candidates, candidates: int) -> tuple[list[str], float]:
        """Document ids, best first, and the seconds the reranker took (0 for ``none``)."""
        base = {"bm25": found.fts, "vector": found.vector, "hybrid": found.hybrid}[self.retriever]
        if self.reranker is None:
            return base["doc_id"].to_pylist(), 0.0
        start = time.perf_counter()
        if isinstance(self.reranker, FusionReranker) and self.retriever == "hybrid":
            out = self.reranker.rerank_hybrid(query, found.vector, found.fts)
        elif self.retriever == "bm25":
            out = self.reranker.rerank_fts(query, base)
        elif self.retriever == "vector":
            out = self.reranker.rerank_vector(query, base)
        else:
            out = self.reranker.rerank(query, base)
        seconds = time.perf_counter() - start
        return out.slice(0, candidates)["doc_id"].to_pylist(), seconds


def resolve(spec: RerankerLike) -> tuple[str, Reranker | None]:
    """A reranker spec as ``(label, reranker or None)``; errors are rerankit's own, one line each."""
    if spec is None or spec == "none":
        return "none", None
    if isinstance(spec, Reranker):
        reranker = spec
    elif isinstance(spec, str):
        reranker = get_reranker(spec)
    elif isinstance(spec, os.PathLike):
        reranker = from_config(Path(spec))
    elif isinstance(spec, Mapping):
        reranker = from_config(spec)
    else:
        raise EvalError(
            f"a reranker must be a name, 'none', a config file path, a mapping or a Reranker; got {type(spec).__name__}"
        )
    return label_of(reranker), reranker


def label_of(reranker: Reranker) -> str:
    """The name plus every option that differs from its default: ``linear(normalize=min-max)``."""
    fields = type(reranker.config).model_fields
    shown = {k: v for k, v in public_dump(reranker.config).items() if v != fields[k].default}
    if not shown:
        return reranker.name
    return f"{reranker.name}(" + ", ".join(f"{k}={_short(v)}" for k, v in shown.items()) + ")"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def plan(retrievers: Sequence[str], rerankers: Sequence[RerankerLike]) -> list[Pipeline]:
    """Every sensible (retriever, reranker) pair, in the order given."""
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown or not retrievers:
        raise EvalError(f"unknown retriever '{unknown[0] if unknown else ''}'; choose from {', '.join(RETRIEVERS)}")
    resolved = [resolve(spec) for spec in (rerankers or ["none"])]
    fusions = [label for label, reranker in resolved if isinstance(reranker, FusionReranker)]
    if fusions and "hybrid" not in retrievers:
        raise EvalError(
            f"reranker '{fusions[0]}' fuses the hybrid retriever's vector and full-text lists, and "
            f"--retriever {' '.join(dict.fromkeys(retrievers))} has none to fuse; add --retriever hybrid "
            "(or leave --retriever out to run bm25, vector and hybrid)"
        )
    pipelines: list[Pipeline] = []
    for retriever in dict.fromkeys(retrievers):
        mine = [
            Pipeline(retriever, label, reranker)
            for label, reranker in resolved
            if retriever == "hybrid" or not isinstance(reranker, FusionReranker)
        ]
        pipelines += mine or [Pipeline(retriever, "none", None)]
    seen: dict[tuple[str, str], int] = {}
    for p in pipelines:  # two specs with one label (e.g. the same file twice): keep rows apart
        seen[(p.retriever, p.label)] = seen.get((p.retriever, p.label), 0) + 1
        if seen[(p.retriever, p.label)] > 1:
            p.label = f"{p.label} #{seen[(p.retriever, p.label)]}"
    return pipelines


def needs_text(pipelines: Sequence[Pipeline]) -> bool:
    """Whether any reranker scores text (then the candidates carry the ``text`` column)."""
    return any(p.reranker is not None and not isinstance(p.reranker, FusionReranker) for p in pipelines)


def columns_needed(pipelines: Sequence[Pipeline], available: Sequence[str]) -> list[str]:
    """The index columns the candidates must carry: ``text`` for scorers, plus each reranker's
    ``vector_column`` (the ``embedding`` reranker scoring from the stored ``vector``), checked
    against the index's ``available`` columns."""
    columns = ["text"] if needs_text(pipelines) else []
    # a cascade's stages are rerankers too: each may read its own vector_column
    rerankers = [(p.label, r) for p in pipelines for r in (p.reranker, *getattr(p.reranker, "stages", ()))]
    for label, reranker in rerankers:
        if reranker is None or isinstance(reranker, FusionReranker):
            continue
        column = getattr(reranker.config, "vector_column", None)
        if not isinstance(column, str) or column in columns:
            continue
        if column not in available:
            raise EvalError(
                f"reranker '{label}' has vector_column='{column}', which the evaluation index does not "
                f"hold (it holds {', '.join(available)}); use vector_column = \"vector\" (the documents' "
                "vectors by the index's --embedding-model) or unset it to encode the text"
            )
        columns.append(column)
    return columns


def close(pipelines: Sequence[Pipeline]) -> None:
    for p in pipelines:
        closer = getattr(p.reranker, "close", None)
        if closer is not None:
            closer()

