"""The part of an LLM reranker that ends in its recipe's label scores, as one torch module.

:class:`LabelLogits` takes the padded token ids and attention mask of a batch of rows and
returns, per row, only what the recipe scores from: the label tokens' logits at the position
the score is read from (the last position of a causal LM, the first decoder step of T5), or the
one logit of a sequence-classification conversion. The torch backend runs it as it is; for
``backend="onnx"`` / ``"openvino"`` it is the module :func:`open_label_runtime` hands to the
shared export layer (:func:`rerankit.local.open_runtime`: exported once through ONNX with eager
attention, cached on disk by its weights and options, rebuilt when stale or damaged), so the
exported graph returns ``[rows, 1 or 2]`` label logits, never the vocabulary. What comes before
(tokenizing, row assembly, truncation, length-sorted batching) and after (the score formula,
the activation, restoring the order) is the generative scorer's, on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import torch

from rerankit.local import Export, Runtime, open_runtime

#: What the exported graph takes and returns.
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("label_logits",)


class LabelLogits(torch.nn.Module):
    """``model``'s label logits per row: ``forward(input_ids, attention_mask) -> [rows, k]``.

    ``head`` is ``"lm"`` (a causal LM or T5 whose logits columns ``columns`` hold the labels,
    true first: label-id columns of the full head, or 0 and 1 once :mod:`.label_head` cut it) or
    ``"classifier"`` (a one-logit head; ``columns`` unused). ``start_id`` is T5's decoder start
    token; ``keep_one`` asks a causal LM for the last position's logits only.
    """

    def __init__(
        self, model: Any, head: str, columns: Sequence[int], *, seq2seq: bool, start_id: Optional[int], keep_one: bool
    ) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.columns = list(columns)
        self.seq2seq = seq2seq
        self.start_id = start_id
        self.keep_one = keep_one

    def last(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The output head's logits at the position the score is read from, one row per input."""
        if self.seq2seq:
            # full_like, not full(len(...)): the batch size stays a dimension of the exported graph
            start = torch.full_like(input_ids[:, :1], self.start_id)
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=start, use_cache=False
            )
        else:
            extra = {"logits_to_keep": 1} if self.keep_one else {}
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **extra)
        return out.logits[:, -1, :]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.head == "classifier":
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :1]
        return self.last(input_ids, attention_mask)[:, self.columns]


def open_label_runtime(labels: LabelLogits, key: Any, recipe: str) -> Runtime:
    """``labels`` on ``key``'s backend (onnx or openvino) through the shared export cache.

    Never the checkpoint's own ``onnx/`` or ``openvino/`` export: those compute the whole
    vocabulary (and usually take a key-value cache), not the recipe's label logits."""
    part = f"llm-recipe:{recipe}:{labels.head}:{labels.columns}:{labels.seq2seq}:{labels.start_id}"
    return open_runtime(key, Export(lambda: labels, INPUTS, OUTPUTS, fingerprint=part))
