"""What every framework adapter shares: building the reranker, reading texts, ranking them.

``rerankit.lancedb``, ``rerankit.langchain``, ``rerankit.llamaindex`` and ``rerankit.haystack``
each accept a reranker the same four ways (:func:`resolve_reranker`). The three RAG adapters then
read one text per framework object (:func:`document_text`), rerank the texts as a one-column table
with their positions as ``_rowid`` (:func:`rank_texts`, :func:`arank_texts`), and map the ranking
back onto the framework's objects; only that last step differs between them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import pyarrow as pa

from ._columns import RELEVANCE, ROWID
from ._config import public_dump
from ._errors import ConfigError, InputError, MissingColumnError
from ._registry import from_config, get_reranker
from ._reranker import Reranker

#: What an adapter accepts as its reranker: built, a registered name, a config mapping or file.
RerankerSource = Union[Reranker, str, Mapping[str, Any], "os.PathLike[str]"]


def resolve_reranker(reranker: RerankerSource, options: Mapping[str, Any], caller: str) -> Reranker:
    """Build (or pass through) the reranker an adapter was given.

    ``reranker`` is a built :class:`~rerankit.Reranker` (``options`` must then be empty), a
    registered name (``options`` go to :func:`rerankit.get_reranker`), a config mapping
    (``options`` override its keys) or a path to a .toml/.json config file (no ``options``).
    A plain string is always a name, so config files are passed as ``pathlib.Path``.
    ``caller`` (e.g. ``"to_lancedb"``) names the adapter in error messages.
    """
    if isinstance(reranker, Reranker):
        if options:
            raise ConfigError(
                f"{caller}() got options ({', '.join(sorted(options))}) with an already built reranker; "
                f"pass them when building it, e.g. {caller}('{reranker.name}', {next(iter(options))}=...)"
            )
        return reranker
    if isinstance(reranker, str):
        return get_reranker(reranker, **options)
    if isinstance(reranker, Mapping):
        return from_config({**reranker, **options})
    if isinstance(reranker, os.PathLike):
        if options:
            raise ConfigError(f"{caller}() takes a config file or keyword options, not both; put them in the file")
        return from_config(reranker)
    raise ConfigError(
        f"{caller}() needs a rerankit reranker, a reranker name, a config mapping or a config file "
        f"path (pathlib.Path); got {type(reranker).__name__}"
    )


def text_reranker(reranker: RerankerSource, options: Mapping[str, Any], caller: str) -> Reranker:
    """:func:`resolve_reranker`, for adapters that hand the reranker one text per object.

    The texts go into the reranker's ``column``, so that must name a column, not a template.
    """
    built = resolve_reranker(reranker, options, caller)
    if "{" in built.column:
        raise ConfigError(
            f"{caller}() hands the reranker one text per document, but its column option is the template "
            f"{built.column!r}; leave the reranker's column at its default and choose the document field "
            f"with {caller}(..., column='<metadata key>')"
        )
    return built


def check_top_n(value: Any, argument: str, error: type[Exception] = ConfigError) -> int | None:
    """``value`` if it is None or a positive int, else ``error`` naming ``argument``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{argument} must be a positive integer or None (keep every document); got {value!r}")
    return value


def document_text(
    kind: str,
    index: int,
    content: Any,
    metadata: Mapping[str, Any],
    column: str | None,
    *,
    content_field: str,
    metadata_field: str,
) -> str:
    """The text one framework object contributes, or an InputError naming the field it lacks.

    With ``column`` None the text is ``content`` (the object's ``content_field``); otherwise it is
    ``metadata[column]``. ``kind`` ("document", "node") and ``index`` say which object failed.
    """
    if column is None:
        value, where = content, content_field
    else:
        if column not in metadata:
            keys = ", ".join(map(str, metadata)) or "none"
            raise MissingColumnError(
                f"{kind} {index} has no {metadata_field} field '{column}' (its {metadata_field} keys: {keys}); "
                f"pass column= naming a {metadata_field} key every {kind} has, or column=None to rank by "
                f"{content_field}",
                column=column,
                argument=f"{kind}s[{index}].{metadata_field}",
            )
        value, where = metadata[column], f"{metadata_field}['{column}']"
    if not isinstance(value, str):
        got = "None" if value is None else f"a {type(value).__name__}"
        raise InputError(
            f"{kind} {index} has no text in {where} (it is {got}); give every {kind} text there, choose "
            f"another field with column=, or leave such {kind}s out before reranking"
        )
    return value


@dataclass(frozen=True)
class Ranked:
    """One object's place in a ranking: its position in the input and its rerankit score."""

    index: int
    score: float


def rank_texts(reranker: Reranker, query: str, texts: Sequence[str], top_n: int | None) -> list[Ranked]:
    """Rerank ``texts`` for ``query``: best first, cut to ``top_n`` (after the reranker's own).

    No texts, no call: an empty list comes back at once.
    """
    if not texts:
        return []
    return _ranked(reranker.rerank(query, _table(reranker, texts)), top_n)


async def arank_texts(reranker: Reranker, query: str, texts: Sequence[str], top_n: int | None) -> list[Ranked]:
    """The async twin of :func:`rank_texts` (``arerank``: hosted plugins do not block the loop)."""
    if not texts:
        return []
    return _ranked(await reranker.arerank(query, _table(reranker, texts)), top_n)


def _table(reranker: Reranker, texts: Sequence[str]) -> pa.Table:
    positions = pa.array(range(len(texts)), pa.int64())
    return pa.table({reranker.column: pa.array(list(texts), pa.string()), ROWID: positions})


def _ranked(out: pa.Table, top_n: int | None) -> list[Ranked]:
    if top_n is not None:
        out = out.slice(0, top_n)
    return [Ranked(i, s) for i, s in zip(out[ROWID].to_pylist(), out[RELEVANCE].to_pylist())]


def config_mapping(reranker: Reranker) -> dict[str, Any]:
    """``{"reranker": name, **options}`` as plain JSON data (what ``from_config`` reads).

    Only options that differ from their defaults are written, as in the reranker's repr; secrets
    never are, so a key given as an argument is read from the environment when rebuilt.
    """
    fields = type(reranker.config).model_fields
    dumped = reranker.config.model_dump(mode="json")
    options = {k: dumped[k] for k, v in public_dump(reranker.config).items() if v != fields[k].default}
    return {"reranker": reranker.name, **options}


def framework_missing(module: str, package: str, extra: str, exc: ImportError) -> ImportError:
    """The ImportError an adapter raises when its framework is not installed: what to install."""
    return ImportError(
        f"{module} needs the {package} package ({exc}); install it with: pip install 'rerankit[{extra}]'"
    )


__all__ = [
    "Ranked",
    "RerankerSource",
    "arank_texts",
    "check_top_n",
    "config_mapping",
    "document_text",
    "framework_missing",
    "rank_texts",
    "resolve_reranker",
    "text_reranker",
]
