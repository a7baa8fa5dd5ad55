"""The reductions of a batch's matrices (``xpnet._kernels``): on host arrays written as matrix
products with ones and a running column maximum, elsewhere the namespace's own; both equal
NumPy's ``sum`` and ``max`` to rounding, special values included."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Backend, assert_close, to_backend

import xpnet
from xpnet import _kernels as kernels

SHAPES = [(150, 3), (7, 1), (1, 5), (256, 10), (300, 24), (40, 30), (0, 3)]


def _matrix(shape: tuple[int, int], dtype: str, special: bool) -> np.ndarray:
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    if special and x.size >= 3:
        x.flat[0], x.flat[x.size // 2], x.flat[-1] = np.nan, np.inf, -np.inf
    return x


@pytest.mark.parametrize("special", [False, True], ids=["finite", "nan-inf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reductions_equal_numpys(backend: Backend, shape, dtype: str, special: bool) -> None:
    host = _matrix(shape, dtype, special)
    x, xp = to_backend(host, backend), xpnet.namespace(backend.library)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    with np.errstate(invalid="ignore"):
        expected = {
            "column_sums": host.sum(axis=0),
            "row_sums": host.sum(axis=1, keepdims=True),
            "total": host.sum(dtype=host.dtype),
        }
        # Dask has no max of no rows (the network never asks for one); XLA's CPU max lets a
        # NaN through in some rows (jnp.max itself, which the kernel calls on JAX)
        if 0 not in shape and not (special and backend is Backend.JAX):
            expected["row_max"] = host.max(axis=1, keepdims=True)
    for name, want in expected.items():
        with np.errstate(invalid="ignore"):  # inf - inf in a sum: NaN, as NumPy's
            got = getattr(kernels, name)(x, xp=xp)
            assert_close(
                got, want, backend=backend, dtype=dtype, rtol=rtol, atol=rtol, err_msg=name
            )


def test_long_columns_fall_back_to_the_namespace_sum() -> None:
    """Beyond the longest vector of ones kept, ``xp.sum``: same values, nothing cached."""
    n = (1 << 16) + 3
    host = np.arange(2.0 * n).reshape(n, 2)
    xp = xpnet.namespace("numpy")
    before = len(kernels._HOST_ONES)
    np.testing.assert_array_equal(kernels.column_sums(host, xp=xp), host.sum(axis=0))
    assert kernels.total(host, xp=xp) == host.sum()
    assert all(key[2] != n for key in kernels._HOST_ONES)
    assert len(kernels._HOST_ONES) <= before + 1  # the two ones of the row sums at most


def test_the_kept_ones_are_never_handed_out() -> None:
    xp = xpnet.namespace("numpy")
    x = np.ones((4, 1))
    sums = kernels.column_sums(x, xp=xp)
    rows = kernels.row_sums(x, xp=xp)
    sums += 1.0
    rows += 1.0
    np.testing.assert_array_equal(kernels.column_sums(x, xp=xp), [4.0])
    np.testing.assert_array_equal(kernels.row_sums(x, xp=xp), np.ones((4, 1)))
