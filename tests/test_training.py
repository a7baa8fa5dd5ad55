"""Training end to end: one seed gives one trajectory on every backend, and the network learns.

On the lecture's iris, full-batch and minibatch SGD from one seed reach the same final
parameters on every backend (float64, within 1e-10 of NumPy), and the loss falls well
below its start; on separable blobs, the training accuracy exceeds 0.95.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import Backend, assert_params_close, params_to_backend, to_backend

import xpnet

RUNS = {
    "full-batch": {"epochs": 300, "lr": 0.5, "batch_size": None},
    "minibatch-16": {"epochs": 60, "lr": 0.1, "batch_size": 16},
}


@functools.cache
def _iris() -> tuple[np.ndarray, np.ndarray]:
    return xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")


@functools.cache
def _numpy_run(run: str) -> tuple[xpnet.Params, xpnet.History]:
    X, y = _iris()
    return xpnet.train(X, y, xpnet.init_params(2, 10, 3, seed=0), seed=0, **RUNS[run])


@pytest.mark.parametrize("run", RUNS)
def test_every_backend_reaches_the_same_parameters_on_iris(backend: Backend, run: str) -> None:
    X, y = _iris()
    start = params_to_backend(xpnet.init_params(2, 10, 3, seed=0), backend)
    params, history = xpnet.train(
        to_backend(X, backend), to_backend(y, backend), start, seed=0, **RUNS[run]
    )
    reference, ref_history = _numpy_run(run)
    assert_params_close(params, reference, backend=backend, rtol=0, atol=1e-10)
    np.testing.assert_allclose(history.loss, ref_history.loss, rtol=1e-10)
    assert history.accuracy == pytest.approx(ref_history.accuracy, abs=1e-12)


@pytest.mark.parametrize("run", RUNS)
def test_the_loss_falls_well_below_its_start(run: str) -> None:
    X, y = _iris()
    params, history = _numpy_run(run)
    final = float(xpnet.gradcheck.mean_loss(X, y, params))
    assert final < 0.6 * history.loss[0]
    assert history.loss[-1] < 0.6 * history.loss[0]
    assert history.accuracy[-1] > history.accuracy[0]


def test_the_lectures_own_init_learns_too(backend: Backend) -> None:
    X, y = _iris()
    start = params_to_backend(xpnet.init_params(2, 10, 3, init="lecture"), backend)
    params, history = xpnet.train(
        to_backend(X, backend), to_backend(y, backend), start, epochs=100, lr=0.1, batch_size=16
    )
    assert history.loss[-1] < 0.6 * history.loss[0]
    accuracy = np.mean(xpnet.to_numpy(xpnet.predict(to_backend(X, backend), params)) == y)
    assert accuracy > 0.7  # two of iris's four features: versicolor and virginica overlap


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_separable_blobs_are_learned(backend: Backend, dtype: str) -> None:
    X, y = xpnet.datasets.make_blobs(300, 2, 3, seed=0, backend="numpy", dtype="float64")
    Xb, yb = to_backend(X, backend, dtype=dtype), to_backend(y, backend)
    start = xpnet.init_params(2, 10, 3, xp=backend.library, seed=0, dtype=dtype)
    params, history = xpnet.train(Xb, yb, start, epochs=30, lr=0.2, batch_size=32, seed=1)
    accuracy = np.mean(xpnet.to_numpy(xpnet.predict(Xb, params)) == y)
    assert accuracy > 0.95
    assert history.accuracy[-1] > 0.95
