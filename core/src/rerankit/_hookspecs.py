"""The hook specifications plugins implement, one per extension point.

A plugin is a module (named by an entry point in the ``rerankit`` group) with functions marked
``@rerankit.hookimpl``. Registration hooks receive a ``register`` callback, so a plugin states what
it offers in a line or two and nothing heavy is imported until a reranker is actually used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pyarrow as pa

PROJECT = "rerankit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_scorers(register: Callable[..., None]) -> None:
    """Register model-based scorers: ``register(name, scorer_class, config_class=None)``.

    ``scorer_class`` subclasses :class:`rerankit.Scorer` and turns ``(query, texts)`` into one
    float per text; ``config_class`` (default ``scorer_class.Config``) is a pydantic model deriving
    from :class:`rerankit.RerankerConfig`. The core wraps each scorer into a full reranker. (A
    :class:`rerankit.Reranker` subclass may be registered instead; it is built as
    ``cls(name, config, rebuild=..., build=...)``, ``build`` making other rerankers by name: the
    core's ``cascade`` is registered so.)::

        @rerankit.hookimpl
        def register_scorers(register):
            register("overlap", OverlapScorer)
    """


@hookspec
def register_fusions(register: Callable[..., None]) -> None:
    """Register fusion methods: ``register(name, fuse, config_class)``.

    ``fuse(lists, size, config)`` receives the ranked lists being combined (each a
    :class:`rerankit.RankedList` holding union positions, ranks and scores) and returns one float
    per row of the union, higher is better. The built-ins ``rrf``, ``linear`` and ``mrr`` are
    registered through this same hook::

        @rerankit.hookimpl
        def register_fusions(register):
            register("borda", borda_fuse, BordaConfig)
    """


@hookspec(firstresult=True)
def select_text(table: pa.Table, column: str) -> pa.Array | pa.ChunkedArray | None:
    """Choose the text each row contributes to scoring, or return None to let the next plugin try.

    ``column`` is the reranker's ``column`` option verbatim. The first non-None answer wins; the
    core's own answers (a ``{title}: {text}`` template, a ``meta.body`` nested field, then the
    plain column) run last, so a plugin can claim its own syntax::

        @rerankit.hookimpl
        def select_text(table, column):
            if column == "title+text":
                return pyarrow.compute.binary_join_element_wise(
                    table["title"], table["text"], "\\n")
    """
