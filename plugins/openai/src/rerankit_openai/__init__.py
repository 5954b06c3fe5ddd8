"""rerankit-openai: an LLM reranker over OpenAI-compatible chat completions, as the reranker ``openai``.

The model rates windows of documents under a strict JSON schema, keyed by labels we give the
documents (or, with ``method="yes_no"``, answers yes/no per document and is read from its
logprobs; with ``method="listwise"``, orders windows that slide from the end of the list to the
front, RankGPT's scheme with a loop that covers the head for any candidate count). Every answer
is checked; the rows themselves never pass through the model. Requests go
through :mod:`rerankit.http`; importing this module imports neither httpx nor the OpenAI SDK
(which is not used at all).
"""

from __future__ import annotations

from collections.abc import Callable

import rerankit

from ._config import DEFAULT_MODEL, DEFAULT_PROMPT, OpenAIConfig
from ._ranking import Repairs
from ._scorer import OpenAIScorer

__version__ = "0.1.0"


@rerankit.hookimpl
def register_scorers(register: Callable[..., None]) -> None:
    register("openai", OpenAIScorer)


__all__ = ["DEFAULT_MODEL", "DEFAULT_PROMPT", "OpenAIConfig", "OpenAIScorer", "Repairs"]
