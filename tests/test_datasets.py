"""xpnet.datasets: the lecture's iris, digits and separable blobs on any backend and dtype."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Backend, assert_close, dtype_name
from sklearn.datasets import load_iris

import xpnet
from xpnet.backends import default_float_dtype


@pytest.mark.parametrize("dtype", [None, "float64", "float32"])
def test_load_iris_2d_is_the_slides_data(backend: Backend, xp, dtype: str | None) -> None:
    # the slide: X, y = load_iris(return_X_y=True); X = X[:, :2]; X = X - np.mean(X, axis=0)
    X_raw, y_raw = load_iris(return_X_y=True)
    expected = X_raw[:, :2] - np.mean(X_raw[:, :2], axis=0)
    X, y = xpnet.datasets.load_iris_2d(backend=backend.library, dtype=dtype)
    want = dtype or dtype_name(default_float_dtype(xp))
    assert_close(X, expected.astype(want), backend=backend, rtol=0, atol=0)
    assert_close(y, y_raw.astype(np.int64), backend=backend, rtol=0, atol=0)
    host = xpnet.to_numpy(X)
    np.testing.assert_allclose(host.mean(axis=0), 0.0, atol=1e-6 if want == "float32" else 1e-14)
    assert np.bincount(xpnet.to_numpy(y)).tolist() == [50, 50, 50]


def test_load_iris_2d_accepts_a_dtype_object_and_a_device(backend: Backend, xp) -> None:
    X, y = xpnet.datasets.load_iris_2d(backend=xp, dtype=xp.float32, device="cpu")
    assert dtype_name(X.dtype) == "float32"
    assert X.shape == (150, 2)
    assert xpnet.backend_name(y) == backend.library


def test_make_blobs_is_a_reproducible_labelled_set(backend: Backend) -> None:
    X, y = xpnet.datasets.make_blobs(120, 3, 4, seed=5, backend=backend.library, dtype="float64")
    assert tuple(X.shape) == (120, 3)
    assert tuple(y.shape) == (120,)
    assert dtype_name(y.dtype) == "int64"
    assert sorted(set(xpnet.to_numpy(y).tolist())) == [0, 1, 2, 3]
    X_again, y_again = xpnet.datasets.make_blobs(120, 3, 4, seed=5, backend="numpy")
    assert_close(X, X_again, backend=backend, rtol=0, atol=0)
    assert_close(y, y_again, backend=backend, rtol=0, atol=0)
    X_other, _ = xpnet.datasets.make_blobs(120, 3, 4, seed=6, backend="numpy")
    assert not np.array_equal(X_again, X_other)


def test_load_digits_scaled_to_unit_interval(backend: Backend) -> None:
    X, y = xpnet.datasets.load_digits(backend=backend.library, dtype="float32")
    assert tuple(X.shape) == (1797, 64)
    host = xpnet.to_numpy(X)
    assert host.dtype == np.float32
    assert host.min() == 0.0
    assert host.max() == 1.0
    assert sorted(set(xpnet.to_numpy(y).tolist())) == list(range(10))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("features", "classes"), [(2, 3), (2, 8), (5, 4)])
def test_make_blobs_classes_do_not_overlap(seed: int, features: int, classes: int) -> None:
    # the nearest class mean classifies every sample: the set is separable for any seed
    X, y = xpnet.datasets.make_blobs(300, features, classes, seed=seed, spread=0.5)
    means = np.stack([X[y == k].mean(axis=0) for k in range(classes)])
    nearest = np.argmin(np.linalg.norm(X[:, None, :] - means[None], axis=2), axis=1)
    np.testing.assert_array_equal(nearest, y)
