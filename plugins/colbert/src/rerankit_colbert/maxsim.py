"""Late interaction, vectorized over a batch: for each document, the sum over the query's
positions of the best dot product with any of the document's valid tokens.

Invalid document tokens (padding, masked punctuation) are set to -inf before the max, as the
reference's ``colbert_score`` does with a large negative value: a true max, so a score never
depends on which other documents share the batch (see COLBERT.md point 5).
"""

from __future__ import annotations

import torch


def maxsim(queries: torch.Tensor, scored: torch.Tensor, docs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Scores ``[b]`` of ``b`` (query, document) pairs.

    ``queries`` ``[b, Lq, dim]`` and ``scored`` ``[b, Lq]`` (query positions that count);
    ``docs`` ``[b, Ld, dim]`` and ``valid`` ``[b, Ld]`` (document tokens that may be the max).
    """
    similarity = torch.bmm(queries, docs.transpose(1, 2))  # [b, Lq, Ld]
    similarity = similarity.masked_fill(~valid.unsqueeze(1), float("-inf"))
    best = similarity.amax(dim=2)  # [b, Lq]
    return best.masked_fill(~scored, 0.0).sum(dim=1)
