"""The label-row head: an LLM reranker's output head cut down to its recipe's label tokens.

A causal LM (or T5) projects its last hidden state onto the whole vocabulary (151,669 x 1,024
for Qwen3-Reranker-0.6B, a matrix as large as the body's first ten layers together) though a
recipe reads one or two of those logits. :func:`use_label_rows` swaps the model's output head
for a linear layer holding only the label tokens' rows (and their bias, if the head has one), so
the model's own ``forward`` still does whatever comes before and after the head (T5's
``d_model ** -0.5`` scaling of tied embeddings, Gemma 2's final logit soft-capping, a family's
logit scale). Because a model may also do something across the whole vocabulary that a cut-down
head cannot reproduce, the swap is checked once, when the model loads, on a probe batch: the label
logits it gives must equal the full head's label logits (to the rounding of the model's dtype),
or the full head is put back. Which head scores is logged at DEBUG level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

logger = logging.getLogger("rerankit.crossencoder")


def use_label_rows(model: Any, label_ids: Sequence[int], last_logits: Callable[[], torch.Tensor], name: str) -> bool:
    """Give ``model`` an output head of the ``label_ids`` rows only, if that scores the same.

    ``last_logits`` runs the model on a fixed probe batch and returns its last-position logits
    (``[rows, vocabulary]`` with the full head, ``[rows, len(label_ids)]`` with the label rows,
    column ``i`` holding label ``label_ids[i]``). Returns whether the label rows are in use; when
    not, the model is left as it was.
    """
    full_head = model.get_output_embeddings()
    if type(full_head) is not torch.nn.Linear:  # a quantized or custom head: its rows may not be plain weights
        kind = type(full_head).__name__
        logger.debug("%s: keeping the full output head (%s is not a plain linear layer)", name, kind)
        return False
    weight = full_head.weight
    rows = torch.tensor(list(label_ids), dtype=torch.long, device=weight.device)
    small = torch.nn.Linear(
        full_head.in_features, len(rows), bias=full_head.bias is not None, device=weight.device, dtype=weight.dtype
    )
    with torch.no_grad():
        small.weight.copy_(weight.index_select(0, rows))
        if full_head.bias is not None:
            small.bias.copy_(full_head.bias.index_select(0, rows))
    small.requires_grad_(False)
    with torch.inference_mode():
        want = last_logits()[:, rows].float()
    model.set_output_embeddings(small)
    try:
        with torch.inference_mode():
            got = last_logits().float()
        same = got.shape == want.shape and _close(got, want, weight.dtype)
    except Exception as exc:  # any failure means the full head stays
        logger.debug("%s: the label-row head failed on the probe batch (%s: %s)", name, type(exc).__name__, exc)
        same = False
    if not same:
        model.set_output_embeddings(full_head)
        logger.debug(
            "%s: keeping the full output head (%d rows): the label rows gave other logits", name, weight.shape[0]
        )
        return False
    logger.debug("%s: scoring from %d label rows of the %d-row output head", name, len(rows), weight.shape[0])
    return True


def _close(got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype) -> bool:
    """Equal up to the rounding of ``dtype``: the two heads sum the same products in another
    order, so float32 agrees to about 1e-6 and bfloat16 to a unit in its last place."""
    rtol = max(1e-4, 4 * torch.finfo(dtype).eps)
    atol = rtol * max(1.0, float(want.abs().max()))
    return bool(torch.allclose(got, want, rtol=rtol, atol=atol))
