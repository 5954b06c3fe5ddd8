"""The options every local-model reranker shares, as a pydantic base config.

Names follow LanceDB's local rerankers (``model_name``, ``device``, ``trust_remote_code``) and
Hugging Face's loaders (``cache_dir``, ``local_files_only``). A plugin derives its config from
:class:`LocalModelConfig`, sets its own ``model_name`` default and adds what only it needs.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from .._config import RerankerConfig
from ._backends import check_backend
from ._device import DEVICE_PATTERN, check_dtype

DType = Literal["float32", "float16", "bfloat16"]
Backend = Literal["torch", "onnx", "openvino"]


class LocalModelConfig(RerankerConfig):
    """Options of a reranker that runs a model in this process (plus column, top_n, return_score)."""

    model_name: str = Field(..., min_length=1, description="Hugging Face model id or local directory.")
    device: Optional[str] = Field(
        None,
        pattern=DEVICE_PATTERN,
        description="'cpu', 'cuda', 'cuda:1', 'mps', ...; None or 'auto' picks cuda, then mps, then cpu.",
    )
    batch_size: int = Field(32, ge=1, description="Inputs per forward pass.")
    dtype: DType = Field(
        "float32",
        description="Weights' precision. float16 needs a GPU; bfloat16 works on GPUs and on CPUs "
        "(fast on those with AVX512-BF16 or AMX).",
    )
    trust_remote_code: bool = Field(
        False, description="Run model code shipped with the model (off by default, unlike LanceDB)."
    )
    cache_dir: Optional[str] = Field(None, description="Where downloaded models are stored.")
    local_files_only: bool = Field(False, description="Never download; load from the cache or a local path.")
    backend: Backend = Field(
        "torch",
        description="What runs the forward pass: 'torch', or on the CPU 'onnx' (ONNX Runtime) or "
        "'openvino'; the model is exported once and cached on disk (or taken from the checkpoint's "
        "own onnx/ or openvino/ folder).",
    )
    quantize: Optional[Literal["int8"]] = Field(
        None,
        description="'int8': dynamic int8 quantization on the CPU (backend='onnx'; torch too where the "
        "plugin offers it). Fastest, scores change slightly.",
    )
    threads: Optional[int] = Field(
        None, ge=1, description="CPU threads of the onnx or openvino backend; None: the cores available."
    )

    #: Whether this plugin quantizes to int8 on the torch backend too (the cross-encoder does).
    torch_int8: ClassVar[bool] = False

    @model_validator(mode="after")
    def _dtype_fits_device(self) -> LocalModelConfig:
        if self.device not in (None, "auto"):
            check_dtype(self.dtype, self.device, self.device)
        check_backend(self.backend, self.dtype, self.quantize, self.threads, self.device, self.torch_int8)
        return self
