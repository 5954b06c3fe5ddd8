"""Which recipe scores a checkpoint: the ``recipe`` option, else the checkpoint's own files.

Read, in order: the checkpoint's name (the last part of a hub id or local directory, matched
against known families: ``Qwen3-Reranker``, ``mxbai-rerank-*-v2``, ``bge-reranker-v2-gemma``,
``monot5``, ...), its sentence-transformers ``modules.json`` (a ``LogitScore`` module means the
checkpoint carries its own prompt as a chat template, and sentence-transformers scores it), and
its ``config.json`` (architecture and model type: a T5 is MonoT5; a causal LM that nothing above
names is refused, never given a random classification head; anything else is a cross-encoder).
Only these two small JSON files are read here; nothing is loaded.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal, Optional

from rerankit import ConfigError

from .recipes import MONOT5, RECIPES, Recipe, recipe_for_name

Kind = Literal["causal", "seq2seq", "classifier", "other"]
SEQ2SEQ_TYPES = ("t5", "mt5", "umt5")


def detect(key: Any) -> Optional[tuple[Recipe, str]]:
    """``(recipe, head)`` for an LLM reranker (head ``"lm"`` or ``"classifier"``), or ``None``
    for a checkpoint sentence-transformers scores (a cross-encoder, or one with ``LogitScore``)."""
    config = _read_json(key, "config.json") or {}
    kind = _kind(config)
    logit_score = "LogitScore" in json.dumps(_read_json(key, "modules.json") or [])
    named = recipe_for_name(key.model_name)
    requested = key.recipe
    if requested == "sequence-classification":
        if kind in ("causal", "seq2seq") and not logit_score:
            raise ConfigError(
                f"model_name={key.model_name!r} is a {_describe(config)}, not a sequence-classification "
                f"cross-encoder; name its recipe with recipe='qwen3', 'mxbai-v2', 'bge-gemma' or 'monot5'"
            )
        return None
    if requested is not None:
        recipe = named if named is not None and named.name == requested else RECIPES[requested]
        return recipe, _head(recipe, kind, key, config)
    if named is not None and _fits(named, kind):
        return named, _head(named, kind, key, config)
    if logit_score:
        return None
    if kind == "seq2seq":
        return MONOT5, "lm"
    if kind == "causal":
        raise ConfigError(
            f"model_name={key.model_name!r} is a {_describe(config)} with no reranking recipe rerankit "
            "recognizes (no sentence-transformers LogitScore module, no known model name); scored "
            "without its prompt it would give near-random scores. Set recipe='qwen3', 'mxbai-v2', "
            "'bge-gemma' or 'monot5' to the family it was trained as"
        )
    return None


def _fits(recipe: Recipe, kind: Kind) -> bool:
    if recipe.architecture == "seq2seq":
        return kind == "seq2seq"
    return kind in ("causal", "classifier")


def _head(recipe: Recipe, kind: Kind, key: Any, config: dict) -> str:
    if not _fits(recipe, kind):
        want = "a T5 model" if recipe.architecture == "seq2seq" else "a causal LM or its one-logit conversion"
        raise ConfigError(
            f"recipe={recipe.name!r} needs {want}, but model_name={key.model_name!r} is a "
            f"{_describe(config)}; pick the recipe of its family, or recipe='sequence-classification' "
            "for a cross-encoder"
        )
    return "classifier" if kind == "classifier" else "lm"


def _kind(config: dict) -> Kind:
    architectures = config.get("architectures") or []
    first = architectures[0] if architectures else ""
    encoder_decoder = config.get("is_encoder_decoder") and "ForConditionalGeneration" in first
    if config.get("model_type") in SEQ2SEQ_TYPES or encoder_decoder:
        return "seq2seq"
    if first.endswith("ForCausalLM"):
        return "causal"
    if first.endswith("ForSequenceClassification"):
        return "classifier"
    return "other"


def _describe(config: dict) -> str:
    architectures = config.get("architectures") or ["?"]
    return f"{architectures[0]} (model_type {config.get('model_type', '?')!r})"


def _read_json(key: Any, filename: str) -> Any:
    """A small JSON file of the checkpoint (a local directory or the hub), or None if it has none."""
    if os.path.isdir(key.model_name):
        path: Optional[str] = os.path.join(key.model_name, filename)
        if not os.path.isfile(path):
            return None
    else:
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(
                key.model_name,
                filename,
                cache_dir=key.cache_dir,
                local_files_only=key.local_files_only,
            )
        except Exception:  # missing file, offline, unknown id: the loader says what is wrong
            return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
