"""The scoring path's optional steps and their options, listed in one place, in path order.

    texts -> passages -> fallback -> cache -> rate limit -> scorer -> scores

Why this order: ``fallback`` sits outside the cache, so when the primary fails the *whole* list
(every job of the call) is scored again on the fallback reranker's own path (its own cache, rate
limit, ...): scores from two rerankers are never mixed within one list, and the fallback's scores
never enter the primary's cache. The ``cache`` sits outside the rate limit, so a hit costs no
token of the bucket, and inside ``passages``, so it keys each passage. The ``rate_limit`` step is
the last before the scorer: it charges exactly what reaches the provider.

Each step lives in a module of this package with a factory that builds it from a reranker's
options, or returns None when its option is unset. :data:`STEPS` lists the factories outermost
(nearest the texts) first; :class:`ScoringOptions` declares every step's option, and the registry
adds it to every registered scorer's config model (:func:`scoring_config`), so a third-party
scorer gets every step without writing code for it. :mod:`rerankit._scoring.path` runs them.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, Field

from ..._config import RerankerConfig
from .base import StepFactory
from .cache import CacheOptions, make_cache
from .fallback import FallbackEntry, make_fallback
from .passages import PassageOptions, passages_option, passages_step
from .rate_limit import RateLimitOptions, make_rate_limit

#: The path's steps, outermost (nearest the texts) first.
STEPS: list[StepFactory] = [passages_step, make_fallback, make_cache, make_rate_limit]


class ScoringOptions(BaseModel):
    """The scoring path's options, added to every registered scorer's config by the registry.

    Each step declares its option here, unset (None) by default, so results do not change
    unless a user asks for the step. It sets no ``model_config``: the scorer's own config
    (extra keys, frozen) stays in force in the combined model.
    """

    passages: Annotated[Optional[PassageOptions], BeforeValidator(passages_option)] = Field(
        None,
        description="Score long texts in passages that fit the scorer and aggregate their scores "
        "(True: the scorer's defaults; or {max_length, stride, aggregate, top_k, max_passages, select}).",
    )
    return_passage: bool = Field(
        False, description="With passages: add _passage, _passage_start, _passage_end (best passage)."
    )
    cache: Optional[CacheOptions] = Field(
        None, description="Score cache: {backend = 'memory' | 'sqlite', path, ttl, max_entries}."
    )
    rate_limit: Optional[RateLimitOptions] = Field(
        None,
        description="Client-side rate limit: {requests_per_minute, documents_per_minute, burst_seconds}.",
    )
    fallback: Optional[list[FallbackEntry]] = Field(
        None,
        description="Rerankers tried in order when this one fails with a provider, timeout or "
        "connection error: [{reranker = 'name', ...its options}].",
    )
    fallback_on_auth_error: bool = Field(
        False, description="Also fall back when the provider rejects the API key (401/403)."
    )

    def __reduce__(self) -> Any:
        # The combined model is made at run time (see scoring_config), so it cannot be pickled by
        # reference: rebuild it from the plugin's own model and the field values instead.
        return (_restore, (type(self).__bases__[0], dict(self)))


@functools.cache
def scoring_config(model: type[RerankerConfig]) -> type[RerankerConfig]:
    """``model`` (a scorer's config) with the scoring path's options added; one class per model."""
    if issubclass(model, ScoringOptions):
        return model
    return type(model.__name__, (model, ScoringOptions), {"__module__": model.__module__, "__doc__": model.__doc__})


def _restore(model: type[RerankerConfig], values: dict[str, Any]) -> RerankerConfig:
    return scoring_config(model).model_validate(values)
