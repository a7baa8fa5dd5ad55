"""The lecture's own examples, run on every backend.

Broadcasting (each case of the slides, the failing ones and the "?" ones answered),
``maximum`` (pairwise) against ``max`` (a reduction), reductions over each axis, the
vectorized and row-wise forward, the loops of the "vectorize this" slides against their
vectorized forms and :func:`xpnet.backward`, and the matrix-multiplication slide.

The loops are written once against the Array API: no in-place writes (``acc = acc + ...``
instead of ``acc += ...`` or ``C[i, j] = ...``), ``xp.linalg.outer`` for ``np.outer``.
"""

# The slides' legacy np.random.seed / randint calls are reproduced on purpose.
# ruff: noqa: NPY002

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import Backend, assert_close, params_to_backend, to_backend

import xpnet

#: What each backend raises for shapes that do not broadcast (recorded, and checked).
BROADCAST_ERRORS = {
    "numpy": ValueError,
    "array_api_strict": ValueError,
    "torch": RuntimeError,
    "jax": ValueError,
    "dask": ValueError,
}

A_324 = np.arange(3 * 2 * 4).reshape([3, 2, 4])
B_34 = np.arange(12).reshape((3, 4))


@pytest.fixture
def a(backend: Backend) -> Any:
    """The slides' tensor ``np.arange(3*2*4).reshape([3,2,4])``."""
    return to_backend(A_324, backend)


def _fails_to_broadcast(backend: Backend, function, *args) -> None:
    with pytest.raises(Exception) as info:
        function(*args)
    assert isinstance(info.value, BROADCAST_ERRORS[backend.library]), repr(info.value)


# --- broadcasting: a (3, 2, 4) plus ... ----------------------------------------------------------


def test_a_is_the_slides_tensor(backend: Backend, a) -> None:
    expected = [
        [[0, 1, 2, 3], [4, 5, 6, 7]],
        [[8, 9, 10, 11], [12, 13, 14, 15]],
        [[16, 17, 18, 19], [20, 21, 22, 23]],
    ]
    assert_close(a, np.array(expected), backend=backend, rtol=0, atol=0)


def test_plus_a_row_of_4(backend: Backend, a) -> None:
    expected = [
        [[0, 2, 4, 6], [4, 6, 8, 10]],
        [[8, 10, 12, 14], [12, 14, 16, 18]],
        [[16, 18, 20, 22], [20, 22, 24, 26]],
    ]
    assert_close(a + to_backend(np.arange(4), backend), np.array(expected), backend=backend)


def test_plus_a_2_by_4(backend: Backend, a) -> None:
    b = to_backend(np.arange(2 * 4).reshape([2, 4]), backend)
    expected = [
        [[0, 2, 4, 6], [8, 10, 12, 14]],
        [[8, 10, 12, 14], [16, 18, 20, 22]],
        [[16, 18, 20, 22], [24, 26, 28, 30]],
    ]
    assert_close(a + b, np.array(expected), backend=backend, rtol=0, atol=0)


def test_plus_a_3_by_4_is_an_error(backend: Backend, a) -> None:
    # trailing axes: 4 against 4 fine, then 2 against 3: neither is 1
    b = to_backend(np.arange(3 * 4).reshape([3, 4]), backend)
    _fails_to_broadcast(backend, lambda: a + b)


def test_plus_a_3_by_1_by_4(backend: Backend, a) -> None:
    b = to_backend(np.arange(3 * 4).reshape([3, 1, 4]), backend)
    expected = [
        [[0, 2, 4, 6], [4, 6, 8, 10]],
        [[12, 14, 16, 18], [16, 18, 20, 22]],
        [[24, 26, 28, 30], [28, 30, 32, 34]],
    ]
    assert_close(a + b, np.array(expected), backend=backend, rtol=0, atol=0)


def test_question_plus_a_vector_of_3_is_an_error(backend: Backend, a) -> None:
    # "?" answered: (3,) lines up with the last axis, 4, not the first
    b = to_backend(np.arange(3).reshape([3]), backend)
    _fails_to_broadcast(backend, lambda: a + b)


def test_question_plus_a_3_by_1_is_an_error(backend: Backend, a) -> None:
    # "?" answered: (3, 1) lines up with the last two axes (2, 4): 3 against 2 fails
    b = to_backend(np.arange(3).reshape([3, 1]), backend)
    _fails_to_broadcast(backend, lambda: a + b)


def test_question_plus_a_3_by_1_by_1(backend: Backend, a) -> None:
    # "?" answered (the next slide shows it): b[i] is added to every entry of a[i]
    b = to_backend(np.arange(3).reshape([3, 1, 1]), backend)
    expected = [
        [[0, 1, 2, 3], [4, 5, 6, 7]],
        [[9, 10, 11, 12], [13, 14, 15, 16]],
        [[18, 19, 20, 21], [22, 23, 24, 25]],
    ]
    assert_close(a + b, np.array(expected), backend=backend, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(2, 1), (1, 2, 1)])
def test_which_of_these_two_works_both_do(backend: Backend, a, shape: tuple) -> None:
    # "?" answered: both work, (2, 1) is padded on the left to (1, 2, 1); row j gets + j
    b = to_backend(np.arange(2).reshape(shape), backend)
    expected = [
        [[0, 1, 2, 3], [5, 6, 7, 8]],
        [[8, 9, 10, 11], [13, 14, 15, 16]],
        [[16, 17, 18, 19], [21, 22, 23, 24]],
    ]
    assert_close(a + b, np.array(expected), backend=backend, rtol=0, atol=0)


# --- maximum (pairwise) against max (a reduction) ------------------------------------------------


def test_maximum_is_pairwise(backend: Backend, xp) -> None:
    # a stands for the slide's 12 * randn(3, 4): its entries that win are the ones printed
    a = np.array(
        [
            [-5.0, 3.88881425, -1.0, -7.0],
            [-2.0, 23.30701124, 7.05094358, -3.0],
            [-10.0, 0.5, -4.0, 12.53350356],
        ]
    )
    expected = [
        [0.0, 3.88881425, 2.0, 3.0],
        [4.0, 23.30701124, 7.05094358, 7.0],
        [8.0, 9.0, 10.0, 12.53350356],
    ]
    b = to_backend(B_34.astype(np.float64), backend)
    out = xp.maximum(to_backend(a, backend), b)
    assert_close(out, np.array(expected), backend=backend, rtol=0, atol=0)


def test_max_of_two_arrays_is_an_error(backend: Backend, xp) -> None:
    # np.max(a, b) "will throw an error": max reduces one array; the second is no axis
    b = to_backend(B_34, backend)
    with pytest.raises(TypeError):
        xp.max(b, b)


def test_maximum_with_the_scalar_5(backend: Backend, xp) -> None:
    b = to_backend(B_34, backend)
    expected = np.array([[5, 5, 5, 5], [5, 5, 6, 7], [8, 9, 10, 11]])
    assert_close(xp.maximum(5, b), expected, backend=backend, rtol=0, atol=0)


def test_maximum_with_a_row_of_4(backend: Backend, xp) -> None:
    a = to_backend(np.array([5, 5, 6, 6]), backend)
    expected = np.array([[5, 5, 6, 6], [5, 5, 6, 7], [8, 9, 10, 11]])
    assert_close(xp.maximum(a, to_backend(B_34, backend)), expected, backend=backend, rtol=0)


def test_question_maximum_with_a_vector_of_3_is_an_error(backend: Backend, xp) -> None:
    # "?" answered: (3,) lines up with the 4 columns, not the 3 rows
    a = to_backend(np.array([2, 6, 9]), backend)
    _fails_to_broadcast(backend, xp.maximum, a, to_backend(B_34, backend))


def test_maximum_with_a_column_of_3(backend: Backend, xp) -> None:
    expected = np.array([[2, 2, 2, 3], [6, 6, 6, 7], [9, 9, 10, 11]])
    b = to_backend(B_34, backend)
    column = to_backend(np.array([2, 6, 9]).reshape((3, 1)), backend)
    assert_close(xp.maximum(column, b), expected, backend=backend, rtol=0, atol=0)
    expanded = xp.expand_dims(to_backend(np.array([2, 6, 9]), backend), axis=1)
    assert tuple(expanded.shape) == (3, 1)
    assert_close(xp.maximum(expanded, b), expected, backend=backend, rtol=0, atol=0)


def test_breakout_3_by_1_by_1_against_3_by_4(backend: Backend, xp) -> None:
    # (3, 1, 1) against (3, 4) -> (3, 3, 4): out[i] = maximum(a_i, b), the whole of b for each a_i
    a = xp.expand_dims(to_backend(np.array([2, 6, 9]), backend), axis=(1, 2))
    assert tuple(a.shape) == (3, 1, 1)
    out = xp.maximum(a, to_backend(B_34, backend))
    expected = [
        [[2, 2, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
        [[6, 6, 6, 6], [6, 6, 6, 7], [8, 9, 10, 11]],
        [[9, 9, 9, 9], [9, 9, 9, 9], [9, 9, 10, 11]],
    ]
    assert_close(out, np.array(expected), backend=backend, rtol=0, atol=0)


# --- reductions ----------------------------------------------------------------------------------

MAX = {
    None: 23,
    0: [[16, 17, 18, 19], [20, 21, 22, 23]],
    1: [[4, 5, 6, 7], [12, 13, 14, 15], [20, 21, 22, 23]],
    -1: [[3, 7], [11, 15], [19, 23]],
}
SUM = {
    None: 276,
    0: [[24, 27, 30, 33], [36, 39, 42, 45]],
    1: [[4, 6, 8, 10], [20, 22, 24, 26], [36, 38, 40, 42]],
    -1: [[6, 22], [38, 54], [70, 86]],
}
MEAN = {
    None: 11.5,
    0: [[8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0]],
    1: [[2.0, 3.0, 4.0, 5.0], [10.0, 11.0, 12.0, 13.0], [18.0, 19.0, 20.0, 21.0]],
    -1: [[1.5, 5.5], [9.5, 13.5], [17.5, 21.5]],
}
KEPT_SHAPE = {None: (1, 1, 1), 0: (1, 2, 4), 1: (3, 1, 4), -1: (3, 2, 1)}


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("reduction", ["max", "sum", "mean"])
def test_reductions_over_each_axis(backend: Backend, xp, a, reduction: str, axis) -> None:
    values = {"max": MAX, "sum": SUM, "mean": MEAN}[reduction][axis]
    x = xp.astype(a, xp.float64) if reduction == "mean" else a  # mean needs a floating dtype
    out = getattr(xp, reduction)(x, axis=axis)
    expected = np.array(values, dtype=np.float64 if reduction == "mean" else np.int64)
    assert_close(out, expected, backend=backend, rtol=0, atol=0)
    kept = getattr(xp, reduction)(x, axis=axis, keepdims=True)
    assert tuple(kept.shape) == KEPT_SHAPE[axis]
    assert_close(xp.reshape(kept, out.shape), expected, backend=backend, rtol=0, atol=0)


# --- the network on the lecture's data and weights -----------------------------------------------


@pytest.fixture
def lecture(backend: Backend):
    """The lecture's setting: iris (2 features, centred), init_params(2, 10, 3), seed 0."""
    X, y = xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")
    params = xpnet.init_params(2, 10, 3, init="lecture")
    return to_backend(X, backend), to_backend(y, backend), params_to_backend(params, backend)


def _forward_nonvectorized(X, params, *, xp):
    """The slide's loop, without its in-place row writes: the rows are stacked at the end."""
    W1, b1, W2, b2 = params
    h_rows, z_rows = [], []
    for i in range(X.shape[0]):
        h_i = xp.maximum(X[i, :] @ W1 + b1, 0.0)
        h_rows.append(h_i)
        z_rows.append(h_i @ W2 + b2)
    return xp.stack(h_rows), xp.stack(z_rows)


def test_forward_equals_forward_rowwise(backend: Backend, xp, lecture) -> None:
    X, _, params = lecture
    h, z = xpnet.forward(X, params)
    W1, b1, W2, b2 = params
    h_slide = xp.maximum(X @ W1 + b1, 0.0)  # the vectorized slide, np.dot -> @
    assert_close(h, h_slide, rtol=1e-14, atol=1e-15)
    assert_close(z, h_slide @ W2 + b2, rtol=1e-14, atol=1e-15)
    for h_rows, z_rows in (
        xpnet.forward_rowwise(X, params),
        _forward_nonvectorized(X, params, xp=xp),
    ):
        assert_close(h_rows, h, rtol=1e-13, atol=1e-14)
        assert_close(z_rows, z, rtol=1e-13, atol=1e-14)


def _relu_derivative(x, *, xp):
    """The slide's ``1.0 * (z > 0)``."""
    return 1.0 * xp.astype(x > 0, x.dtype)


def test_vectorize_the_softmax_loop(backend: Backend, xp, lecture) -> None:
    X, _, params = lecture
    _, z = xpnet.forward(X, params)
    rows = [xp.exp(z[i, :]) / xp.sum(xp.exp(z[i, :])) for i in range(z.shape[0])]
    p_loop = xp.stack(rows)
    p_vectorized = xp.exp(z) / xp.sum(xp.exp(z), axis=1, keepdims=True)
    assert_close(p_vectorized, p_loop, rtol=1e-14, atol=1e-16)
    assert_close(xpnet.softmax(z), p_loop, rtol=1e-14, atol=1e-16)


def _loss_der_loop(z, y, *, xp):
    """The slide: loss_der[i, :] = p[i, :] - E[y[i], :], with E = np.eye(n_classes)."""
    n, k = z.shape
    E = xp.eye(k, dtype=z.dtype)
    host_y = xpnet.to_numpy(y)
    rows = []
    for i in range(n):
        p_i = xp.exp(z[i, :]) / xp.sum(xp.exp(z[i, :]))
        rows.append(p_i - E[int(host_y[i]), :])
    return xp.stack(rows)


def test_vectorize_the_loss_derivative_loop(backend: Backend, xp, lecture) -> None:
    X, y, params = lecture
    _, z = xpnet.forward(X, params)
    loss_der = _loss_der_loop(z, y, xp=xp)
    n = z.shape[0]
    vectorized = xpnet.softmax(z) - xpnet.one_hot(y, 3, dtype=z.dtype)
    assert_close(vectorized, loss_der, rtol=1e-14, atol=1e-15)
    assert_close(n * xpnet.cross_entropy_grad(z, y), loss_der, rtol=1e-13, atol=1e-15)


def test_vectorize_the_gradient_loops(backend: Backend, xp, lecture) -> None:
    X, y, params = lecture
    W1, b1, W2, b2 = params
    h, z = xpnet.forward(X, params)
    n = X.shape[0]
    loss_der = _loss_der_loop(z, y, xp=xp)

    dJdW2, dJdb1, dJdW1, dJdb2 = (xp.zeros_like(p) for p in (W2, b1, W1, b2))
    for i in range(n):
        # dJdW2 += np.outer(relu(h[i,:]), loss_der[i,:])
        dJdW2 = dJdW2 + xp.linalg.outer(xp.maximum(h[i, :], 0.0), loss_der[i, :])
        # dJdb1 += (W2 @ loss_der[i,:]) * relu_derivative(h[i,:])
        back = (W2 @ loss_der[i, :]) * _relu_derivative(h[i, :], xp=xp)
        dJdb1 = dJdb1 + back
        # dJdW1 += np.outer((W2 @ loss_der[i,:]) * relu_derivative(h[i,:]), X[i,:]).T
        dJdW1 = dJdW1 + xp.linalg.outer(back, X[i, :]).T
        dJdb2 = dJdb2 + loss_der[i, :]
    dJdW2, dJdb1, dJdW1, dJdb2 = (g / n for g in (dJdW2, dJdb1, dJdW1, dJdb2))

    # the vectorized forms: a sum over samples is a matrix product or a sum over axis 0
    delta = (loss_der @ W2.T) * xpnet.relu_grad(h)
    tol = {"rtol": 1e-12, "atol": 1e-15}
    assert_close(h.T @ loss_der / n, dJdW2, **tol)
    assert_close(xp.sum(delta, axis=0) / n, dJdb1, **tol)
    assert_close(X.T @ delta / n, dJdW1, **tol)
    assert_close(xp.mean(loss_der, axis=0), dJdb2, **tol)

    grads = xpnet.backward(X, y, params)
    assert_close(grads.W2, dJdW2, **tol)
    assert_close(grads.b1, dJdb1, **tol)
    assert_close(grads.W1, dJdW1, **tol)
    assert_close(grads.b2, dJdb2, **tol)


# --- the matrix-multiplication slide -------------------------------------------------------------


@pytest.fixture(scope="module")
def slide_AB() -> tuple[np.ndarray, np.ndarray]:
    state = np.random.get_state()
    try:
        np.random.seed(42)
        A = np.random.randint(0, 9, (2, 3))
        B = np.random.randint(0, 9, (3, 4))
    finally:
        np.random.set_state(state)
    return A.astype(np.int64), B.astype(np.int64)


AB = np.array([[85, 70, 79, 68], [74, 72, 42, 52]])


def test_matmul_slide(backend: Backend, slide_AB) -> None:
    A, B = (to_backend(m, backend) for m in slide_AB)
    assert_close(A @ B, AB, backend=backend, rtol=0, atol=0)


def test_matmul_as_a_triple_loop(backend: Backend, xp, slide_AB) -> None:
    A, B = (to_backend(m, backend, dtype="float64") for m in slide_AB)
    rows = []
    for i in range(A.shape[0]):
        row = []
        for j in range(B.shape[1]):
            c_ij = xp.asarray(0.0, dtype=xp.float64)
            for k in range(A.shape[1]):
                c_ij = c_ij + A[i, k] * B[k, j]  # C[i, j] += A[i, k] * B[k, j]
            row.append(c_ij)
        rows.append(xp.stack(row))
    assert_close(xp.stack(rows), AB.astype(np.float64), backend=backend, rtol=0, atol=0)


def test_matmul_as_a_sum_of_outer_products(backend: Backend, xp, slide_AB) -> None:
    A, B = (to_backend(m, backend, dtype="float64") for m in slide_AB)
    D = xp.zeros((2, 4), dtype=xp.float64)
    D_broadcast = D
    for k in range(A.shape[1]):  # iterate over the elements to multiply
        D = D + xp.linalg.outer(A[:, k], B[k, :])  # D += np.outer(A[:, k], B[k, :])
        D_broadcast = D_broadcast + A[:, k][:, None] * B[k, :][None, :]
    assert_close(D, AB.astype(np.float64), backend=backend, rtol=0, atol=0)
    assert_close(D_broadcast, AB.astype(np.float64), backend=backend, rtol=0, atol=0)
