"""The prompts put before queries and documents: the configured ones, else the model's saved ones.

One place for both encoders (torch's and an exported folder's), which read the same saved prompts.
"""

from __future__ import annotations

from typing import Optional

from .config import DOCUMENT_PROMPT_NAMES


class SavedPrompts:
    """Chooses the prompts from ``prompts`` (the model's saved ones, by name) and ``default_prompt``."""

    prompts: dict[str, str]
    default_prompt: str

    def query_prompt(self, configured: Optional[str]) -> str:
        """The text put before queries: the configured one, else the model's saved 'query' prompt."""
        if configured is not None:
            return configured
        return self.prompts.get("query", self.default_prompt)

    def document_prompt(self, configured: Optional[str]) -> str:
        """The text put before documents: the configured one, else the model's saved document prompt."""
        if configured is not None:
            return configured
        for name in DOCUMENT_PROMPT_NAMES:
            if name in self.prompts:
                return self.prompts[name]
        return self.default_prompt
