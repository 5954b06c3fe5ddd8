"""The core's own plugins, registered through the same hooks as any installed plugin.

``fusions`` registers ``rrf``, ``linear`` and ``mrr``; ``cascade`` the ``cascade`` reranker (stages of
rerankers, through ``register_scorers``); ``text`` answers ``select_text`` last, with
the default column, template and nested-field syntax. The registry loads exactly the modules named
in :data:`BUILTIN_PLUGINS` before any entry point.
"""

from __future__ import annotations

BUILTIN_PLUGINS = ("rerankit._builtins.fusions", "rerankit._builtins.cascade", "rerankit._builtins.text")
