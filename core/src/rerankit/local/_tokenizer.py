"""A model folder's ``tokenizer.json`` read by the ``tokenizers`` library alone (no transformers).

:class:`FastTokenizer` answers the calls rerankit's local layer makes of a Hugging Face fast
tokenizer (a batch of texts or text pairs, truncated and padded, as numpy arrays, with each row's
``Encoding`` for :func:`~rerankit.local.count_truncated`; ``num_special_tokens_to_add``;
offsets for :class:`~rerankit.local.TokenLength`), so a folder that ships an exported model and
its ``tokenizer.json`` is scored on ONNX Runtime or OpenVINO without importing torch or
transformers. The special tokens and the normalization (lower-casing, accents) are the ones the
file states, exactly what ``PreTrainedTokenizerFast`` runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._errors import ConfigError


class Encoded(dict):
    """Arrays by input name, plus the per-row ``encodings`` (offsets, sequence ids)."""

    encodings: list[Any]


class FastTokenizer:
    """The tokenizer of a model folder, from its ``tokenizer.json``; see the module docstring."""

    is_fast = True
    model_input_names = ("input_ids", "token_type_ids", "attention_mask")

    def __init__(
        self, tokenizer: Any, model_max_length: int, pad_token: Optional[str], special: Optional[dict] = None
    ) -> None:
        self._tokenizer = tokenizer
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.model_max_length = model_max_length
        self.pad_token = pad_token
        self.pad_token_id = tokenizer.token_to_id(pad_token) if pad_token else 0
        # the special tokens tokenizer_config.json names, as transformers' ``*_token_id`` attributes
        special = special or {}
        for name in ("unk", "mask", "eos", "cls", "sep"):
            token = special.get(f"{name}_token")
            setattr(self, f"{name}_token", token)
            setattr(self, f"{name}_token_id", tokenizer.token_to_id(token) if token else None)

    @classmethod
    def from_dir(cls, folder: str) -> FastTokenizer:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(f"scoring an exported model without transformers needs tokenizers: pip install "
                              f"tokenizers ({exc})") from None
        path = Path(folder)
        if not (path / "tokenizer.json").is_file():
            raise ConfigError(f"model_name={folder!r} has no tokenizer.json, which scoring without transformers needs")
        config = _json(path / "tokenizer_config.json")
        limit = config.get("model_max_length")
        special = {**_json(path / "special_tokens_map.json"), **config}
        special = {
            k: v.get("content") if isinstance(v, dict) else v for k, v in special.items() if k.endswith("_token")
        }
        return cls(
            Tokenizer.from_file(str(path / "tokenizer.json")),
            int(limit) if isinstance(limit, (int, float)) and 0 < limit < 1_000_000 else 1_000_000_000_000,
            special.get("pad_token"),
            special,
        )

    def __call__(
        self,
        texts: Sequence[str],
        text_pairs: Optional[Sequence[str]] = None,
        *,
        truncation: Any = False,
        max_length: Optional[int] = None,
        padding: Any = False,
        return_tensors: Optional[str] = None,
        add_special_tokens: bool = True,
        return_offsets_mapping: bool = False,
        verbose: bool = True,
    ) -> Encoded:
        single = isinstance(texts, str)  # one text: unbatched lists, as transformers answers
        if single:
            texts = [texts]
            text_pairs = [text_pairs] if isinstance(text_pairs, str) else text_pairs
        tok = self._tokenizer
        if truncation and max_length is not None:
            tok.enable_truncation(max_length, strategy="longest_first")
        if padding:  # True or "longest": to the longest row; "max_length": to max_length
            length = max_length if padding == "max_length" else None
            tok.enable_padding(pad_id=self.pad_token_id, pad_token=self.pad_token or "[PAD]", length=length)
        try:
            batch = list(texts) if text_pairs is None else list(zip(texts, text_pairs, strict=True))
            rows = tok.encode_batch(batch, add_special_tokens=add_special_tokens)
        finally:
            tok.no_truncation()
            tok.no_padding()
        out = Encoded()
        columns = {"input_ids": "ids", "token_type_ids": "type_ids", "attention_mask": "attention_mask"}
        for name, attribute in columns.items():
            values = [getattr(row, attribute) for row in rows]
            out[name] = np.asarray(values, dtype=np.int64) if return_tensors == "np" else values
        if return_offsets_mapping:
            out["offset_mapping"] = [row.offsets for row in rows]
        if single:
            for name in list(out):
                out[name] = out[name][0]
        out.encodings = rows
        return out

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def convert_tokens_to_ids(self, token: str) -> Optional[int]:
        """The id of ``token``, else the unknown token's id (None without one), as transformers does."""
        found = self._tokenizer.token_to_id(token)
        return found if found is not None else self.unk_token_id


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
