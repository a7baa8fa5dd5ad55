"""xpnet.gradcheck: finite differences, autograd oracles, mean_loss, max_relative_error."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Backend, assert_params_close, params_to_backend, snapshot, to_backend

import xpnet
from xpnet.gradcheck import mean_loss


@pytest.fixture(scope="module")
def small_iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")
    return X[::15], y[::15]  # 10 samples of all three classes


def test_numerical_grad_agrees_with_backward(backend: Backend, small_iris) -> None:
    X, y = small_iris
    params = params_to_backend(xpnet.init_params(2, 4, 3, seed=0, init="lecture"), backend)
    Xb, yb = to_backend(X, backend), to_backend(y, backend)
    numeric = xpnet.numerical_grad(Xb, yb, params)
    manual = xpnet.backward(Xb, yb, params)
    assert isinstance(numeric, xpnet.Params)
    assert_params_close(numeric, manual, rtol=1e-6, atol=1e-8)
    assert xpnet.max_relative_error(numeric, manual) < 1e-6


def test_numerical_grad_notices_a_wrong_gradient(small_iris) -> None:
    X, y = small_iris
    params = xpnet.init_params(2, 4, 3, seed=0, init="lecture")
    manual = xpnet.backward(X, y, params)
    wrong = manual._replace(W2=manual.W2 * 1.01)  # a 1% error in one block
    assert xpnet.max_relative_error(xpnet.numerical_grad(X, y, params), wrong) > 5e-3


def test_autograd_grad_equals_backward(autodiff_backend: Backend, small_iris) -> None:
    X, y = small_iris
    start = xpnet.init_params(2, 4, 3, seed=0, init="lecture")
    params = params_to_backend(start, autodiff_backend)
    Xb, yb = to_backend(X, autodiff_backend), to_backend(y, autodiff_backend)
    auto = xpnet.autograd_grad(Xb, yb, params)
    assert isinstance(auto, xpnet.Params)
    assert_params_close(auto, xpnet.backward(Xb, yb, params), rtol=1e-12, atol=1e-15)
    # the caller's parameters are untouched (no requires_grad left on them, same values)
    assert_params_close(params, start, backend=autodiff_backend, rtol=0, atol=0)
    if autodiff_backend is Backend.TORCH:
        assert not any(p.requires_grad for p in params)


@pytest.mark.parametrize("backend_name", ["numpy", "array_api_strict"])
def test_autograd_grad_without_autodiff_names_the_argument(backend_name: str, small_iris) -> None:
    pytest.importorskip(backend_name)
    X, y = small_iris
    params = xpnet.init_params(2, 4, 3, xp=backend_name, dtype="float64")
    Xb, yb = xpnet.asarray(X, backend=backend_name), xpnet.asarray(y, backend=backend_name)
    with pytest.raises(TypeError, match=r"^params: .* has no automatic differentiation"):
        xpnet.autograd_grad(Xb, yb, params)


def test_mean_loss_is_the_loss_of_loss_and_grad(backend: Backend, small_iris) -> None:
    X, y = small_iris
    params = params_to_backend(xpnet.init_params(2, 4, 3, seed=1), backend)
    Xb, yb = to_backend(X, backend), to_backend(y, backend)
    before = snapshot(Xb, yb, *params)
    loss = mean_loss(Xb, yb, params)
    assert loss.shape == ()
    assert xpnet.backend_name(loss) == backend.library
    assert float(loss) == pytest.approx(float(xpnet.loss_and_grad(Xb, yb, params)[0]), rel=1e-14)
    for array, copy in zip((Xb, yb, *params), before):
        np.testing.assert_array_equal(xpnet.to_numpy(array), copy)


def test_max_relative_error() -> None:
    ones = xpnet.Params(*(np.ones(2) for _ in range(4)))
    assert xpnet.max_relative_error(ones, ones) == 0.0
    bumped = ones._replace(b2=np.array([1.0, 1.1]))
    assert xpnet.max_relative_error(ones, bumped) == pytest.approx(0.1 / 1.1)
    tiny = xpnet.Params(*(np.zeros(2) for _ in range(3)), np.array([0.0, 1e-10]))
    zeros = xpnet.Params(*(np.zeros(2) for _ in range(4)))
    assert xpnet.max_relative_error(tiny, zeros) == pytest.approx(1e-2)  # the 1e-8 floor
    assert xpnet.max_relative_error(tiny, zeros, floor=1e-10) == pytest.approx(1.0)


def test_max_relative_error_across_backends(backend: Backend) -> None:
    params = xpnet.init_params(2, 3, 2, seed=0)
    assert xpnet.max_relative_error(params_to_backend(params, backend), params) == 0.0
