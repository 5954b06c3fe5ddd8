"""The core's own plugins, registered through the same hooks as any installed plugin.

``fusions`` registers ``rrf``, ``linear`` and ``mrr``; ``text`` answers ``select_text`` last, with
the default column, template and nested-field syntax. The registry loads exactly the modules named
in :data:`BUILTIN_PLUGINS` before any entry point.
"""

from __future__ import annotations

BUILTIN_PLUGINS = ("rerankit._builtins.fusions", "rerankit._builtins.text")
