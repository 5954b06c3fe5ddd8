"""Splitting one query's documents by a provider's per-request budget (tokens, bytes, chunks).

Providers cap a request by more than its document count: Voyage by a total token count, TEI by
the body's size. When the cost of each document is known from the request alone (its length in
characters or bytes), :func:`pack` cuts the list into consecutive parts that each fit, so a large
call does not fail at the provider after a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable


def pack(costs: Iterable[float], budget: float, max_items: int) -> list[int]:
    """Sizes of consecutive parts whose costs add up to at most ``budget``, ``max_items`` at most.

    Order is kept (part sizes, not a reordering). An item that alone costs more than the budget
    gets a part of its own: it cannot be split, so the provider decides (truncates or refuses).
    """
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    sizes: list[int] = []
    count, total = 0, 0.0
    for cost in costs:
        if count and (count == max_items or total + cost > budget):
            sizes.append(count)
            count, total = 0, 0.0
        count += 1
        total += cost
    if count:
        sizes.append(count)
    return sizes


__all__ = ["pack"]
