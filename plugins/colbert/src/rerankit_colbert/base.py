"""What a ColBERT model does the same on torch and on an exported folder, with no torch imported:
the marker, expansion and skip-list token ids, the lengths that fit the model, text preparation,
and the array steps the scoring loop asks of a model (:meth:`ColbertBase.maxsim`,
:meth:`ColbertBase.gather`, :meth:`ColbertBase.array`, :meth:`ColbertBase.numpy`)."""

from __future__ import annotations

import logging
import string
import threading
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from rerankit import ConfigError
from rerankit.local import LoadKey, models

from .checkpoint import Settings

logger = logging.getLogger("rerankit.colbert")


class ColbertBase:
    """Token ids, lengths and text preparation of one checkpoint, with its lock."""

    dim: int

    def _setup(self, key: LoadKey, settings: Settings, tokenizer: Any, position_limit: int) -> None:
        self.key = key
        self.settings = settings
        self.tokenizer = tokenizer
        self.lock: threading.Lock = models.lock(key)
        self.query_marker_id = _marker_id(tokenizer, settings.query_marker, key.model_name, "query")
        self.doc_marker_id = _marker_id(tokenizer, settings.doc_marker, key.model_name, "document")
        self.expansion_id = _expansion_id(tokenizer, key.model_name) if settings.query_expansion else None
        #: Token ids left out of the document max (punctuation, as the checkpoint says).
        self.skip_list = sorted(_skiplist(tokenizer, settings))
        self.position_limit = position_limit
        self.query_length = self._fit(settings.query_length, "query length")
        self.doc_length = self._fit(settings.doc_length, "document length")

    # -- lengths ---------------------------------------------------------------------------------
    def _fit(self, length: int, what: str) -> int:
        if length > self.position_limit:
            logger.info(
                "colbert: %s's %s %d exceeds its %d positions; using %d",
                self.key.model_name, what, length, self.position_limit, self.position_limit,
            )
            return self.position_limit
        return length

    def lengths(self, query_max_length: Optional[int], doc_max_length: Optional[int]) -> tuple[int, int]:
        """The query and document lengths to use: the options if set, else the checkpoint's."""
        for option, value in (("query_max_length", query_max_length), ("doc_max_length", doc_max_length)):
            if value is not None and value > self.position_limit:
                raise ConfigError(
                    f"{option}={value} exceeds the {self.position_limit} positions of model "
                    f"{self.key.model_name!r}; use at most {self.position_limit}"
                )
        return query_max_length or self.query_length, doc_max_length or self.doc_length

    # -- texts -----------------------------------------------------------------------------------
    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The texts as the tokenizer sees them (stripped, lower-cased, as the checkpoint says)."""
        return self._texts(texts)

    def _texts(self, texts: Sequence[str]) -> list[str]:
        out = [t.strip() for t in texts] if self.settings.strip else list(texts)
        return [t.lower() for t in out] if self.settings.lowercase else out

    # -- the arrays the scoring loop handles (numpy here; torch tensors in ColbertModel) ----------
    def maxsim(self, queries: Any, scored: Any, owners: np.ndarray, docs: Any, valid: Any) -> Any:
        """MaxSim of each document against its query ``queries[owners[i]]`` (see :mod:`.maxsim`)."""
        similarity = np.matmul(queries[owners], docs.transpose(0, 2, 1))  # [b, Lq, Ld]
        best = np.where(valid[:, None, :], similarity, -np.inf).max(axis=2)
        return np.where(scored[owners], best, 0.0).sum(axis=1)

    def gather(self, parts: list[Any]) -> np.ndarray:
        """The batches' scores joined, as numpy."""
        return np.concatenate(parts)

    def array(self, values: np.ndarray) -> Any:
        """``values`` as this model's arrays (on its device)."""
        return values

    def numpy(self, values: Any) -> np.ndarray:
        """One of this model's arrays as numpy."""
        return np.asarray(values)


def _marker_id(tokenizer: Any, token: Optional[str], model: str, side: str) -> Optional[int]:
    if token is None:
        return None
    found = tokenizer.convert_tokens_to_ids(token)
    if found is None or (found == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise ConfigError(
            f"ColBERT model_name={model!r}: its {side} marker {token!r} is not in the tokenizer's "
            "vocabulary, so it has no trained embedding (adding it would create a random one)"
        )
    return int(found)


def _expansion_id(tokenizer: Any, model: str) -> int:
    """The token queries are padded with: [MASK], else end-of-sequence, else padding (as PyLate)."""
    for candidate in (tokenizer.mask_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id):
        if candidate is not None:
            return int(candidate)
    raise ConfigError(
        f"ColBERT model_name={model!r}: its tokenizer has no [MASK], EOS or PAD token to expand queries with"
    )


def _skiplist(tokenizer: Any, settings: Settings) -> set[int]:
    """Token ids left out of the document max: punctuation, found the way the layout's project does."""
    if settings.skiplist == "none":
        return set()
    if settings.skiplist == "stanford":  # each symbol's first token id when tokenized alone
        ids = (tokenizer.encode(symbol, add_special_tokens=False) for symbol in string.punctuation)
        return {row[0] for row in ids if row}
    found = (tokenizer.convert_tokens_to_ids(word) for word in settings.skiplist_words)
    return {int(i) for i in found if i is not None}


def position_limit(*limits: Any) -> int:
    """The smallest usable of the model's and tokenizer's position limits (512 if none)."""
    usable = [v for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else 512
