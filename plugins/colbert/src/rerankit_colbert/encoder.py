"""A loaded ColBERT model: the encoder, its projection and the tokenizer, used as the reference does.

Encoding follows stanford-futuredata/ColBERT (and PyLate, which matches it):

- **Queries** are tokenized to ``query_length - 1`` tokens, the query marker is inserted right
  after [CLS], and the rest is padded to ``query_length`` with [MASK] (query expansion). The
  encoder attends to the [MASK] tokens only if the checkpoint says so, but every position is
  embedded and scored. Query punctuation is kept.
- **Documents** are ``[CLS] [D-marker] tokens [SEP]``, truncated to ``doc_length`` tokens in all,
  padded to the longest in the batch. Padding, and punctuation when the checkpoint masks it, take
  no part in the max (punctuation still takes part in attention).
- Each token vector is projected (no bias for Stanford checkpoints) and L2-normalized.

This module imports torch and transformers; the plugin imports it only when a model loads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Optional

import torch

from rerankit import ConfigError
from rerankit.local import Export, LoadKey, Runtime, count_truncated, hub_options, load_error, open_runtime

from .base import ColbertBase, position_limit
from .checkpoint import Dense, Files, Settings, read_settings

logger = logging.getLogger("rerankit.colbert")


class ColbertModel(ColbertBase):
    """Tokenizer, encoder and projection of one checkpoint, with its settings and lock."""

    def __init__(
        self,
        key: LoadKey,
        settings: Settings,
        tokenizer: Any,
        body: torch.nn.Module,
        head: torch.nn.Module,
        dim: int,
    ) -> None:
        self.body = body
        self.head = head
        self.dim = dim
        self.device = torch.device(key.device)
        tokenizer.padding_side = "right"  # the marker goes right after [CLS], at position 1
        tokenizer.truncation_side = "right"
        limit = position_limit(getattr(body.config, "max_position_embeddings", None),
                               getattr(tokenizer, "model_max_length", None))
        self._setup(key, settings, tokenizer, limit)
        self.skip_ids = torch.tensor(self.skip_list, dtype=torch.long)
        #: The onnx or openvino runtime that runs the forward pass; None on torch.
        self.runtime: Optional[Runtime] = None
        if key.backend != "torch":
            # the encoder's pooler is not in the checkpoint (initialised at random) and not used
            export = Export(lambda: _Project(body, head), ("input_ids", "attention_mask"), ("vectors",),
                            f"colbert:{settings.layout}", unused=("body.pooler.",))
            self.runtime = open_runtime(key, export)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, key: LoadKey) -> ColbertModel:
        """Read the checkpoint's settings, then load its tokenizer, encoder and projection."""
        from transformers import AutoModel, AutoTokenizer

        files = Files(key.model_name, key.cache_dir, key.local_files_only)
        try:
            settings = read_settings(files)
            source, kwargs = key.model_name, hub_options(key)
            if settings.transformer:
                if files.local:
                    source = os.path.join(key.model_name, settings.transformer)
                else:
                    kwargs["subfolder"] = settings.transformer
            logger.info(
                "loading ColBERT model %s (%s layout) on %s (%s)",
                key.model_name, settings.layout, key.device, key.dtype,
            )
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            with _QuietLoadReport(source):
                body, info = AutoModel.from_pretrained(source, output_loading_info=True, **kwargs)
            head = _stanford_head(files) if settings.layout == "stanford" else _pylate_head(files, settings.dense)
        except ConfigError:
            raise
        except Exception as exc:
            raise load_error("ColBERT", key, exc) from exc
        missing = [k for k in info.get("missing_keys", ()) if not k.split(".")[0] == "pooler"]
        if missing:
            raise ConfigError(
                f"ColBERT model_name={key.model_name!r} lacks encoder weights {sorted(missing)[:5]}; "
                "the checkpoint is incomplete or not of the architecture its config.json names"
            )
        hidden = int(getattr(body.config, "hidden_size", 0) or 0)
        first = next(m for m in head.modules() if isinstance(m, torch.nn.Linear))
        if hidden and first.in_features != hidden:
            raise ConfigError(
                f"ColBERT model_name={key.model_name!r}: the projection takes {first.in_features}-wide "
                f"vectors but the encoder makes {hidden}-wide ones"
            )
        dim = head.out_features
        if settings.dim is not None and int(settings.dim) != dim:
            raise ConfigError(
                f"ColBERT model_name={key.model_name!r}: artifact.metadata says dim={settings.dim} but "
                f"the projection makes {dim}-dimensional vectors"
            )
        body.eval()
        head.eval()
        # other backends take the float32 model and apply the precision themselves
        dtype = getattr(torch, key.dtype) if key.backend == "torch" else torch.float32
        body.to(device=key.device, dtype=dtype)
        head.to(device=key.device, dtype=dtype)
        return cls(key, settings, tokenizer, body, head, dim)

    # -- encoding --------------------------------------------------------------------------------
    def _tokenize(self, texts: list[str], length: int, marker: Optional[int], expand: bool) -> tuple[Any, int]:
        """Token ids and attention with the marker inserted after [CLS], and how many texts were cut."""
        room = length - 1 if marker is not None else length
        enc = self.tokenizer(
            texts,
            padding="max_length" if expand else "longest",
            truncation="longest_first",
            max_length=room,
            return_tensors="pt",
        )
        cut = count_truncated(enc, room, texts, tokenizer=self.tokenizer)
        ids, attention = enc["input_ids"], enc["attention_mask"]
        if marker is not None:
            ids = _insert(ids, marker)
            attention = _insert(attention, 1)
        return (ids, attention), cut

    def _embed(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        if self.runtime is not None:  # only the forward pass changes
            (projected,) = self.runtime.run({"input_ids": ids.numpy(), "attention_mask": attention.numpy()},
                                             limit=self.position_limit)
            return torch.nn.functional.normalize(torch.from_numpy(projected), p=2, dim=-1)
        projected = _Project(self.body, self.head)(ids.to(self.device), attention.to(self.device))
        return torch.nn.functional.normalize(projected.float(), p=2, dim=-1)

    def encode_queries(self, queries: Sequence[str], length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Query token vectors ``[n, L, dim]``, the positions to score ``[n, L]``, texts truncated."""
        expand = self.settings.query_expansion
        with self.lock, torch.inference_mode():
            texts = self._texts(queries)
            (ids, attention), cut = self._tokenize(texts, length, self.query_marker_id, expand)
            if expand:
                ids = ids.masked_fill(attention == 0, self.expansion_id)  # [MASK] augmentation
                scored = torch.ones_like(attention, dtype=torch.bool)
                if self.settings.attend_to_expansion:
                    attention = torch.ones_like(attention)
            else:
                scored = attention.bool()
            vectors = self._embed(ids, attention)
        return vectors, scored.to(self.device), cut

    def encode_documents(self, texts: Sequence[str], length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Document token vectors ``[n, T, dim]``, the tokens that count in the max, texts truncated."""
        with self.lock, torch.inference_mode():
            prepared = self._texts(texts)
            (ids, attention), cut = self._tokenize(prepared, length, self.doc_marker_id, False)
            valid = attention.bool() & ~torch.isin(ids, self.skip_ids)
            vectors = self._embed(ids, attention)
        return vectors, valid.to(self.device), cut


    # -- the arrays the scoring loop handles ----------------------------------------------------
    def maxsim(self, queries: Any, scored: Any, owners: Any, docs: Any, valid: Any) -> Any:
        from .maxsim import maxsim

        mine = torch.as_tensor(owners, device=queries.device)
        with torch.inference_mode():
            return maxsim(queries[mine], scored[mine], docs, valid)

    def gather(self, parts: list[Any]) -> Any:
        # one device-to-host copy at the end: a GPU never waits for the host between batches
        return torch.cat(parts).cpu().numpy()

    def array(self, values: Any) -> Any:
        return torch.from_numpy(values).to(self.device)

    def numpy(self, values: Any) -> Any:
        return values.cpu().numpy()


# -- building blocks -------------------------------------------------------------------------------
class _Project(torch.nn.Module):
    """Encoder then projection, token ids and attention in, unnormalized token vectors out (the
    part another backend runs)."""

    def __init__(self, body: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.body(input_ids=input_ids, attention_mask=attention_mask)
        return self.head(out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0])


class _Dense(torch.nn.Module):
    """``activation(linear(x))``, plus ``x`` (or a linear map of it) when residual."""

    def __init__(self, spec: Dense) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(spec.in_features, spec.out_features, bias=spec.bias)
        self.activation = {
            "identity": torch.nn.Identity(),
            "tanh": torch.nn.Tanh(),
            "relu": torch.nn.ReLU(),
            "gelu": torch.nn.GELU(),
            "sigmoid": torch.nn.Sigmoid(),
        }[spec.activation]
        self.use_residual = spec.residual
        self.residual = (
            torch.nn.Linear(spec.in_features, spec.out_features, bias=False)
            if spec.residual and spec.in_features != spec.out_features
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.activation(self.linear(x))
        if self.use_residual:
            y = y + (self.residual(x) if self.residual is not None else x)
        return y


class _Head(torch.nn.Sequential):
    @property
    def out_features(self) -> int:
        return self[-1].linear.out_features


def _stanford_head(files: Files) -> _Head:
    weight = _tensor(files, "linear.weight")
    dense = _Dense(Dense(weight.shape[1], weight.shape[0], False, "identity", False, ""))
    dense.linear.weight.data.copy_(weight)
    return _Head(dense)


def _pylate_head(files: Files, specs: Sequence[Dense]) -> _Head:
    layers = []
    for spec in specs:
        layer = _Dense(spec)
        path = files.get("model.safetensors", spec.folder) or files.get("pytorch_model.bin", spec.folder)
        if path is None:
            raise ConfigError(f"ColBERT model_name={files.name!r}: no weights in {spec.folder!r}")
        state = _read_state(path)
        try:
            layer.load_state_dict({k: v for k, v in state.items() if not k.startswith("activation")})
        except RuntimeError as exc:
            raise ConfigError(
                f"ColBERT model_name={files.name!r}: the weights in {spec.folder!r} do not fit its "
                f"config.json: {exc}"
            ) from exc
        layers.append(layer)
    return _Head(*layers)


def _tensor(files: Files, name: str) -> torch.Tensor:
    """One tensor of the checkpoint's main weights (single file or sharded, safetensors or .bin)."""
    for index_name, single in (
        ("model.safetensors.index.json", "model.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin"),
    ):
        path = files.get(single)
        if path is None:
            index = files.json(index_name)
            shard = (index or {}).get("weight_map", {}).get(name)
            path = files.get(shard) if shard else None
        if path is not None:
            state = _read_state(path, only=name)
            if name in state:
                return state[name]
    raise ConfigError(
        f"ColBERT model_name={files.name!r} has no {name!r} in its weights: a Stanford checkpoint keeps "
        "its projection there (HF_ColBERT)"
    )


def _read_state(path: str, only: Optional[str] = None) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(path, framework="pt", device="cpu") as fh:
            names = [only] if only is not None and only in fh.keys() else ([] if only else list(fh.keys()))
            return {n: fh.get_tensor(n) for n in names}
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {only: state[only]} if only is not None and only in state else ({} if only else dict(state))


def _insert(matrix: torch.Tensor, value: int) -> torch.Tensor:
    """``matrix`` with a column of ``value`` inserted at position 1 (right after [CLS])."""
    column = torch.full((matrix.shape[0], 1), value, dtype=matrix.dtype)
    return torch.cat([matrix[:, :1], column, matrix[:, 1:]], dim=1)


class _QuietLoadReport:
    """Hide transformers' load report for this one load: it lists ``linear.weight`` as unexpected
    (the projection, loaded separately) and the unused pooler as missing, both expected here;
    the missing keys are checked above instead."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.logger = logging.getLogger("transformers.modeling_utils")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("LOAD REPORT" in message and f"from: {self.source}" in message)

    def __enter__(self) -> None:
        self.logger.addFilter(self)

    def __exit__(self, *exc: Any) -> None:
        self.logger.removeFilter(self)
