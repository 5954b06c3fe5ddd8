"""What a ColBERT checkpoint says about itself, read from its files (no torch needed).

Two layouts exist, and each carries the settings its model was trained with:

- **Stanford** (stanford-futuredata/ColBERT, e.g. ``colbert-ir/colbertv2.0``): ``config.json``
  with architecture ``HF_ColBERT``, weights ``bert.*`` (the encoder under its base-model prefix)
  plus ``linear.weight`` (the projection, no bias), and ``artifact.metadata`` (JSON; the settings
  at its top level or under ``config``): ``query_token_id`` / ``doc_token_id`` (the marker tokens,
  ``[unused0]`` / ``[unused1]``), ``query_maxlen``, ``doc_maxlen``, ``attend_to_mask_tokens``,
  ``mask_punctuation``, ``dim``, ``similarity``, ``interaction``.
- **PyLate** (sentence-transformers style): ``modules.json`` naming a Transformer module and one
  or more Dense modules (``1_Dense/config.json`` + weights), and ``config_sentence_transformers.json``
  with ``query_prefix``, ``document_prefix``, ``query_length``, ``document_length``,
  ``attend_to_expansion_tokens``, ``skiplist_words``, ``do_query_expansion``.

A setting the files leave out takes the default of the project that wrote the layout (Stanford:
32/220 tokens, mask punctuation; PyLate: 32/180, ``string.punctuation`` skipped). A model in
neither layout is refused: PyLate would add a randomly initialised projection to it, which
scores nothing meaningful.
"""

from __future__ import annotations

import json
import logging
import os
import string
from dataclasses import dataclass
from typing import Any, Literal, Optional

from rerankit import ConfigError
from rerankit.local import is_local

logger = logging.getLogger("rerankit.colbert")

Layout = Literal["stanford", "pylate"]

#: Activations a Dense module may name (sentence-transformers stores the class's import path).
ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": "identity",
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.GELU": "gelu",
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
}


@dataclass(frozen=True)
class Dense:
    """One projection layer: ``activation(x @ W.T + b)``, plus ``x @ R.T`` (or ``x``) if residual."""

    in_features: int
    out_features: int
    bias: bool
    activation: str  # a value of ACTIVATIONS
    residual: bool
    folder: str  # where its weights are, relative to the checkpoint


@dataclass(frozen=True)
class Settings:
    """How to tokenize, encode and score with one checkpoint, as its files say."""

    layout: Layout
    transformer: str  # folder of the encoder and tokenizer inside the checkpoint ("" = its root)
    query_marker: Optional[str]  # token put right after [CLS] in queries; None: no marker
    doc_marker: Optional[str]
    query_length: int  # tokens, [CLS], marker and [SEP] included
    doc_length: int
    query_expansion: bool  # pad queries to query_length with [MASK] and score every position
    attend_to_expansion: bool  # the encoder attends to those [MASK] tokens
    skiplist: Literal["stanford", "pylate", "none"]  # how document punctuation is found
    skiplist_words: tuple[str, ...]
    lowercase: bool  # sentence-transformers' do_lower_case (PyLate layout)
    strip: bool  # sentence-transformers strips each text before tokenizing (PyLate layout)
    dim: Optional[int]  # projection size the settings announce (checked against the weights)
    dense: tuple[Dense, ...]  # PyLate's projections; Stanford's is linear.weight in the main weights


class Files:
    """A checkpoint's files: a local directory, or a Hugging Face repository fetched on demand."""

    def __init__(self, name: str, cache_dir: Optional[str], local_files_only: bool) -> None:
        self.name = name
        self.local = is_local(name)
        self.cache_dir = cache_dir
        self.local_files_only = local_files_only

    def get(self, filename: str, folder: str = "") -> Optional[str]:
        """Local path of ``folder/filename``, or None if the checkpoint has no such file."""
        if self.local:
            path = os.path.join(self.name, folder, filename)
            return path if os.path.isfile(path) else None
        from huggingface_hub import hf_hub_download

        try:
            from huggingface_hub.errors import EntryNotFoundError
        except ImportError:  # pragma: no cover - huggingface_hub < 0.23
            from huggingface_hub.utils import EntryNotFoundError
        try:
            return hf_hub_download(
                self.name,
                filename,
                subfolder=folder or None,
                cache_dir=self.cache_dir,
                local_files_only=self.local_files_only,
            )
        except EntryNotFoundError:
            return None

    def json(self, filename: str, folder: str = "") -> Optional[dict[str, Any]]:
        path = self.get(filename, folder)
        if path is None:
            return None
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"model_name={self.name!r}: {filename} is not valid JSON ({exc})") from exc
        return data


def read_settings(files: Files) -> Settings:
    """The checkpoint's settings: PyLate's files if it has ``modules.json``, else Stanford's."""
    modules = files.json("modules.json")
    if modules is not None:
        return _pylate(files, modules)
    config = files.json("config.json")
    if config is None:
        raise ConfigError(
            f"could not load ColBERT model_name={files.name!r}: no config.json found. Check the id or "
            "local path; offline, the model must already be in the Hugging Face cache"
        )
    metadata = files.json("artifact.metadata")
    if metadata is None and "HF_ColBERT" not in (config.get("architectures") or []):
        raise ConfigError(
            f"model_name={files.name!r} is not a ColBERT checkpoint: it has neither modules.json "
            "(PyLate layout) nor artifact.metadata / an HF_ColBERT config (Stanford layout). A plain "
            "encoder has no trained projection to score with"
        )
    return _stanford(files, metadata)


def _stanford(files: Files, metadata: Optional[dict[str, Any]]) -> Settings:
    if metadata is None:
        logger.warning(
            "colbert: %s has no artifact.metadata; using the Stanford defaults (markers [unused0]/[unused1], "
            "query_maxlen 32, doc_maxlen 220, punctuation masked)",
            files.name,
        )
        metadata = {}
    meta = metadata.get("config", metadata) if isinstance(metadata.get("config"), dict) else metadata
    similarity = meta.get("similarity", "cosine")
    interaction = meta.get("interaction", "colbert")
    if similarity != "cosine" or interaction != "colbert":
        raise ConfigError(
            f"model_name={files.name!r} was trained with similarity={similarity!r}, "
            f"interaction={interaction!r}; the colbert reranker scores cosine MaxSim ('cosine', "
            "'colbert') only"
        )
    return Settings(
        layout="stanford",
        transformer="",
        query_marker=meta.get("query_token_id", "[unused0]"),
        doc_marker=meta.get("doc_token_id", "[unused1]"),
        query_length=int(meta.get("query_maxlen", 32)),
        doc_length=int(meta.get("doc_maxlen", 220)),
        query_expansion=True,
        attend_to_expansion=bool(meta.get("attend_to_mask_tokens", False)),
        skiplist="stanford" if meta.get("mask_punctuation", True) else "none",
        skiplist_words=tuple(string.punctuation),
        lowercase=False,
        strip=False,
        dim=meta.get("dim"),
        dense=(),
    )


def _pylate(files: Files, modules: Any) -> Settings:
    if not isinstance(modules, list) or not modules:
        raise ConfigError(f"model_name={files.name!r}: modules.json lists no modules")
    ordered = sorted(modules, key=lambda m: m.get("idx", 0))
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in ordered]
    if kinds[0] != "Transformer" or any(k != "Dense" for k in kinds[1:]) or len(kinds) < 2:
        raise ConfigError(
            f"model_name={files.name!r}: modules.json lists {kinds}; a PyLate ColBERT model is a "
            "Transformer followed by one or more Dense projections"
        )
    transformer = ordered[0].get("path", "") or ""
    dense = tuple(_dense(files, m.get("path", "")) for m in ordered[1:])
    st = files.json("config_sentence_transformers.json") or {}
    bert = files.json("sentence_bert_config.json", transformer) or {}
    if st.get("default_prompt_name"):
        raise ConfigError(
            f"model_name={files.name!r} prepends the prompt {st['default_prompt_name']!r} to every "
            "text; the colbert reranker does not apply prompts"
        )
    expansion = bool(st.get("do_query_expansion", True))
    return Settings(
        layout="pylate",
        transformer=transformer,
        query_marker=_prefix(st.get("query_prefix"), "[Q] "),
        doc_marker=_prefix(st.get("document_prefix"), "[D] "),
        query_length=int(st.get("query_length") or 32),
        doc_length=int(st.get("document_length") or 180),
        query_expansion=expansion,
        attend_to_expansion=expansion and bool(st.get("attend_to_expansion_tokens", False)),
        skiplist="pylate",
        skiplist_words=tuple(st.get("skiplist_words") or ()) if "skiplist_words" in st else tuple(string.punctuation),
        lowercase=bool(bert.get("do_lower_case", False)),
        strip=True,
        dim=dense[-1].out_features,
        dense=dense,
    )


def _prefix(value: Optional[str], default: str) -> Optional[str]:
    """PyLate's prefix setting: unset means its default token, "" means no marker at all."""
    if value is None:
        return default
    return value or None


def _dense(files: Files, folder: str) -> Dense:
    config = files.json("config.json", folder)
    if config is None:
        raise ConfigError(f"model_name={files.name!r}: the Dense module in {folder!r} has no config.json")
    name = config.get("activation_function", "torch.nn.modules.linear.Identity")
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"model_name={files.name!r}: the Dense module in {folder!r} uses activation {name!r}; "
            f"supported: {', '.join(sorted(ACTIVATIONS))}"
        )
    return Dense(
        in_features=int(config["in_features"]),
        out_features=int(config["out_features"]),
        bias=bool(config.get("bias", True)),
        activation=ACTIVATIONS[name],
        residual=bool(config.get("use_residual", False)),
        folder=folder,
    )
