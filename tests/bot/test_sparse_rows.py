"""The one-row sparse matrices built without scipy's checks (bot/rasa_components/sparse_rows.py) are scipy's own:
the same attributes, arrays and types as its constructors give, and scipy's constructor for anything else."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix, csr_matrix, hstack

from bot.rasa_components import sparse_rows
from bot.rasa_components.sparse_rows import coo_row, csr_row


def assert_same(got, expected) -> None:
    assert type(got) is type(expected)
    assert set(vars(got)) == set(vars(expected))
    for name, value in vars(expected).items():
        if isinstance(value, np.ndarray):
            assert value.dtype == vars(got)[name].dtype and np.array_equal(value, vars(got)[name]), name
        else:
            assert vars(got)[name] == value, name
    assert np.array_equal(got.toarray(), expected.toarray())


def random_row(rng: np.random.Generator, width: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    columns = np.sort(rng.choice(width, size=rng.integers(0, min(width, 30) + 1), replace=False)).astype(np.int32)
    return rng.integers(1, 5, size=len(columns)).astype(dtype), columns


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.int32])
def test_a_coo_row_is_scipys(dtype) -> None:
    rng = np.random.default_rng(7)
    for width in [1, 2, 10, 500, 40_000]:
        for _ in range(30):
            data, columns = random_row(rng, width, dtype)
            expected = coo_matrix((data, (np.zeros(len(columns), np.int32), columns)), shape=(1, width))
            assert_same(coo_row(data, columns, width), expected)


def test_hstacked_coo_rows_make_scipys_csr_row() -> None:
    rng = np.random.default_rng(8)
    for _ in range(200):
        blocks = []
        for width in rng.integers(1, 3000, size=rng.integers(1, 4)):
            data, columns = random_row(rng, int(width), np.int64)
            blocks.append(coo_row(data, columns, int(width)))
        offsets = np.cumsum([0] + [b.shape[1] for b in blocks])
        columns = np.concatenate([b.col.astype(np.int64) + o for b, o in zip(blocks, offsets, strict=False)])
        data = np.concatenate([b.data for b in blocks])
        expected = hstack(blocks, format="csr")
        expected.sum_duplicates()  # canonical, with scipy's flags saying so, as `_one_row` has always given it
        assert_same(csr_row(data, columns, int(offsets[-1])), expected)


def test_what_is_not_in_scipys_form_goes_to_scipy() -> None:
    # Repeated or unordered columns: scipy's constructor and its sum of duplicates.
    data, columns = np.array([1, 2, 3], np.int64), np.array([4, 1, 4], np.int64)
    expected = csr_matrix((data, columns.astype(np.int32), np.array([0, 3], np.int32)), shape=(1, 6))
    expected.sum_duplicates()
    assert_same(csr_row(data, columns, 6), expected)
    # A column beyond the width: scipy's error, not a broken matrix.
    with pytest.raises(ValueError):
        coo_row(np.ones(1), np.array([6], np.int32), 6)
    # int64 columns for a COO row: scipy converts them.
    assert_same(coo_row(np.ones(2), np.array([1, 3]), 5), coo_matrix((np.ones(2), ([0, 0], [1, 3])), shape=(1, 5)))


def test_a_scipy_with_other_attributes_gets_its_own_constructors(monkeypatch) -> None:
    monkeypatch.setattr(sparse_rows, "_COO_KNOWN", False)
    monkeypatch.setattr(sparse_rows, "_CSR_CANONICAL_KNOWN", False)
    data, columns = np.array([2, 1], np.int64), np.array([0, 3], np.int32)
    assert_same(coo_row(data, columns, 4), coo_matrix((data, ([0, 0], columns)), shape=(1, 4)))
    expected = hstack([coo_matrix((data, ([0, 0], columns)), shape=(1, 4))], format="csr")
    expected.sum_duplicates()
    assert_same(csr_row(data, columns, 4), expected)


def test_this_scipy_is_the_one_the_fast_paths_know() -> None:
    # If scipy's matrices change what they keep, the fast paths step aside; this says when that happened.
    assert sparse_rows._COO_KNOWN and sparse_rows._CSR_CANONICAL_KNOWN
