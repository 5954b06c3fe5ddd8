"""rerankit-overlap: score each text by the share of the query's terms it contains.

A complete, dependency-free rerankit plugin: a pydantic config, a Scorer, and one hook
registering it under the name "overlap".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import Field

import rerankit

__version__ = "0.1.0"

_WORD = re.compile(r"\w+")


class OverlapConfig(rerankit.RerankerConfig):
    """Options of the overlap reranker (plus column, top_n and return_score)."""

    min_token_length: int = Field(1, ge=1, description="Ignore terms shorter than this.")
    case_sensitive: bool = Field(False, description="Match terms with their case.")
    stopwords: tuple[str, ...] = Field(
        ("a", "an", "and", "the", "of", "to", "in", "is", "by", "for", "do", "how", "what"),
        description="Terms that never count (matched after case folding unless case_sensitive).",
    )


class OverlapScorer(rerankit.Scorer):
    """Score = distinct query terms found in the text / distinct query terms (0.0 to 1.0)."""

    Config = OverlapConfig

    def __init__(self, config: OverlapConfig) -> None:
        super().__init__(config)
        self._stop = {self._fold(w) for w in config.stopwords}

    def _fold(self, term: str) -> str:
        return term if self.config.case_sensitive else term.casefold()

    def _terms(self, text: str) -> set[str]:
        words = (self._fold(w) for w in _WORD.findall(text))
        return {w for w in words if len(w) >= self.config.min_token_length and w not in self._stop}

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        wanted = self._terms(query)
        if not wanted:
            return [0.0] * len(texts)
        return [len(wanted & self._terms(text)) / len(wanted) for text in texts]


@rerankit.hookimpl
def register_scorers(register):
    register("overlap", OverlapScorer)
