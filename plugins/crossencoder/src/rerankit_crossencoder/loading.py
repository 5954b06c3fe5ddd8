"""Loading cross-encoders: once per process for each set of load-relevant options.

Two rerankers built with the same model, device, precision and loading options share one model
in memory (:func:`load`), held in rerankit's process-wide cache of local models
(:data:`rerankit.local.models`) under a :class:`CrossEncoderKey`; ``batch_size``, ``activation``,
``column`` and ``top_n`` do not affect loading and so do not split the cache. torch and
sentence-transformers are imported here, inside functions, never when the plugin module is
imported.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rerankit import ConfigError
from rerankit.local import LoadKey, hub_options, load_error, models, sentence_transformers_options
from rerankit.local import load_key as shared_load_key

from .config import CrossEncoderConfig

if TYPE_CHECKING:
    from .exported import ExportedCrossEncoder
    from .generative import GenerativeModel
    from .inference import LoadedModel

logger = logging.getLogger("rerankit.crossencoder")


class CrossEncoderKey(LoadKey):
    """The crossencoder's models in the shared cache (:func:`load_key` adds ``max_length`` and ``recipe``)."""


def load_key(config: CrossEncoderConfig) -> CrossEncoderKey:
    """The cache key for ``config``, with the device resolved and a local path made absolute."""
    return shared_load_key(config, CrossEncoderKey, max_length=config.max_length, recipe=config.recipe)


def load(key: CrossEncoderKey) -> LoadedModel | GenerativeModel | ExportedCrossEncoder:
    """The process-wide model for ``key`` (see :func:`load_key`), loaded on first request (thread-safe).

    A checkpoint an LLM recipe fits (named by ``recipe=`` or detected, see :mod:`.detection`)
    loads as a :class:`~.generative.GenerativeModel`; a cross-encoder as a sentence-transformers
    ``CrossEncoder``; a local folder that ships its export for the onnx or openvino backend as an
    :class:`~.exported.ExportedCrossEncoder`, without torch.
    """
    return models.get(key, lambda: _load_any(key))


def export(
    model_name: str,
    out: str | os.PathLike[str],
    *,
    backend: str = "onnx",
    quantize: str | None = None,
    weights: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Write a self-contained folder ``out`` that scores without torch: ``model_name``'s files (its
    weights only with ``weights=True``) plus the cross-encoder (body and head) as one ONNX or
    OpenVINO graph. Run it where torch is installed; score the folder anywhere with
    ``get_reranker("crossencoder", model_name=out, backend=backend)``. ``options`` are other
    loading options (``cache_dir``, ``local_files_only``, ``max_length``)."""
    config = CrossEncoderConfig(model_name=model_name, backend=backend, quantize=quantize, device="cpu", **options)
    return write_folder(load(load_key(config)), out, weights=weights, overwrite=overwrite)


def write_folder(model: Any, out: str | os.PathLike[str], *, weights: bool, overwrite: bool) -> Path:
    """The export folder of a loaded cross-encoder (see :func:`export`)."""
    from rerankit.local import write_export_folder

    runtime = getattr(model, "runtime", None)
    if getattr(model, "recipe", None) is not None:
        raise ConfigError(
            f"export writes a cross-encoder's graph; model_name={model.key.model_name!r} is an LLM reranker "
            f"(recipe={model.recipe.name!r}), which backend='onnx' or 'openvino' exports into the cache "
            "when it loads, not into a folder"
        )
    if runtime is None:
        raise ConfigError(
            "export writes an ONNX or OpenVINO graph of a cross-encoder: set backend='onnx' or 'openvino' "
            "(LLM recipes are not exported)"
        )
    key = model.key
    return write_export_folder(
        runtime, key.model_name, out, scorer="crossencoder", computes=("logits",), quantize=key.quantize,
        weights=weights, overwrite=overwrite, cache_dir=key.cache_dir, local_files_only=key.local_files_only,
        tokenizer=getattr(model, "tokenizer", None),
    )


def _load_any(key: CrossEncoderKey) -> LoadedModel | GenerativeModel | ExportedCrossEncoder:
    from .detection import detect
    from .exported import ExportedCrossEncoder, exported_folder

    found = detect(key)  # two small JSON files read, nothing imported
    if found is None and exported_folder(key):  # the checkpoint's own export: scored without torch
        logger.info("loading exported cross-encoder %s on %s", key.model_name, key.backend)
        return ExportedCrossEncoder(key)
    if found is None:
        return _load(key)
    # an LLM reranker's own onnx/ or openvino/ export (the whole vocabulary, a key-value cache) is
    # not what its recipe scores from: the label logits are exported from its weights instead
    recipe, head = found
    if key.quantize is not None and key.backend == "torch":
        raise ConfigError(
            f"model_name={key.model_name!r} is scored by recipe={recipe.name!r}: quantize='{key.quantize}' "
            "runs on backend='onnx' or 'openvino' for it; on torch use dtype='bfloat16' instead"
        )
    return _load_generative(key, recipe, head)


def _load_generative(key: CrossEncoderKey, recipe: Any, head: str) -> GenerativeModel:
    import torch
    import transformers

    from .generative import GenerativeModel

    if head == "classifier":
        auto = transformers.AutoModelForSequenceClassification
    elif recipe.architecture == "seq2seq":
        auto = transformers.AutoModelForSeq2SeqLM
    else:
        auto = transformers.AutoModelForCausalLM
    common = hub_options(key)
    logger.info("loading %s reranker %s on %s (%s)", recipe.name, key.model_name, key.device, key.dtype)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            key.model_name, padding_side=recipe.padding_side, **common
        )
        # a CPU backend starts from float32 weights and applies dtype or quantize itself
        dtype = key.dtype if key.backend == "torch" else "float32"
        model = auto.from_pretrained(key.model_name, dtype=getattr(torch, dtype), **common)
    except Exception as exc:
        raise ConfigError(
            f"could not load model_name={key.model_name!r} for recipe={recipe.name!r}: "
            f"{type(exc).__name__}: {exc}. Check the id or local path; models that ship their own "
            "code need trust_remote_code=True; offline, set local_files_only=True"
        ) from exc
    model.to(key.device)
    return GenerativeModel(model, tokenizer, recipe, head, key)  # type: ignore[arg-type]


def _load(key: CrossEncoderKey) -> LoadedModel:
    try:
        from sentence_transformers import CrossEncoder

        from .inference import LoadedModel
    except ImportError as exc:  # pragma: no cover - dependencies of the package
        raise ConfigError(f"crossencoder needs torch and sentence-transformers ({exc})") from exc

    kwargs = sentence_transformers_options(key)
    if key.max_length is not None:
        kwargs["max_length"] = key.max_length
    logger.info("loading cross-encoder %s on %s (%s)", key.model_name, key.device, key.dtype)
    try:
        model = CrossEncoder(key.model_name, **kwargs)
    except Exception as exc:
        raise load_error("cross-encoder", key, exc) from exc
    _check_max_length(model, key)
    if key.backend != "torch":  # the runtime takes the float32 model and applies dtype/quantize itself
        return LoadedModel(model, key)
    if key.dtype != "float32":
        import torch

        model.to(getattr(torch, key.dtype))
    if key.quantize == "int8":
        quantize_int8(model)
    return LoadedModel(model, key)


def _check_max_length(model: Any, key: CrossEncoderKey) -> None:
    """max_length above the model's position embeddings would fail inside transformers when the
    first long pair is scored; refuse it when the model is loaded, naming the option."""
    if key.max_length is None:
        return
    config = getattr(getattr(model, "model", None), "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int):
        return
    if "roberta" in str(getattr(config, "model_type", "")) or "camembert" in str(getattr(config, "model_type", "")):
        positions -= 2  # RoBERTa-style models count positions from padding_idx + 1
    if key.max_length > positions:
        raise ConfigError(
            f"max_length={key.max_length} is above the {positions} token positions of model "
            f"{key.model_name!r}; set max_length to at most {positions}, or leave it unset to use the "
            "model's own limit"
        )


def quantize_int8(model: Any) -> None:
    """Dynamic int8 quantization of the transformer body's linear layers, in place (CPU only).

    Weights are quantized per output channel; activations are quantized on the fly per tensor.
    The pooler and classification head stay float32: they cost next to nothing and are where
    rounding error would reach the score most directly.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    hf = model.model
    prefix = getattr(hf, "base_model_prefix", "") or ""
    names = [
        name
        for name, module in hf.named_modules()
        if isinstance(module, torch.nn.Linear)
        and (not prefix or name.startswith(prefix + "."))
        and "pooler" not in name
    ]
    if not names:
        raise ConfigError(f"quantize='int8': model {type(hf).__name__} has no linear layers to quantize")
    with warnings.catch_warnings():
        # torch>=2.10 marks eager-mode quantization as deprecated in favour of torchao.
        warnings.simplefilter("ignore")
        quantize_dynamic(hf, dict.fromkeys(names, per_channel_dynamic_qconfig), inplace=True)


#: How many cross-encoders this process loaded and which are held (model, device, dtype, backend, quantize).
model_cache_info = CrossEncoderKey.cache_info
#: Drop every cached cross-encoder (rerankers built earlier reload on their next score).
clear_model_cache = CrossEncoderKey.clear
