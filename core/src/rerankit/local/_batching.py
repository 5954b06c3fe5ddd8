"""Length-sorted batching: similar lengths share a batch (little padding), outputs come back in
input order.

Items are ordered longest first, so a batch that does not fit in memory fails at once rather than
after minutes of work, then cut into ``batch_size`` slices. ``restore`` puts per-item results,
computed in that order, back where the items came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class LengthSortedBatches:
    """Batches of item indices, longest items first (stable among equal lengths).

    ``lengths`` can be any cheap proxy of cost (characters, tokens, vectors)::

        batches = LengthSortedBatches([len(t) for t in texts], batch_size=32)
        parts = [model(texts[rows]) for rows in batches]         # each rows is an index array
        scores = batches.restore(np.concatenate(parts))           # scores[i] belongs to texts[i]
    """

    def __init__(self, lengths: Sequence[int] | np.ndarray, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        self.order = np.argsort(-lengths, kind="stable")
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self.order), self.batch_size):
            yield self.order[start : start + self.batch_size]

    def restore(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """``values`` (one per item, in batch order) rearranged into input order."""
        values = np.asarray(values)
        if len(values) != len(self.order):
            raise ValueError(f"expected {len(self.order)} values in batch order, got {len(values)}")
        out = np.empty_like(values)
        out[self.order] = values
        return out
