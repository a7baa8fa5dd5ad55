"""xpnet.functional: relu, relu_grad, softmax, log_softmax, one_hot, cross-entropy, its gradient.

Expected values are computed in NumPy; only the function under test runs on the backend.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Backend, assert_close, snapshot, to_backend

import xpnet

Z = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 3.0, 0.5], [1e-3, -1e-3, 0.0]])
Y = np.array([0, 1, 1, 2])


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- ReLU -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_is_the_pairwise_maximum_with_zero(backend: Backend, dtype: str) -> None:
    x = np.array([[-2.0, -0.0, 0.0], [0.5, 3.0, -1e-30]], dtype=dtype)
    out = xpnet.relu(to_backend(x, backend))
    assert_close(out, np.maximum(x, 0).astype(dtype), backend=backend, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_grad_is_one_where_positive_zero_at_the_kink(backend: Backend, dtype: str) -> None:
    x = np.array([[-2.0, 0.0, 1e-30], [0.5, 3.0, -1e-30]], dtype=dtype)
    expected = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=dtype)
    assert_close(xpnet.relu_grad(to_backend(x, backend)), expected, backend=backend, rtol=0)
    # the same mask from the pre-activation and from the activation relu(x)
    relu_x = xpnet.relu(to_backend(x, backend))
    assert_close(xpnet.relu_grad(relu_x), expected, backend=backend, rtol=0)


def test_relu_rejects_integer_input(backend: Backend) -> None:
    with pytest.raises(TypeError, match=r"^x: expected a real floating dtype"):
        xpnet.relu(to_backend(np.arange(3), backend))
    with pytest.raises(TypeError, match=r"^x: expected a real floating dtype"):
        xpnet.relu_grad(to_backend(np.arange(3), backend))


# --- softmax / log_softmax --------------------------------------------------------------------


def test_softmax_values(backend: Backend) -> None:
    probs = xpnet.softmax(to_backend(Z, backend))
    assert_close(probs, _np_softmax(Z), backend=backend, rtol=1e-15, atol=1e-17)
    assert_close(probs[1, ...], np.full(3, 1 / 3), backend=backend, rtol=1e-15)


def test_softmax_along_axis_0(backend: Backend) -> None:
    probs = xpnet.softmax(to_backend(Z, backend), axis=0)
    assert_close(probs, _np_softmax(Z.T).T, backend=backend, rtol=1e-15, atol=1e-17)


def test_log_softmax_values(backend: Backend) -> None:
    out = xpnet.log_softmax(to_backend(Z, backend))
    assert_close(out, np.log(_np_softmax(Z)), backend=backend, rtol=1e-14, atol=1e-15)


def test_softmax_and_log_softmax_keep_float32(backend: Backend) -> None:
    z32 = Z.astype(np.float32)
    assert_close(
        xpnet.softmax(to_backend(z32, backend)),
        _np_softmax(Z).astype(np.float32),
        backend=backend,
        rtol=1e-6,
        atol=1e-7,
    )
    assert_close(
        xpnet.log_softmax(to_backend(z32, backend)),
        np.log(_np_softmax(Z)).astype(np.float32),
        backend=backend,
        rtol=1e-6,
        atol=1e-6,
    )


# --- one_hot ------------------------------------------------------------------------------------


def test_one_hot_values_and_default_dtype(backend: Backend, xp) -> None:
    out = xpnet.one_hot(to_backend(Y, backend), 3)
    expected = np.eye(3)[Y]
    default = xpnet.backends.default_float_dtype(xp)
    assert_close(out, expected.astype(str(default).rsplit(".", 1)[-1]), backend=backend, rtol=0)


@pytest.mark.parametrize("dtype_kind", ["name", "namespace dtype", "numpy dtype"])
def test_one_hot_dtype_by_name_or_object(backend: Backend, xp, dtype_kind: str) -> None:
    dtype = {"name": "float32", "namespace dtype": xp.float32, "numpy dtype": np.float32}[
        dtype_kind
    ]
    out = xpnet.one_hot(to_backend(Y, backend), 4, dtype=dtype)
    assert_close(out, np.eye(4, dtype=np.float32)[Y], backend=backend, rtol=0, atol=0)


def test_one_hot_of_a_2d_label_array(backend: Backend) -> None:
    y = np.array([[0, 1], [2, 2]])
    out = xpnet.one_hot(to_backend(y, backend), 3, dtype="float64")
    assert_close(out, np.eye(3)[y], backend=backend, rtol=0, atol=0)


# --- cross-entropy and its gradient -------------------------------------------------------------


def test_cross_entropy_is_the_mean_negative_log_probability(backend: Backend) -> None:
    expected = -np.mean(np.log(_np_softmax(Z))[np.arange(4), Y])
    loss = xpnet.cross_entropy(to_backend(Z, backend), to_backend(Y, backend))
    assert loss.shape == ()
    assert_close(loss, np.asarray(expected), backend=backend, rtol=1e-14)


def test_cross_entropy_grad_is_p_minus_e_y_over_n(backend: Backend) -> None:
    expected = (_np_softmax(Z) - np.eye(3)[Y]) / 4
    grad = xpnet.cross_entropy_grad(to_backend(Z, backend), to_backend(Y, backend))
    assert_close(grad, expected, backend=backend, rtol=1e-14, atol=1e-17)


def test_cross_entropy_of_a_perfect_and_a_uniform_prediction(backend: Backend) -> None:
    y = to_backend(np.array([0, 1]), backend)
    perfect = to_backend(np.array([[800.0, 0.0], [0.0, 800.0]]), backend)
    assert_close(xpnet.cross_entropy(perfect, y), np.asarray(0.0), backend=backend, atol=0)
    uniform = to_backend(np.zeros((2, 2)), backend)
    assert_close(xpnet.cross_entropy(uniform, y), np.asarray(np.log(2.0)), backend=backend)


def test_functions_do_not_modify_their_inputs(backend: Backend) -> None:
    z, y = to_backend(Z, backend), to_backend(Y, backend)
    before = snapshot(z, y)
    xpnet.relu(z), xpnet.relu_grad(z), xpnet.softmax(z), xpnet.log_softmax(z)
    xpnet.one_hot(y, 3), xpnet.cross_entropy(z, y), xpnet.cross_entropy_grad(z, y)
    for array, copy in zip((z, y), before):
        np.testing.assert_array_equal(xpnet.to_numpy(array), copy)


# --- numerical stability: huge logits ------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_equal_huge_float32_logits_give_exactly_log_k(backend: Backend, n: int, k: int) -> None:
    z = to_backend(np.full((n, k), 1e8, dtype=np.float32), backend)
    y = to_backend(np.arange(n) % k, backend)
    loss = xpnet.cross_entropy(z, y)
    assert_close(loss, np.asarray(np.log(np.float32(k))), backend=backend, rtol=0, atol=0)
    assert_close(xpnet.softmax(z), np.full((n, k), 1 / k, dtype=np.float32), backend=backend)


@pytest.mark.parametrize("n", [7, 100])
@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_equal_huge_float32_logits_over_many_samples(backend: Backend, n: int, k: int) -> None:
    # the mean over n samples rounds in float32: log K to float32 precision
    z = to_backend(np.full((n, k), 1e8, dtype=np.float32), backend)
    y = to_backend(np.arange(n) % k, backend)
    loss = xpnet.cross_entropy(z, y)
    assert_close(loss, np.asarray(np.log(np.float32(k))), backend=backend, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logits_of_plus_minus_1000_give_finite_results(backend: Backend, dtype: str) -> None:
    z_host = np.array(
        [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [-1000.0, -1000.0, -1000.0]]
    )
    z = to_backend(z_host.astype(dtype), backend)
    y = to_backend(np.array([1, 1, 2]), backend)
    loss = xpnet.cross_entropy(z, y)
    probs = xpnet.softmax(z)
    log_probs = xpnet.log_softmax(z)
    grad = xpnet.cross_entropy_grad(z, y)
    for out in (loss, probs, log_probs, grad):
        assert np.all(np.isfinite(xpnet.to_numpy(out))), out
    # sample 0 puts all its mass on the wrong class: loss 2000 / 3 for that row, 0 for row 1
    expected_loss = (2000.0 + 0.0 + np.log(3.0)) / 3
    assert_close(loss, np.asarray(expected_loss, dtype=dtype), backend=backend, rtol=1e-6)
    assert_close(
        probs,
        np.array([[1, 0, 0], [0, 1, 0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype),
        backend=backend,
        rtol=1e-6,
    )
    assert_close(
        grad,
        np.array([[1, -1, 0], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3]], dtype=dtype) / 3,
        backend=backend,
        rtol=1e-6,
        atol=1e-7,
    )


def test_network_with_huge_weights_stays_finite(backend: Backend) -> None:
    X = to_backend(np.array([[1.0, -1.0], [2.0, 0.5]]), backend)
    y = to_backend(np.array([0, 2]), backend)
    huge = [np.full((2, 3), 300.0), np.zeros(3), np.full((3, 3), 5.0) * [1, -1, 0], np.zeros(3)]
    params = xpnet.Params(*(to_backend(a, backend) for a in huge))  # logits up to +-1e4
    loss, grads = xpnet.loss_and_grad(X, y, params)
    assert np.isfinite(xpnet.to_numpy(loss))
    for g in grads:
        assert np.all(np.isfinite(xpnet.to_numpy(g)))
    assert np.all(np.isfinite(xpnet.to_numpy(xpnet.predict_proba(X, params))))
