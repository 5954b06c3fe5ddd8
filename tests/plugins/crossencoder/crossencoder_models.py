"""Tiny cross-encoders for the tests, built from nothing and saved to disk.

Each is a 2-layer BERT with a 16-wide hidden state, a small WordPiece vocabulary written here and
a one-logit classification head, so nothing is downloaded and every model loads by path.
"""

from __future__ import annotations

import json
from pathlib import Path

WORDS = (
    "the a of and to in is was for on with by at from wing flow heat aircraft model speed high "
    "low pressure boundary layer shock wave laminar turbulent plate cylinder jet engine thin body "
    "supersonic subsonic drag lift transfer mach number"
).split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *LETTERS, *(f"##{c}" for c in LETTERS)]
MAX_POSITIONS = 64

QUERY = "heat transfer in the boundary layer"
TEXTS = [
    "heat transfer in a laminar boundary layer on a flat plate",
    "the wing",
    "supersonic flow over a thin body with a shock wave",
    "lift and drag of a wing at high speed",
    "jet engine noise",
    "turbulent boundary layer with pressure gradient and heat transfer at high mach number",
    "cylinder in a low speed flow",
    "a",
    "model of the aircraft wing body at subsonic speed",
    "shock wave and boundary layer interaction on a plate",
    "thin wing lift",
    "heat",
]


def write_tokenizer(path: Path, model_max_length: int = MAX_POSITIONS) -> None:
    """A WordPiece vocabulary and tokenizer config, loadable by AutoTokenizer."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": model_max_length}
        ),
        encoding="utf-8",
    )


def build_tiny(path: Path, *, seed: int = 0, num_labels: int = 1) -> Path:
    """Save a tiny BertForSequenceClassification plus its tokenizer to ``path``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    write_tokenizer(path)
    AutoTokenizer.from_pretrained(str(path)).save_pretrained(str(path))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=MAX_POSITIONS,
        num_labels=num_labels,
        initializer_range=0.4,  # wide weights, so different texts get clearly different scores
    )
    BertForSequenceClassification(config).eval().save_pretrained(str(path))
    return path
