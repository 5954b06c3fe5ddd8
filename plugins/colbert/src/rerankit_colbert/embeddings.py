"""Token embeddings stored in the rows (a LanceDB multivector column), read for scoring.

A LanceDB multivector column is ``list<fixed_size_list<float32, dim>>``: one list of token vectors
per row. ``list<list<float>>`` (every vector the same length) and float16/float64 values are
accepted too. Every problem is an :class:`~rerankit.InputError` naming the column: a null row, a
row without vectors, vectors of the wrong dimension, non-finite values.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit import InputError

FIX = (
    "fill it with the same model's token embeddings (reranker.scorer.embed_documents(texts)), "
    "or unset embeddings_column to encode the text"
)


def _is_list(dtype: pa.DataType) -> bool:
    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)


def read_multivectors(values: Union[pa.Array, pa.ChunkedArray], column: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors [total, dim] float32, tokens per row [n])`` from a column of token-vector lists."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    dtype = array.type
    if not (_is_list(dtype) and _is_list(dtype.value_type) and pa.types.is_floating(dtype.value_type.value_type)):
        raise InputError(
            f"column '{column}' has type {dtype}; embeddings_column needs one list of token vectors "
            f"per row, e.g. LanceDB's multivector list<fixed_size_list<float, {dim}>>"
        )
    if array.null_count:
        rows = np.flatnonzero(np.asarray(array.is_null()))[:5].tolist()
        raise InputError(f"column '{column}' has {array.null_count} null row(s) (rows {rows}); {FIX}")
    counts = pc.list_value_length(array).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(counts) and counts.min() == 0:
        rows = np.flatnonzero(counts == 0)[:5].tolist()
        raise InputError(f"column '{column}' has rows with no token vectors (rows {rows}); {FIX}")
    inner = array.flatten()
    if inner.null_count:
        raise InputError(f"column '{column}' holds {inner.null_count} null token vector(s); {FIX}")
    if pa.types.is_fixed_size_list(inner.type):
        width = inner.type.list_size
    else:
        widths = np.unique(pc.list_value_length(inner).to_numpy(zero_copy_only=False))
        if len(widths) > 1:
            raise InputError(
                f"column '{column}' holds token vectors of different lengths ({', '.join(map(str, widths[:4]))}); "
                f"every vector must have the model's {dim} dimensions"
            )
        width = int(widths[0]) if len(widths) else dim
    if width != dim:
        raise InputError(
            f"column '{column}' holds {width}-dimensional token vectors but the model makes "
            f"{dim}-dimensional ones; {FIX}"
        )
    flat = inner.flatten()
    if flat.null_count:
        raise InputError(f"column '{column}' has {flat.null_count} null value(s) inside its token vectors; {FIX}")
    vectors = flat.cast(pa.float32()).to_numpy(zero_copy_only=False).reshape(-1, dim)
    if not np.isfinite(vectors).all():
        raise InputError(f"column '{column}' has NaN or infinite values in its token vectors; {FIX}")
    return vectors, counts
