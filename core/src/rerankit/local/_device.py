"""Which device a local model runs on, and which precisions that device can run.

``resolve_device`` turns ``None``/``"auto"`` into a concrete device (cuda, then mps, then cpu) and
is the only place that asks torch what hardware there is, so every local-model plugin picks the
same device on the same machine. torch is imported inside the function, never at import time.
"""

from __future__ import annotations

import logging

from .._errors import ConfigError

logger = logging.getLogger(__name__)

#: What ``device`` options accept: ``auto``, ``cpu``, ``mps``, ``cuda`` / ``cuda:1`` and friends.
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?|npu(:\d+)?)$"


def resolve_device(requested: str | None) -> str:
    """``None`` or ``"auto"``: cuda if available, then mps, then cpu; anything else is kept as given,
    after checking that a requested cuda or mps device exists (a ConfigError saying what to use)."""
    if requested not in (None, "auto"):
        kind = requested.split(":")[0]
        if kind not in ("cuda", "mps"):
            return requested
        import torch

        if kind == "cuda" and not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ConfigError(
                f"device='{requested}' but this torch ({torch.__version__}, {build}) sees no CUDA GPU; "
                "use device='cpu' (or 'auto', which picks a GPU when there is one), or install a torch "
                "build with CUDA on a machine with an NVIDIA GPU"
            )
        if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError(
                f"device='{requested}' but this torch sees no Apple GPU (mps); use device='cpu' or 'auto'"
            )
        return requested
    import torch

    if torch.cuda.is_available():
        device = "cuda"
    else:
        mps = getattr(torch.backends, "mps", None)
        device = "mps" if mps is not None and mps.is_available() else "cpu"
    logger.debug("device 'auto' resolved to '%s'", device)
    return device


def check_dtype(dtype: str, device: str, requested: str | None = None) -> None:
    """Refuse float16 on a CPU with a ConfigError saying what to use instead.

    ``device`` is where the model will run; ``requested`` is what the user asked for (``None`` or
    ``"auto"`` when the CPU came from auto-detection, which changes the advice). CPUs emulate
    float16 slowly and some kernels lack it; bfloat16 is the CPU's half precision.
    """
    if dtype != "float16" or device.split(":")[0] != "cpu":
        return
    if requested in (None, "auto"):
        raise ConfigError(
            "dtype='float16' needs a GPU, but device auto-detection found none (cuda or mps) and "
            "chose 'cpu'; use dtype='bfloat16' or 'float32' on CPU"
        )
    raise ConfigError(
        f"dtype='float16' is not supported on device='{requested}' (CPUs emulate it slowly and some "
        "kernels lack it); use dtype='bfloat16' or 'float32' on CPU, or a GPU device"
    )
