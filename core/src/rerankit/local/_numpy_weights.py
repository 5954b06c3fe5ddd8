"""Tensors of a ``.safetensors`` file as numpy arrays, read without torch or the safetensors package.

The format is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range, then the raw bytes. Export folders use it to apply, in numpy, a small
module the exported graph leaves out (a sentence-transformers ``Dense`` layer, a ColBERT
projection).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Optional

import numpy as np

from .._errors import ConfigError

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: str | Path, names: Optional[set[str]] = None) -> dict[str, np.ndarray]:
    """Tensors of ``path`` by name (all, or only ``names``), as float32 for float tensors."""
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
            start = 8 + size
            out = {}
            for name, info in header.items():
                if name == "__metadata__" or (names is not None and name not in names):
                    continue
                begin, end = info["data_offsets"]
                fh.seek(start + begin)
                raw = fh.read(end - begin)
                if info["dtype"] == "BF16":  # bfloat16: the high half of a float32
                    values = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
                elif info["dtype"] in DTYPES:
                    values = np.frombuffer(raw, DTYPES[info["dtype"]])
                else:
                    raise ValueError(f"tensor {name!r} has dtype {info['dtype']}, not read here")
                values = values.reshape(info["shape"])
                out[name] = values.astype(np.float32) if values.dtype.kind == "f" else values.copy()
            return out
    except (OSError, ValueError, KeyError, struct.error) as exc:
        raise ConfigError(f"{path}: not a readable safetensors file ({exc})") from None
