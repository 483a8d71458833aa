"""One-row sparse matrices built from arrays already in scipy's own form, without the checks of scipy's
constructors.

A message's sentence features are one row: the featurizers make a COO row of it and the classifiers join them
into one CSR row. scipy's constructors check and convert their arrays, and work out the index type, for every
matrix: under load that was ~4% of the Rasa server's time (bench/README.md), for arrays made right here. These
functions give the same matrix (the same attributes, arrays and types: tests/bot/test_sparse_rows.py) when
the arrays are what scipy would keep; anything else goes to scipy's constructor, and so does a scipy whose
matrices keep other attributes than the ones this was written for.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

_INT32_MAX = np.iinfo(np.int32).max


def _attributes(matrix: object) -> frozenset[str]:
    return frozenset(vars(matrix))


# What this scipy's matrices hold (checked once, at import): the fast paths fill in exactly these.
_COO_KNOWN = _attributes(coo_matrix((1, 1))) == {"_shape", "maxprint", "row", "col", "data", "has_canonical_format"}
_CSR_CANONICAL_KNOWN = _attributes(
    csr_matrix((np.ones(1), np.zeros(1, np.int32), np.array([0, 1], np.int32)), shape=(1, 1))
) == {"_shape", "maxprint", "indices", "indptr", "data"}
_MAXPRINT = coo_matrix((1, 1)).maxprint


def _fits(width: int, count: int) -> bool:
    # scipy keeps int32 indices while the width and the number of values fit in them
    return width < _INT32_MAX and count < _INT32_MAX


def coo_row(data: np.ndarray, columns: np.ndarray, width: int) -> coo_matrix:
    """`coo_matrix((data, (zeros, columns)), shape=(1, width))`, for int32 `columns` (as scipy keeps them)."""
    rows = np.zeros(len(columns), dtype=np.int32)
    if not (_COO_KNOWN and columns.dtype == np.int32 and data.ndim == 1 and data.dtype.isnative and _fits(width, 0)):
        return coo_matrix((data, (rows, columns)), shape=(1, width))
    if len(columns) != len(data) or (len(columns) and (columns.min() < 0 or columns.max() >= width)):
        return coo_matrix((data, (rows, columns)), shape=(1, width))  # scipy's own error
    matrix = coo_matrix.__new__(coo_matrix)
    matrix.__dict__.update(
        _shape=(1, width), maxprint=_MAXPRINT, row=rows, col=columns, data=data, has_canonical_format=False
    )
    return matrix


def csr_row(data: np.ndarray, columns: np.ndarray, width: int) -> csr_matrix:
    """A one-row CSR matrix in canonical form (`sum_duplicates` done), as `hstack(..., format="csr")` gives it:
    without scipy's checks when `columns` are strictly increasing (each once, in order)."""
    index_dtype = np.int32 if _fits(width, len(data)) else np.int64
    indices = columns.astype(index_dtype, copy=False)
    indptr = np.array([0, len(data)], dtype=index_dtype)
    increasing = len(indices) < 2 or bool(np.all(indices[1:] > indices[:-1]))
    in_range = not len(indices) or (indices[0] >= 0 and indices[-1] < width)
    if not (_CSR_CANONICAL_KNOWN and increasing and in_range and data.ndim == 1 and data.dtype.isnative):
        out = csr_matrix((data, indices, indptr), shape=(1, width))
        out.sum_duplicates()
        return out
    matrix = csr_matrix.__new__(csr_matrix)
    matrix.__dict__.update(
        _shape=(1, width),
        maxprint=_MAXPRINT,
        indices=indices,
        indptr=indptr,
        data=data,
        _has_canonical_format=True,
        _has_sorted_indices=True,
    )
    return matrix
