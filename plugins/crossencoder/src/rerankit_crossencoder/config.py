"""The cross-encoder's options: a pydantic model validated by ``rerankit.get_reranker``.

Names follow ``lancedb.rerankers.CrossEncoderReranker`` (``model_name``, ``device``,
``batch_size``, ``trust_remote_code``) so code moving from LanceDB keeps its arguments. Checks that
need no torch (an int8 model on a GPU, half precision forced onto the CPU) fail here, at
``get_reranker`` time; those that depend on the auto-detected device fail on first score.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

import rerankit

DEFAULT_MODEL = "cross-encoder/ms-marco-TinyBERT-L-6"

Activation = Literal["auto", "raw", "sigmoid"]
DType = Literal["float32", "float16", "bfloat16"]
Backend = Literal["torch", "onnx", "openvino"]


class CrossEncoderConfig(rerankit.RerankerConfig):
    """Options of the ``crossencoder`` reranker (on top of ``column``, ``top_n``, ``return_score``)."""

    model_name: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        description="Hugging Face model id or local directory of a cross-encoder (one-logit head).",
    )
    device: Optional[str] = Field(
        None,
        pattern=r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?|npu(:\d+)?)$",
        description="'cpu', 'cuda', 'cuda:1', 'mps', ...; None or 'auto' picks cuda, then mps, then cpu.",
    )
    batch_size: int = Field(32, ge=1, description="Query-text pairs per forward pass.")
    max_length: Optional[int] = Field(
        None,
        ge=8,
        description="Token limit per pair; longer pairs are truncated and counted in a warning. "
        "None uses the model's own limit.",
    )
    activation: Activation = Field(
        "auto",
        description="'auto' applies what the model was saved with, exactly as CrossEncoder.predict "
        "(and LanceDB) do; 'raw' returns logits; 'sigmoid' maps them to (0, 1).",
    )
    dtype: DType = Field(
        "float32",
        description="Weights' precision. float16 needs a GPU; bfloat16 works on GPUs and on CPUs "
        "(fast on those with AVX512-BF16 or AMX).",
    )
    quantize: Optional[Literal["int8"]] = Field(
        None,
        description="Fast CPU path: 'int8' applies dynamic int8 quantization to the transformer's "
        "linear layers (CPU and torch backend only; see the README for its accuracy).",
    )
    trust_remote_code: bool = Field(
        False, description="Run model code shipped with the model (off by default, unlike LanceDB)."
    )
    backend: Backend = Field("torch", description="sentence-transformers backend: torch, onnx or openvino.")
    cache_dir: Optional[str] = Field(None, description="Where downloaded models are stored.")
    local_files_only: bool = Field(False, description="Never download; load from the cache or a local path.")

    @model_validator(mode="after")
    def _consistent(self) -> CrossEncoderConfig:
        device = (self.device or "auto").split(":")[0]
        if self.backend != "torch" and self.dtype != "float32":
            raise ValueError(
                f"dtype='{self.dtype}' only applies to backend='torch'; the {self.backend} backend "
                "uses the precision of its exported model, so leave dtype='float32'"
            )
        if self.quantize is not None:
            if self.backend != "torch":
                raise ValueError(f"quantize='{self.quantize}' needs backend='torch' (got '{self.backend}')")
            if self.dtype != "float32":
                raise ValueError(
                    f"quantize='{self.quantize}' starts from float32 weights; drop dtype='{self.dtype}'"
                )
            if device not in ("auto", "cpu"):
                raise ValueError(
                    f"quantize='{self.quantize}' is a CPU-only path (torch dynamic quantization); "
                    f"drop it on device='{self.device}' and use dtype='float16' or 'bfloat16' instead"
                )
        if self.dtype == "float16" and device == "cpu":
            raise ValueError(
                "dtype='float16' is not supported on device='cpu' (CPUs emulate it slowly and some "
                "kernels lack it); use dtype='bfloat16' or 'float32' on CPU, or a GPU device"
            )
        return self
