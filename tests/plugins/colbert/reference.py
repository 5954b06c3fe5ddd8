"""A naive ColBERT scorer written from COLBERT.md's rules, for checking the plugin against.

One text at a time, no padding, no batching, no masks: token ids are assembled by hand from the
tokenizer's word pieces, the saved encoder and projection (kept in memory by the builder) embed
them, and the score is an explicit loop over query positions taking the max over the document
tokens that count.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoTokenizer

from tests.plugins.colbert.colbert_models import Tiny


class NaiveColbert:
    def __init__(self, tiny: Tiny, query_length: int | None = None, doc_length: int | None = None) -> None:
        self.tiny = tiny
        self.tok = AutoTokenizer.from_pretrained(str(tiny.path), trust_remote_code=False)
        self.query_length = query_length or tiny.query_length
        self.doc_length = doc_length or tiny.doc_length

    def _ids(self, text: str, marker: str | None, length: int) -> list[int]:
        """[CLS] (marker) word pieces [SEP], the pieces cut so the whole fits in ``length``."""
        if self.tiny.lowercase:
            text = text.lower()
        pieces = self.tok.convert_tokens_to_ids(self.tok.tokenize(text.strip()))
        head = [self.tok.cls_token_id] + ([self.tok.convert_tokens_to_ids(marker)] if marker else [])
        room = length - len(head) - 1
        return head + pieces[:room] + [self.tok.sep_token_id]

    @torch.no_grad()
    def _vectors(self, ids: list[int], attention: list[int]) -> np.ndarray:
        hidden = self.tiny.body(
            input_ids=torch.tensor([ids]), attention_mask=torch.tensor([attention])
        ).last_hidden_state
        out = self.tiny.head(hidden)[0]
        return (out / out.norm(dim=-1, keepdim=True)).numpy()

    def query(self, text: str) -> np.ndarray:
        ids = self._ids(text, self.tiny.query_marker, self.query_length)
        attention = [1] * len(ids)
        if self.tiny.expansion:
            extra = self.query_length - len(ids)
            ids = ids + [self.tok.mask_token_id] * extra
            attention = attention + [1 if self.tiny.attend_to_expansion else 0] * extra
        return self._vectors(ids, attention)  # every position is scored

    def document(self, text: str) -> np.ndarray:
        ids = self._ids(text, self.tiny.doc_marker, self.doc_length)
        vectors = self._vectors(ids, [1] * len(ids))
        tokens = self.tok.convert_ids_to_tokens(ids)
        return np.stack([v for v, t in zip(vectors, tokens) if t not in self.tiny.skip_tokens])

    def score(self, query: str, text: str) -> float:
        q, d = self.query(query), self.document(text)
        total = 0.0
        for i in range(len(q)):
            best = -np.inf
            for j in range(len(d)):
                best = max(best, float(np.dot(q[i], d[j])))
            total += best
        return total

    def scores(self, query: str, texts: list[str]) -> np.ndarray:
        return np.array([self.score(query, t) for t in texts])
