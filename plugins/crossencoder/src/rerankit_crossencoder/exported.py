"""A cross-encoder folder that ships its exported model, scored without torch or transformers.

With ``backend="onnx"`` or ``"openvino"`` and a local folder holding ``onnx/model.onnx`` (or
``openvino/openvino_model.xml``), ``tokenizer.json`` and ``config.json``, the pairs are tokenized
by the ``tokenizers`` library (:class:`rerankit.local.FastTokenizer`) and scored by the runtime:
nothing imports torch, so ``pip install rerankit-crossencoder onnxruntime tokenizers --no-deps``
style installs (see the README) rerank on a CPU. Sorting, batching, truncation counting and order
restoration are the shared layer's, as on every backend; the activation is the one
sentence-transformers would apply (the checkpoint's saved ``activation_fn``, else sigmoid for one
logit), computed in numpy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rerankit import ConfigError
from rerankit.local import (
    FastTokenizer,
    LengthSortedBatches,
    LoadKey,
    count_truncated,
    models,
    open_runtime,
    shipped_file,
)

#: sentence-transformers' saved activations this module computes without torch.
ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "raw"}


def exported_folder(key: LoadKey) -> bool:
    """Whether ``key`` names a local folder this module can score (shipped export and tokenizer.json)."""
    return (
        key.backend != "torch"
        and shipped_file(key.model_name, key.backend) is not None
        and (Path(key.model_name) / "tokenizer.json").is_file()
    )


class ExportedCrossEncoder:
    """The shipped export and its tokenizer; the same scoring interface as the torch model's."""

    takes_instruction = False

    def __init__(self, key: LoadKey) -> None:
        self.key = key
        self.lock = models.lock(key)
        config = _json(Path(key.model_name) / "config.json")
        labels = len(config.get("id2label") or {}) or int(config.get("num_labels") or 1)
        if labels != 1:
            raise ConfigError(
                f"model_name={key.model_name!r} has {labels} output labels; the crossencoder reranker "
                "needs a relevance cross-encoder with a single logit (num_labels=1)"
            )
        self.saved_activation = _saved_activation(config)
        self.tokenizer = FastTokenizer.from_dir(key.model_name)
        positions = config.get("max_position_embeddings")
        if isinstance(positions, int) and "roberta" in str(config.get("model_type", "")):
            positions -= 2
        limits = [v for v in (self.tokenizer.model_max_length, positions) if isinstance(v, int) and v > 0]
        self.max_length = key.max_length or (min(limits) if limits else 512)
        if isinstance(positions, int) and self.max_length > positions:
            raise ConfigError(
                f"max_length={self.max_length} is above the {positions} token positions of model "
                f"{key.model_name!r}; set max_length to at most {positions}"
            )
        self.runtime = open_runtime(key, None, shipped=shipped_file(key.model_name, key.backend))

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
        lengths = np.fromiter((len(q) + len(t) for q, t in zip(queries, texts, strict=True)), np.int64, n)
        batches = LengthSortedBatches(lengths, batch_size)
        parts, truncated = [], 0
        for rows in batches:
            batch_queries = [queries[i] for i in rows]
            batch_texts = [texts[i] for i in rows]
            with self.lock:
                enc = self.tokenizer(
                    batch_queries, batch_texts, truncation="longest_first", max_length=self.max_length,
                    padding=True, return_tensors="np",
                )
                truncated += count_truncated(enc, self.max_length, batch_queries, batch_texts)
                logits = self.runtime.run(enc, limit=self.max_length)[0].reshape(-1)
            parts.append(logits)
        scores = np.concatenate(parts).astype(np.float64)
        if activation == "auto" and self.saved_activation is None:
            raise ConfigError(
                f"model_name={self.key.model_name!r} saves an activation_fn that needs torch to run; set "
                "activation='raw' or 'sigmoid', or use backend='torch'"
            )
        if (self.saved_activation if activation == "auto" else activation) == "sigmoid":
            scores = 1.0 / (1.0 + np.exp(-scores))
        return batches.restore(scores).astype(np.float32), truncated

    def document_room(self, query: str, instruction: Optional[str] = None) -> int:
        """Tokens left for a text beside ``query`` (special tokens and the query taken out)."""
        with self.lock:
            used = len(self.tokenizer([query], [""])["input_ids"][0])
        return max(0, self.max_length - used)


def _saved_activation(config: dict[str, Any]) -> Optional[str]:
    path = (config.get("sentence_transformers") or {}).get("activation_fn") or config.get(
        "sbert_ce_default_activation_function"
    )
    if path is None:
        return "sigmoid"  # sentence-transformers' default for one logit
    return ACTIVATIONS.get(str(path).rsplit(".", 1)[-1])  # None: one only torch can run


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
