"""Tiny sentence-transformers bi-encoders for the tests, built from nothing and saved to disk.

A 1-layer BERT with a 16-wide hidden state and a small WordPiece vocabulary written here, mean
pooled, saved by ``SentenceTransformer.save`` so it loads by path exactly as a user's model does;
nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from tests.plugins.crossencoder import crossencoder_models as _shared

# The cross-encoder tests' vocabulary and texts, plus the prompt words and ':' saved prompts use.
WORDS = [*_shared.WORDS, "query", "passage", "search"]
LETTERS = [*_shared.LETTERS, ":"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *LETTERS, *(f"##{c}" for c in LETTERS)]
MAX_POSITIONS = _shared.MAX_POSITIONS
QUERY = _shared.QUERY
TEXTS = _shared.TEXTS[:10]


def build_tiny(
    path: Path, *, seed: int = 0, prompts: Optional[dict[str, str]] = None, max_seq_length: int = 32
) -> Path:
    """Save a tiny mean-pooled bi-encoder (optionally with saved prompts) under ``path``."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers 6 moved the modules (the old path warns)
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models
    from transformers import BertConfig, BertModel

    hf = path / "hf"
    hf.mkdir(parents=True, exist_ok=True)
    (hf / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (hf / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_POSITIONS}),
        encoding="utf-8",
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=MAX_POSITIONS,
    )
    BertModel(config).save_pretrained(str(hf))
    word = models.Transformer(str(hf), max_seq_length=max_seq_length)
    width = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pooling = models.Pooling(width(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pooling], device="cpu", prompts=prompts or {})
    out = path / "model"
    model.save(str(out))
    if prompts:  # exactly the prompts given, as e5's config ships them (no empty defaults added)
        saved = json.loads((out / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        saved["prompts"] = prompts
        (out / "config_sentence_transformers.json").write_text(json.dumps(saved), encoding="utf-8")
    (out / "rerankit-test.json").write_text(json.dumps({"seed": seed, "prompts": prompts}), encoding="utf-8")
    return out
