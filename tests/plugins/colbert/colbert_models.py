"""Tiny ColBERT checkpoints for the tests, built from nothing and saved in both real layouts.

Each is a 2-layer BERT with a 16-wide hidden state, a small WordPiece vocabulary ordered like
BERT's ([PAD], [unusedN], [UNK], [CLS], [SEP], [MASK], ...; every ASCII punctuation symbol is a
token), and a projection to 8 dimensions. The builder returns the in-memory encoder and
projection it saved, so the tests' reference scorer uses the weights without the plugin's loading
code.

- Stanford layout (stanford-futuredata/ColBERT's HF_ColBERT): config.json naming HF_ColBERT,
  weights ``bert.*`` + ``linear.weight`` (no bias) in model.safetensors or pytorch_model.bin, and
  artifact.metadata with the marker tokens, lengths and flags.
- PyLate layout: the encoder at the root (modules.json's Transformer, with
  sentence_bert_config.json), ``1_Dense/`` (and more) projection modules, and
  config_sentence_transformers.json with prefixes, lengths, expansion flags and the skip-list.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

WORDS = (
    "the a of and to in is was for on with by at from wing flow heat aircraft model speed high "
    "low pressure boundary layer shock wave laminar turbulent plate cylinder jet engine thin body "
    "supersonic subsonic drag lift transfer mach number"
).split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = [
    "[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    *WORDS, *LETTERS, *string.punctuation, *(f"##{c}" for c in LETTERS),
]
MAX_POSITIONS = 64
HIDDEN = 16
DIM = 8

QUERY = "heat transfer in the boundary layer"
TEXTS = [
    "heat transfer in a laminar boundary layer on a flat plate",
    "the wing",
    "supersonic flow, over a thin body; with a shock wave!",
    "lift and drag of a wing at high speed",
    "jet engine noise",
    "turbulent boundary layer with pressure gradient and heat transfer at high mach number",
    "cylinder (in a low speed flow).",
    "a",
    "model of the aircraft wing body at subsonic speed",
    "shock wave and boundary layer interaction on a plate",
    "thin wing lift",
    "heat",
]


@dataclass
class Tiny:
    """A saved checkpoint plus what the reference scorer needs to recompute its scores alone."""

    path: Path
    body: Any  # transformers.BertModel, as saved
    head: Callable[[Any], Any]  # hidden states -> projected vectors, as saved
    query_marker: Optional[str]
    doc_marker: Optional[str]
    query_length: int
    doc_length: int
    expansion: bool = True
    attend_to_expansion: bool = False
    skip_tokens: frozenset[str] = field(default_factory=lambda: frozenset(string.punctuation))
    lowercase: bool = False

    def __str__(self) -> str:
        return str(self.path)


def write_tokenizer(path: Path) -> None:
    from transformers import AutoTokenizer

    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_POSITIONS}),
        encoding="utf-8",
    )
    AutoTokenizer.from_pretrained(str(path)).save_pretrained(str(path))


def _body(seed: int):
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=0.4,  # wide weights, so different texts get clearly different scores
    )
    return BertModel(config, add_pooling_layer=False).eval()


def build_stanford(
    path: Path,
    *,
    seed: int = 0,
    query_maxlen: int = 12,
    doc_maxlen: int = 24,
    attend_to_mask_tokens: bool = False,
    mask_punctuation: bool = True,
    weights: str = "safetensors",
    nested_metadata: bool = False,
    metadata: bool = True,
) -> Tiny:
    """A checkpoint as stanford-futuredata/ColBERT saves it (HF_ColBERT + artifact.metadata)."""
    import torch
    from safetensors.torch import save_file

    write_tokenizer(path)
    body = _body(seed)
    linear = torch.nn.Linear(HIDDEN, DIM, bias=False)
    torch.nn.init.normal_(linear.weight, std=0.5)
    state = {f"bert.{k}": v.detach().clone().contiguous() for k, v in body.state_dict().items()}
    state["linear.weight"] = linear.weight.detach().clone()
    if weights == "safetensors":
        save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, str(path / "pytorch_model.bin"))
    config = body.config.to_dict()
    config["architectures"] = ["HF_ColBERT"]
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    settings = {
        "query_token_id": "[unused0]",
        "doc_token_id": "[unused1]",
        "query_token": "[Q]",
        "doc_token": "[D]",
        "query_maxlen": query_maxlen,
        "doc_maxlen": doc_maxlen,
        "attend_to_mask_tokens": attend_to_mask_tokens,
        "mask_punctuation": mask_punctuation,
        "dim": DIM,
        "similarity": "cosine",
        "interaction": "colbert",
        "checkpoint": "bert-base-uncased",
    }
    if metadata:
        doc = {"config": settings, "meta": {"version": "colbert-v0.4"}} if nested_metadata else settings
        (path / "artifact.metadata").write_text(json.dumps(doc), encoding="utf-8")
    return Tiny(
        path=path,
        body=body,
        head=lambda hidden: linear(hidden),
        query_marker="[unused0]",
        doc_marker="[unused1]",
        query_length=query_maxlen,
        doc_length=doc_maxlen,
        attend_to_expansion=attend_to_mask_tokens,
        skip_tokens=frozenset(string.punctuation) if mask_punctuation else frozenset(),
    )


def build_pylate(
    path: Path,
    *,
    seed: int = 0,
    query_prefix: Optional[str] = "[unused0]",
    document_prefix: Optional[str] = "[unused1]",
    query_length: int = 12,
    document_length: int = 24,
    attend_to_expansion_tokens: bool = False,
    do_query_expansion: bool = True,
    skiplist_words: Optional[list[str]] = None,
    do_lower_case: bool = False,
    dense: tuple[tuple[int, bool, bool], ...] = ((DIM, False, False),),
) -> Tiny:
    """A checkpoint as PyLate saves it. ``dense`` lists (out_features, bias, residual) per module."""
    import torch
    from safetensors.torch import save_file

    write_tokenizer(path)
    body = _body(seed)
    body.save_pretrained(str(path))
    (path / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MAX_POSITIONS - 1, "do_lower_case": do_lower_case}), encoding="utf-8"
    )
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    layers = []
    width = HIDDEN
    for i, (out, bias, residual) in enumerate(dense, start=1):
        folder = path / f"{i}_Dense"
        folder.mkdir()
        linear = torch.nn.Linear(width, out, bias=bias)
        torch.nn.init.normal_(linear.weight, std=0.5)
        state = {k: v.detach().clone() for k, v in {"linear.weight": linear.weight}.items()}
        if bias:
            state["linear.bias"] = linear.bias.detach().clone()
        extra = None
        if residual and width != out:
            extra = torch.nn.Linear(width, out, bias=False)
            state["residual.weight"] = extra.weight.detach().clone()
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(
            json.dumps(
                {
                    "in_features": width,
                    "out_features": out,
                    "bias": bias,
                    "activation_function": "torch.nn.modules.linear.Identity",
                    "use_residual": residual,
                }
            ),
            encoding="utf-8",
        )
        modules.append({"idx": i, "name": str(i), "path": f"{i}_Dense", "type": "pylate.models.Dense.Dense"})
        layers.append((linear, residual, extra))
        width = out
    (path / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    settings = {
        "query_prefix": query_prefix if query_prefix is not None else "",
        "document_prefix": document_prefix if document_prefix is not None else "",
        "query_length": query_length,
        "document_length": document_length,
        "attend_to_expansion_tokens": attend_to_expansion_tokens,
        "do_query_expansion": do_query_expansion,
        "similarity_fn_name": "MaxSim",
        "prompts": {"query": "", "document": ""},
        "default_prompt_name": None,
    }
    if skiplist_words is not None:
        settings["skiplist_words"] = skiplist_words
    (path / "config_sentence_transformers.json").write_text(json.dumps(settings), encoding="utf-8")

    def head(hidden):
        for linear, residual, extra in layers:
            out = linear(hidden)
            if residual:
                out = out + (extra(hidden) if extra is not None else hidden)
            hidden = out
        return hidden

    return Tiny(
        path=path,
        body=body,
        head=head,
        query_marker=query_prefix,
        doc_marker=document_prefix,
        query_length=query_length,
        doc_length=document_length,
        expansion=do_query_expansion,
        attend_to_expansion=attend_to_expansion_tokens and do_query_expansion,
        skip_tokens=frozenset(skiplist_words if skiplist_words is not None else string.punctuation),
        lowercase=do_lower_case,
    )
