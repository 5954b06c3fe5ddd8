"""Document vectors stored in the rows (``vector_column``), read and checked, and the similarity.

A LanceDB vector column is ``fixed_size_list<float32, dim>``; ``list<float>`` (every row the same
length) and float16/float64 values are accepted too. Every problem is an
:class:`~rerankit.InputError` naming the column and the fix: a column that is not vectors, a null
row or value, a length other than the query's, NaN or infinity.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rerankit import InputError

FIX = (
    "fill it with the same model's vectors (reranker.scorer.embed_documents(texts)), or unset "
    "vector_column to encode the text"
)


def read_vectors(values: Union[pa.Array, pa.ChunkedArray], column: str) -> np.ndarray:
    """float32 ``[rows, dim]`` from a column holding one vector per row."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    dtype = array.type
    listed = pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)
    if not (listed and pa.types.is_floating(dtype.value_type)):
        raise InputError(
            f"column '{column}' has type {dtype}; vector_column needs one float vector per row, "
            "e.g. LanceDB's fixed_size_list<float, dim>"
        )
    if array.null_count:
        rows = np.flatnonzero(np.asarray(array.is_null()))[:5].tolist()
        raise InputError(f"column '{column}' has {array.null_count} null vector(s) (rows {rows}); {FIX}")
    if pa.types.is_fixed_size_list(dtype):
        dim = dtype.list_size
    else:
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        widths = np.unique(lengths)
        if len(widths) > 1 or (len(widths) and widths[0] == 0):
            rows = np.flatnonzero(lengths != np.bincount(lengths).argmax())[:5].tolist()
            raise InputError(
                f"column '{column}' holds vectors of different lengths ({', '.join(map(str, widths[:4]))}; "
                f"rows {rows}); every row needs the model's vector; {FIX}"
            )
        dim = int(widths[0]) if len(widths) else 0
    flat = array.flatten()
    if flat.null_count:
        raise InputError(f"column '{column}' has {flat.null_count} null value(s) inside its vectors; {FIX}")
    vectors = flat.cast(pa.float32()).to_numpy(zero_copy_only=False).reshape(len(array), dim)
    if not np.isfinite(vectors).all():
        rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))[:5].tolist()
        raise InputError(f"column '{column}' has NaN or infinite values (rows {rows}); {FIX}")
    return vectors


def unit(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero vector stays zero, so its cosine is 0)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def similarities(query: np.ndarray, documents: np.ndarray, kind: str, normalize: bool) -> np.ndarray:
    """Each document's similarity to ``query`` (float64): cosine, or the inner product."""
    q = query.astype(np.float64)
    d = documents.astype(np.float64)
    if kind == "cosine" or normalize:
        q, d = unit(q), unit(d)
    return d @ q
