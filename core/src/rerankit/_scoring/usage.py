"""What a reranker's calls have cost: :class:`Usage`, one thread-safe record per reranker.

The HTTP layer adds every answered request, the documents it carried and the units the provider
billed for it (Cohere's ``meta.billed_units``, the ``usage`` tokens of Jina, Voyage, OpenAI and
alike); the scoring path's steps add passage counts, cache hits and misses, time waited on the rate limit and who
answered when a fallback was tried. ``reranker.usage.counters()`` reads it all as one flat mapping
of numbers (what a metrics endpoint or ``rerankit rerank --verbose`` prints); ``reset()`` zeroes it.

What a fallback reranker's provider bills for a call is the primary's cost too: a fallback's record
:meth:`~Usage.reports_to` the primary's, so its ``requests``, ``documents`` and ``billed`` units are
added to both (each once), while its cache, rate-limit and fallback counters stay its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Optional

#: What a provider's answers cost: the counters a record also adds to the records it reports to.
BILLING = frozenset({"requests", "documents"})

#: The record's own counters, in the order :meth:`Usage.counters` lists them.
COUNTERS = (
    "requests",
    "documents",
    "cache_hits",
    "cache_misses",
    "rate_limit_waits",
    "rate_limit_wait_seconds",
    "fallbacks",
    "passages_selected",
    "passages_skipped",
    "passages_scored",
    "passage_rows",
)


class Usage:
    """Counters of one reranker's calls; thread-safe, resettable.

    - ``requests`` / ``documents``: requests a provider answered and the documents they carried
      (a scorer of its own may add to them with :meth:`add`).
    - ``billed``: units the provider reported, by its own names (``search_units``,
      ``total_tokens``, ``prompt_tokens`` ...); each is also readable as an attribute
      (``usage.total_tokens``; 0 when never reported).
    - ``cache_hits`` / ``cache_misses``: texts answered from the score cache, or not.
    - ``rate_limit_waits`` / ``rate_limit_wait_seconds``: calls that waited on the client-side
      rate limit, and for how long in all.
    - ``fallbacks``: calls handed to a fallback reranker; ``answered_by``: calls answered, by
      reranker name (the primary's included).
    - ``passages_scored`` / ``passage_rows``: with ``passages``, the passages sent on to be
      scored (each distinct one once per call) and the rows they were split from.
    - ``passages_selected`` / ``passages_skipped``: with ``passages``, the passages chosen for
      scoring (per row, before identical ones are merged) and those a row's ``max_passages`` left out.

    ``requests``, ``documents`` and ``billed`` include what the fallback rerankers' providers
    billed (:meth:`reports_to`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._upstream: list[Usage] = []
        self._zero()

    def __getstate__(self) -> dict[str, Any]:
        # the counters travel (a reranker pickled by value to a worker); the lock is made anew and
        # the link to a primary's record is made again when the primary rebuilds its fallbacks
        with self._lock:
            return {
                k: (dict(v) if isinstance(v, dict) else v)
                for k, v in vars(self).items()
                if k not in ("_lock", "_upstream")
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._upstream = []

    def reports_to(self, other: Usage) -> None:
        """Also add what this record's provider bills from now on (``requests``, ``documents``,
        ``billed``) to ``other``: a fallback reranker's record reports to its primary's."""
        if other is self:
            raise ValueError("a usage record cannot report to itself")
        with self._lock:
            if other not in self._upstream:
                self._upstream.append(other)

    def _zero(self) -> None:
        self.requests = 0
        self.documents = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.rate_limit_waits = 0
        self.rate_limit_wait_seconds = 0.0
        self.fallbacks = 0
        self.passages_selected = 0
        self.passages_skipped = 0
        self.passages_scored = 0
        self.passage_rows = 0
        self.billed: dict[str, float] = {}
        self.answered_by: dict[str, int] = {}

    def add(
        self,
        *,
        billed: Optional[Mapping[str, float]] = None,
        answered_by: Optional[str] = None,
        **counts: float,
    ) -> None:
        """Add to the counters (``requests=1, documents=20``), billed units and who answered;
        what a provider billed (requests, documents, billed units) also to the records this one
        :meth:`reports_to`."""
        for name in counts:
            if name not in COUNTERS:
                raise TypeError(f"Usage has no counter {name!r}; counters: {', '.join(COUNTERS)}")
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)
            for unit, value in (billed or {}).items():
                self.billed[unit] = self.billed.get(unit, 0) + value
            if answered_by is not None:
                self.answered_by[answered_by] = self.answered_by.get(answered_by, 0) + 1
            upstream = list(self._upstream)
        bill = {name: value for name, value in counts.items() if name in BILLING}
        if upstream and (bill or billed):
            for other in upstream:
                other.add(billed=billed, **bill)

    def counters(self) -> dict[str, float]:
        """Every counter as one flat mapping: ``requests``, ..., ``billed.<unit>``, ``answered_by.<name>``."""
        with self._lock:
            out: dict[str, float] = {name: getattr(self, name) for name in COUNTERS}
            out.update({f"billed.{unit}": value for unit, value in sorted(self.billed.items())})
            out.update({f"answered_by.{name}": n for name, n in sorted(self.answered_by.items())})
            return out

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._zero()

    def __getattr__(self, name: str) -> Any:
        # Billed units read as attributes (usage.total_tokens); only called for names not set above.
        if name.startswith("_") or name == "billed":
            raise AttributeError(name)
        with self._lock:
            return self.billed.get(name, 0)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:g}" for k, v in self.counters().items() if v)
        return f"Usage({shown})"


def billed_units(data: Any) -> dict[str, float]:
    """The units a provider's answer says it billed: Cohere's ``meta.billed_units`` and the
    numeric fields of a top-level ``usage`` object (tokens, ``rerank_units`` ...); {} if none."""
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, float] = {}
    meta = data.get("meta")
    sources = [meta.get("billed_units") if isinstance(meta, Mapping) else None, data.get("usage")]
    for source in sources:
        if isinstance(source, Mapping):
            for unit, value in source.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                    out[str(unit)] = out.get(str(unit), 0) + value
    return out


__all__ = ["BILLING", "COUNTERS", "Usage", "billed_units"]
