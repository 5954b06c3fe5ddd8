"""Served models: the config file, the rerankers built from it, and turning a request into a ranking.

A config file holds one table per served model name; each is what ``rerankit.from_config`` reads
(``reranker = "NAME"`` plus options) with an optional ``[<name>.serve]`` sub-table of batching
options::

    [minilm]
    reranker = "crossencoder"
    model_name = "cross-encoder/ms-marco-MiniLM-L6-v2"
    [minilm.serve]
    max_wait_ms = 5

API keys of hosted providers come from their environment variables only, never from this file.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._columns import RELEVANCE, ROWID, SCORE_COLUMNS
from .._errors import ConfigError, InputError
from .._fusion import FusionReranker
from .._reranker import Reranker
from .._scoring.reranker import ScoringReranker
from .._serve_settings import Batching

#: Fields of a document object that carry a search's score, for fusion rerankers.
FUSION_FIELDS = SCORE_COLUMNS


@dataclass
class ServedModel:
    """One reranker served under ``name``; ``batching`` says how its requests are merged."""

    name: str
    reranker: Reranker
    batching: Batching = field(default_factory=Batching)

    @property
    def batched(self) -> bool:
        """Whether concurrent requests are merged: local scorers by default, never fusion."""
        if isinstance(self.reranker, FusionReranker):
            return False
        if self.batching.enabled is not None:
            return bool(self.batching.enabled)
        return isinstance(self.reranker, ScoringReranker) and not _hosted(self.reranker)

    @property
    def local(self) -> bool:
        """Whether it scores in this process (runs in worker threads, not on the event loop)."""
        return isinstance(self.reranker, ScoringReranker) and not _hosted(self.reranker)

    def describe(self) -> dict[str, Any]:
        """The model's entry in ``GET /v1/models``."""
        return {
            "id": self.name,
            "object": "model",
            "owned_by": "rerankit",
            "reranker": self.reranker.name,
            "kind": "fusion" if isinstance(self.reranker, FusionReranker) else "scoring",
            "batched": self.batched,
        }


def _hosted(reranker: ScoringReranker) -> bool:
    try:
        from ..http import HTTPScorer
    except ImportError:  # no rerankit[http]: no hosted scorer either
        return False
    return isinstance(reranker.scorer, HTTPScorer)


def read_models(path: str | Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """A serve config file as ``{served name: (reranker config, serve options)}``."""
    from .._registry import read_config_file

    data = read_config_file(Path(path))
    return split_models(data, str(path))


def split_models(data: Mapping[str, Any], origin: str = "config") -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``{served name: table}`` as ``{served name: (reranker config, serve options)}``, checked."""
    if not data:
        raise ConfigError(f"{origin} serves no model; add a table per model, e.g. [minilm] reranker = \"crossencoder\"")
    models = {}
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"{origin}: '{name}' must be a table naming a reranker ([{name}] reranker = \"...\"); "
                "each top-level table is one served model"
            )
        config = dict(table)
        serve = config.pop("serve", {})
        if not isinstance(serve, Mapping):
            raise ConfigError(f"{origin}: [{name}.serve] must be a table of batching options")
        for where, key in _secrets_in(config, str(name)):
            raise ConfigError(
                f"{origin}: [{where}] sets {key}; a served reranker (and each of its fallbacks) reads its key "
                "from its environment variable only (e.g. CO_API_KEY, or the one api_key_env names), so keys "
                "never sit in a config file"
            )
        models[str(name)] = (config, dict(serve))
    return models


def _secrets_in(value: Any, where: str) -> list[tuple[str, str]]:
    """``(table, option)`` for every secret-named option at any depth (a fallback's ``api_key``)."""
    from .._config import SECRET_NAME

    found = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if SECRET_NAME.search(str(key)) and item not in (None, ""):
                found.append((where, str(key)))
            else:
                found += _secrets_in(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found += _secrets_in(item, f"{where}[{i}]")
    return found


def build_models(
    specs: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]], batching: Batching
) -> dict[str, ServedModel]:
    """Build each served model's reranker with ``rerankit.from_config``."""
    from .._registry import from_config

    return {
        name: ServedModel(name, from_config(dict(config)), batching.updated(dict(serve), f"[{name}.serve]"))
        for name, (config, serve) in specs.items()
    }


# -- one request ---------------------------------------------------------------------------------
def template_fields(column: str) -> list[str]:
    """The fields a ``'{title}: {text}'`` column template names (none for a plain column)."""
    if "{" not in column:
        return []
    try:
        return [field for _, field, _, _ in string.Formatter().parse(column) if field]
    except ValueError:
        return []


def request_table(reranker: Reranker, documents: Sequence[Any], texts: Sequence[str]) -> pa.Table:
    """The rows of one request: the reranker's text column, ``_rowid`` = the document's index, and
    an object document's other fields (e.g. ``_distance`` / ``_score``) as columns.

    For a template ``column`` (``'{title}: {text}'``) a document's text is its ``text`` field and
    the template's other fields come from the object's fields of those names; a field a document
    lacks (any field of a string document but ``text``) reads as empty, as a null does in a template.
    """
    column = reranker.column
    fields = template_fields(column)
    text_column = "text" if fields else column
    if all(isinstance(d, str) for d in documents) and not fields:
        return pa.table({column: list(texts), ROWID: pa.array(range(len(texts)), pa.int64())})
    rows = []
    for i, (doc, text) in enumerate(zip(documents, texts)):
        row = dict.fromkeys(fields, "")
        row.update({k: v for k, v in doc.items() if k != "text"} if isinstance(doc, Mapping) else {})
        row[text_column] = text
        row[ROWID] = i
        rows.append(row)
    names = list(dict.fromkeys(k for row in rows for k in row))  # every field of any document
    try:
        return pa.table({name: [row.get(name) for row in rows] for name in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"documents: their fields do not form one table ({exc}); give each field one type") from None


def warm_up_table(reranker: Reranker) -> pa.Table:
    """One row a served model can score before the first request (every template field filled)."""
    fields = template_fields(reranker.column)
    documents = [{f: "warm up" for f in fields}] if fields else ["warm up"]
    return request_table(reranker, documents, ["warm up"])


def fusion_inputs(reranker: Reranker, table: pa.Table) -> tuple[pa.Table | None, pa.Table | None]:
    """A fusion request's rows split into the vector results (with ``_distance``) and full-text
    results (with ``_score``), each ordered as its search ranks them (distance ascending, score
    descending; ties keep the documents' order); a row with both is in both.

    A document with neither score (absent or null) would be in no list and vanish from the answer:
    that is an :class:`~rerankit.InputError` naming it, so nothing a client sent is lost."""
    scored = None
    for name in FUSION_FIELDS:
        if name in table.column_names:
            valid = table.column(name).is_valid()
            scored = valid if scored is None else pc.or_(scored, valid)
    if scored is not None and not pc.all(scored).as_py():
        lost = pc.indices_nonzero(pc.invert(scored)).to_pylist()
        rows = table.column(ROWID).take(lost[:10]).to_pylist()
        raise InputError(
            f"fusion reranker '{reranker.name}': document(s) at index {', '.join(map(str, rows))} have neither "
            "'_distance' nor '_score' (or only nulls), so no search ranked them; give every document a score, "
            'e.g. {"text": "...", "_distance": 0.3}'
        )
    def side(name: str, order: str) -> pa.Table | None:
        if name not in table.column_names:
            return None
        keep = table.column(name).is_valid()
        other = [c for c in FUSION_FIELDS if c != name and c in table.column_names]
        rows = table.filter(keep).drop_columns(other)
        if not rows.num_rows:
            return None
        return rows.take(pc.sort_indices(rows, [(name, order), (ROWID, "ascending")]))

    vector, fts = side("_distance", "ascending"), side("_score", "descending")
    if vector is None and fts is None:
        raise InputError(
            f"fusion reranker '{reranker.name}' ranks documents by their search scores: send objects with "
            "'_distance' (vector search, lower is better) and/or '_score' (full-text, higher is better), "
            'e.g. {"text": "...", "_distance": 0.3}'
        )
    return vector, fts


def rerank_one(reranker: Reranker, query: str, table: pa.Table) -> pa.Table:
    """Rerank one request's rows in process (fusion: by their ``_distance`` / ``_score``)."""
    if isinstance(reranker, FusionReranker):
        vector, fts = fusion_inputs(reranker, table)
        if vector is not None and fts is not None:
            return reranker.rerank_hybrid(query, vector, fts)
        return reranker.rerank_vector(query, vector) if vector is not None else reranker.rerank_fts(query, fts)
    return reranker.rerank(query, table)


async def arerank_one(reranker: Reranker, query: str, table: pa.Table) -> pa.Table:
    """Async twin of :func:`rerank_one` (hosted scorers send their requests without a thread)."""
    if isinstance(reranker, FusionReranker):
        return rerank_one(reranker, query, table)
    return await reranker.arerank(query, table)


def ranking(table: pa.Table, top_n: int | None) -> list[tuple[int, float]]:
    """``(document index, score)`` best first, from a reranked table, cut to ``top_n``."""
    ids = table.column(ROWID).to_numpy()
    scores = table.column(RELEVANCE).to_numpy().astype(np.float64)
    pairs = [(int(i), float(s)) for i, s in zip(ids, scores)]
    return pairs[:top_n] if top_n is not None else pairs


def truncate_words(texts: Sequence[str], limit: int | None) -> list[str]:
    """Each text cut to its first ``limit`` whitespace-separated words (``max_tokens_per_doc``)."""
    if limit is None:
        return list(texts)
    return [t if len(t.split()) <= limit else " ".join(t.split()[:limit]) for t in texts]


__all__ = [
    "FUSION_FIELDS",
    "ServedModel",
    "arerank_one",
    "build_models",
    "ranking",
    "read_models",
    "request_table",
    "rerank_one",
    "split_models",
    "truncate_words",
]
