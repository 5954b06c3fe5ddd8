"""Scoring with an LLM-based reranker by its recipe (:mod:`.recipes`): causal LMs, T5, and
causal rerankers converted to a one-logit sequence-classification head.

Each call tokenizes all its pairs at once (one batched call of the fast tokenizer per part),
assembles every row as prefix + middle + suffix (only the middle is cut, so the position the
score is read from is always the recipe's), orders the rows by exact token length, and runs
``batch_size`` rows per forward pass, padded on the recipe's side (left for causal LMs, so the
last position of every row is its last real token). A causal LM computes logits at the last
position only (``logits_to_keep=1``), not at every position as the reference loops do, and only
for the label tokens where :mod:`.label_head` checks that this gives the full head's label logits
(two rows of the output head instead of the whole vocabulary). Scores stay on the device until
the last batch is done.

The forward pass is :class:`.label_logits.LabelLogits`, the model up to the label logits: run by
torch, or with ``backend="onnx"`` / ``"openvino"`` exported once through rerankit's shared export
cache and run by ONNX Runtime or OpenVINO (float32, OpenVINO bf16, int8); everything else here
is the same code on every backend.

Truncation is counted exactly and for free: each part is tokenized with a limit one token above
what it may keep, so a part longer than its share shows it by its length.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Literal, Optional

import numpy as np
import torch

from rerankit import ConfigError
from rerankit.local import LengthSortedBatches, Runtime, models

from .label_head import use_label_rows
from .label_logits import LabelLogits, open_label_runtime
from .recipes import Recipe

Head = Literal["lm", "classifier"]


class GenerativeModel:
    """A loaded LLM reranker plus its recipe's token ids: scores query-document pairs."""

    takes_instruction: bool

    def __init__(self, model: Any, tokenizer: Any, recipe: Recipe, head: Head, key: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.recipe = recipe
        self.head = head
        self.key = key
        self.lock = models.lock(key)
        self.device = next(model.parameters()).device
        self.takes_instruction = recipe.takes_instruction
        config = model.config
        self.pad_id = _pad_id(tokenizer)
        if head == "classifier" and getattr(config, "pad_token_id", None) is None:
            config.pad_token_id = self.pad_id  # the head finds the last real token by it
        if head == "classifier" and getattr(config, "num_labels", 1) != 1:
            raise ConfigError(
                f"model_name={key.model_name!r} is a sequence-classification model with "
                f"{config.num_labels} labels; recipe={recipe.name!r} needs a converted one-logit head "
                "(W_true - W_false), or the causal LM itself"
            )

        def ids(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

        self.prefix_ids = ids(recipe.prefix)
        self.suffix_ids = [i for piece in recipe.suffix for i in ids(piece)]
        self.between_ids = ids(recipe.between)
        self.bos_ids: list[int] = []
        if recipe.bos and tokenizer.bos_token_id is not None and tokenizer.bos_token_id != tokenizer.pad_token_id:
            self.bos_ids = [tokenizer.bos_token_id]
        self.eos_ids: list[int] = []
        if recipe.eos:
            if tokenizer.eos_token_id is None:
                raise ConfigError(f"recipe={recipe.name!r} needs a tokenizer with an EOS token")
            self.eos_ids = [tokenizer.eos_token_id]
        self.true_id = self._label_id(recipe.true_token)
        self.false_id = self._label_id(recipe.false_token) if recipe.false_token is not None else None

        positions = _positions(config)
        fixed = len(self.prefix_ids) + len(self.suffix_ids) + len(self.eos_ids)
        requested = key.max_length or recipe.default_max_length
        if key.max_length is not None and positions is not None:
            # as for cross-encoders, a max_length the model cannot take is refused, never lowered
            room = positions if recipe.length_counts == "total" else positions - fixed
            if key.max_length > room:
                within = "" if room == positions else f" ({fixed} of them taken by the {recipe.name} template)"
                raise ConfigError(
                    f"max_length={key.max_length} is above the {positions} token positions of model "
                    f"{key.model_name!r}{within}; set max_length to at most {room}, or leave it unset "
                    "to use the model's own limit"
                )
        self.max_length = requested if positions is None else min(requested, positions)
        if recipe.length_counts == "total":
            # max_length bounds the whole row; the middle gets what prefix and suffix leave
            self.middle_limit = self.max_length - fixed
        else:
            # max_length bounds the middle; lowered when middle + templates would pass the positions
            limit = requested
            if positions is not None and limit + fixed > positions:
                limit = positions - fixed
            self.max_length = limit
            self.middle_limit = limit + (len(self.suffix_ids) if recipe.middle_adds_suffix else 0)
        if self.middle_limit < 8:
            raise ConfigError(
                f"max_length={requested} leaves {self.middle_limit} tokens for query and document after "
                f"the {recipe.name} template ({fixed} tokens); raise max_length"
            )
        self.query_limit = self.max_length * recipe.query_share[0] // recipe.query_share[1]
        forward = inspect.signature(model.forward).parameters
        self._keep_one = head == "lm" and recipe.architecture == "causal" and "logits_to_keep" in forward
        self._start_id = getattr(config, "decoder_start_token_id", None)
        if recipe.architecture == "seq2seq" and self._start_id is None:
            raise ConfigError(f"model_name={key.model_name!r} has no decoder_start_token_id for monot5")
        model.eval()
        # the logits columns the score is read from: the label ids in the vocabulary, or 0 and 1
        # once the output head holds only the label rows (checked on a probe batch, .label_head)
        labels = [self.true_id] if self.false_id is None else [self.true_id, self.false_id]
        #: The module that ends in the label logits: run on torch, exported on the CPU backends
        self.labels: Optional[LabelLogits] = LabelLogits(
            model, head, labels, seq2seq=recipe.architecture == "seq2seq", start_id=self._start_id,
            keep_one=self._keep_one,
        )
        if head == "lm":
            probe = self._tensors(self.encode(["query", "a longer query"], ["document", "a document"])[0])
            last = self.labels.last
            if use_label_rows(model, labels, lambda: last(*probe), f"{recipe.name} {key.model_name}"):
                self.labels.columns = list(range(len(labels)))
        #: The onnx or openvino runtime of :attr:`labels` (None on torch).
        self.runtime: Optional[Runtime] = None
        if key.backend != "torch":
            self.runtime = open_label_runtime(self.labels, key, recipe.name)
            # the runtime holds its own copy of the weights: torch's are no longer needed
            self.model = self.labels = None

    # -- public --------------------------------------------------------------------------------
    def score(
        self,
        queries: Sequence[str],
        texts: Sequence[str],
        batch_size: int,
        activation: str,
        instruction: Optional[str] = None,
    ) -> tuple[np.ndarray, int]:
        """Scores of the ``(queries[i], texts[i])`` pairs in input order, and how many were truncated."""
        n = len(texts)
        if n == 0:
            return np.empty(0, dtype=np.float32), 0
        with self.lock:
            rows, cut = self.encode(queries, texts, instruction)
        lengths = np.fromiter(map(len, rows), np.int64, n)
        batches = LengthSortedBatches(lengths, batch_size)
        parts = []
        for order in batches:
            with self.lock, torch.inference_mode():
                parts.append(self._forward([rows[i] for i in order], activation))
        scores = torch.cat(parts).float().cpu().numpy()
        return batches.restore(scores).astype(np.float32, copy=False), int(cut.sum())

    def encode(
        self, queries: Sequence[str], texts: Sequence[str], instruction: Optional[str] = None
    ) -> tuple[list[list[int]], np.ndarray]:
        """The token ids of each pair's full prompt, and which pairs lost tokens to truncation."""
        recipe = self.recipe
        head = self.bos_ids + self.prefix_ids if recipe.layout == "joint" else self.prefix_ids
        tail = self.suffix_ids + self.eos_ids
        if recipe.layout == "joint":
            room = self.middle_limit - len(self.bos_ids)
            bodies = [
                recipe.query_text(q, instruction) + recipe.document_text(t)
                for q, t in zip(queries, texts, strict=True)
            ]
            enc = self._ids(bodies, room)
            return [head + e[:room] + tail for e in enc], np.fromiter((len(e) > room for e in enc), bool, len(enc))
        # split: the query part capped at its share, the document part cut to what is left
        unique = list(dict.fromkeys(queries))
        q_ids = self._ids([recipe.query_text(q, instruction) for q in unique], self.query_limit)
        q_enc = dict(zip(unique, q_ids, strict=True))
        d_enc = self._ids([recipe.document_text(t) for t in texts], self.max_length)
        rows, cut = [], np.zeros(len(texts), dtype=bool)
        fixed = len(self.bos_ids) + len(self.between_ids)
        for i, (q, d) in enumerate(zip(queries, d_enc, strict=True)):
            q_ids = q_enc[q][: self.query_limit]
            keep = max(0, min(self.max_length, self.middle_limit - fixed - len(q_ids)))
            cut[i] = len(q_enc[q]) > self.query_limit or len(d) > keep
            rows.append(head + self.bos_ids + q_ids + self.between_ids + d[:keep] + tail)
        return rows, cut

    def document_room(self, query: str, instruction: Optional[str] = None) -> int:
        """How many tokens of document text fit beside ``query`` in one row (prefix, query part,
        document label and suffix taken out). A lower bound: exact, or one short where the
        template's last character merges with the document's first token."""
        recipe = self.recipe
        empty_doc = len(self._ids([recipe.document_text("")], None)[0])
        if recipe.layout == "joint":
            used = len(self._ids([recipe.query_text(query, instruction) + recipe.document_text("")], None)[0])
            return max(0, self.middle_limit - len(self.bos_ids) - used)
        q_len = min(len(self._ids([recipe.query_text(query, instruction)], None)[0]), self.query_limit)
        fixed = len(self.bos_ids) + len(self.between_ids)
        return max(0, min(self.max_length, self.middle_limit - fixed - q_len) - empty_doc)

    # -- internals -----------------------------------------------------------------------------
    def _ids(self, texts: list[str], limit: Optional[int]) -> list[list[int]]:
        """Token ids without special tokens; with ``limit``, at most ``limit + 1`` of them, so a
        text longer than ``limit`` is told by its length without tokenizing all of it."""
        kwargs: dict[str, Any] = {"add_special_tokens": False}
        if limit is not None:
            kwargs.update(truncation=True, max_length=limit + 1)
        return self.tokenizer(texts, **kwargs)["input_ids"]

    def _label_id(self, token: str) -> int:
        tokenizer = self.tokenizer
        if self.recipe.label_lookup == "vocab":
            found = tokenizer.convert_tokens_to_ids(token)
            unk = tokenizer.unk_token_id
            found = None if found == unk and token != tokenizer.unk_token else found
        else:
            encoded = tokenizer(token, add_special_tokens=False)["input_ids"]
            found = encoded[0] if encoded else None
        if found is None:
            raise ConfigError(
                f"model_name={self.key.model_name!r}: its tokenizer has no {token!r} token, which "
                f"recipe={self.recipe.name!r} reads the score from; is this the right recipe?"
            )
        return int(found)

    def _arrays(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask of ``rows``, padded on the recipe's side."""
        width = max(map(len, rows))
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        left = self.recipe.padding_side == "left"
        for i, row in enumerate(rows):
            span = slice(width - len(row), width) if left else slice(0, len(row))
            ids[i, span] = row
            mask[i, span] = 1
        return ids, mask

    def _tensors(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self._arrays(rows)
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)

    def _forward(self, rows: list[list[int]], activation: str) -> torch.Tensor:
        if self.runtime is not None:  # only the forward pass changes
            input_ids, mask = self._arrays(rows)
            logits = torch.from_numpy(self.runtime.run({"input_ids": input_ids, "attention_mask": mask})[0])
        else:
            logits = self.labels(*self._tensors(rows)).float()
        raw = logits[:, 0] - logits[:, 1] if logits.shape[1] > 1 else logits[:, 0]
        if activation == "sigmoid" or (activation == "auto" and self.recipe.score == "p_true"):
            return torch.sigmoid(raw)
        return raw


def _pad_id(tokenizer: Any) -> int:
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if value is not None:
            return int(value)
    return 0  # pragma: no cover - the loop always returns


def _positions(config: Any) -> Optional[int]:
    """The longest row the model takes (None for relative positions, as in T5)."""
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None
