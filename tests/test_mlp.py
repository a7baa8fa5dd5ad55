"""xpnet.mlp: Params, init_params, forward, forward_rowwise, backward, loss_and_grad, predict."""

# The slides' legacy np.random.seed / randn calls are reproduced on purpose.
# ruff: noqa: NPY002

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    Backend,
    assert_close,
    assert_params_close,
    dtype_name,
    params_to_backend,
    snapshot,
    to_backend,
)

import xpnet
from xpnet.backends import default_float_dtype


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")


def _np_forward(X: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    W1, b1, W2, b2 = (np.asarray(p) for p in params)
    h = np.maximum(X @ W1 + b1, 0)
    return h, h @ W2 + b2


# --- init_params ------------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["he", "lecture"])
@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_weights_on_every_backend_bit_for_bit(
    backend: Backend, xp, init: str, seed: int
) -> None:
    reference = xpnet.init_params(5, 8, 4, seed=seed, init=init, dtype="float64")
    params = xpnet.init_params(5, 8, 4, xp=xp, seed=seed, init=init, dtype="float64")
    assert_params_close(params, reference, backend=backend, rtol=0, atol=0)
    # float32: the same draws, rounded once
    params32 = xpnet.init_params(5, 8, 4, xp=xp, seed=seed, init=init, dtype="float32")
    assert_params_close(
        params32, [p.astype(np.float32) for p in reference], backend=backend, rtol=0, atol=0
    )


def test_different_seeds_give_different_weights() -> None:
    a = xpnet.init_params(3, 4, 2, seed=0)
    b = xpnet.init_params(3, 4, 2, seed=1)
    assert not np.array_equal(a.W1, b.W1)
    assert not np.array_equal(a.W2, b.W2)


def test_lecture_init_reproduces_the_slides_draws_exactly(backend: Backend, xp) -> None:
    # the slide: np.random.seed(0), then randn for W1 (2, 10), b1 (10,), W2 (10, 3), b2 (3,)
    state = np.random.get_state()
    try:
        np.random.seed(0)
        W1 = np.random.randn(2, 10)
        b1 = np.random.randn(10)
        W2 = np.random.randn(10, 3)
        b2 = np.random.randn(3)
    finally:
        np.random.set_state(state)
    params = xpnet.init_params(2, 10, 3, xp=xp, init="lecture", dtype="float64")
    assert_params_close(params, [W1, b1, W2, b2], backend=backend, rtol=0, atol=0)
    assert float(xpnet.to_numpy(params.W1)[0, 0]) == 1.764052345967664


def test_lecture_init_leaves_numpys_global_random_state_alone() -> None:
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    xpnet.init_params(2, 10, 3, init="lecture")
    assert np.random.rand() == expected


def test_default_init_keeps_activations_at_unit_scale_for_large_inputs() -> None:
    # He init: Var(x W1) = 2 for unit inputs, E[relu(.)^2] = 1, and logits of unit scale,
    # whatever d is; the lecture's randn weights would give logits of scale ~sqrt(d * H).
    d, hidden, k = 3000, 256, 10
    X = np.random.default_rng(1).standard_normal((512, d))
    params = xpnet.init_params(d, hidden, k, seed=0)
    pre = X @ params.W1 + params.b1
    h, z = xpnet.forward(X, params)
    assert 0.9 < pre.std() / np.sqrt(2) < 1.1
    assert 0.8 < np.mean(h**2) < 1.2
    assert 0.7 < z.std() < 1.3
    np.testing.assert_array_equal(params.b1, 0)
    np.testing.assert_array_equal(params.b2, 0)
    lecture = xpnet.init_params(d, hidden, k, seed=0, init="lecture")
    assert xpnet.forward(X, lecture)[1].std() > 100 * z.std()


def test_init_params_default_dtype_is_the_backends(backend: Backend, xp) -> None:
    params = xpnet.init_params(2, 3, 2, xp=xp)
    expected = dtype_name(default_float_dtype(xp))
    assert [dtype_name(p.dtype) for p in params] == [expected] * 4
    assert [tuple(p.shape) for p in params] == [(2, 3), (3,), (3, 2), (2,)]


def test_init_params_accepts_a_backend_name_and_a_device(backend: Backend) -> None:
    params = xpnet.init_params(2, 3, 2, xp=backend.library, dtype="float64", device="cpu")
    reference = xpnet.init_params(2, 3, 2, dtype="float64")
    assert_params_close(params, reference, backend=backend, rtol=0, atol=0)


def test_init_params_on_another_array_api_strict_device() -> None:
    strict = pytest.importorskip("array_api_strict")
    device = strict.Device("device1")
    params = xpnet.init_params(2, 3, 2, xp="array_api_strict", device=device)
    assert all(p.device == device for p in params)


def test_unknown_init_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^init: unknown initialisation 'xavier'"):
        xpnet.init_params(2, 3, 2, init="xavier")


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0, 3, 2), ValueError, "input_dim"),
        ((2, 0, 2), ValueError, "hidden_dim"),
        ((2, -1, 2), ValueError, "hidden_dim"),
        ((2.0, 3, 2), TypeError, "input_dim"),
        ((2, True, 2), TypeError, "hidden_dim"),
        ((2, 3, "3"), TypeError, "output_dim"),
    ],
)
def test_init_params_bad_sizes_name_the_argument(args: tuple, error: type, name: str) -> None:
    with pytest.raises(error, match=rf"^{name}:"):
        xpnet.init_params(*args)


def test_params_is_an_immutable_named_tuple() -> None:
    params = xpnet.init_params(2, 3, 2)
    assert params._fields == ("W1", "b1", "W2", "b2")
    with pytest.raises(AttributeError):
        params.W1 = params.W2  # type: ignore[misc]
    replaced = params._replace(b2=params.b2 + 1)
    np.testing.assert_array_equal(params.b2, 0)
    np.testing.assert_array_equal(replaced.b2, 1)


# --- forward / forward_rowwise -------------------------------------------------------------


@pytest.mark.parametrize("init", ["he", "lecture"])
def test_forward_is_the_lectures_formula(backend: Backend, iris, init: str) -> None:
    X, _ = iris
    params = xpnet.init_params(2, 10, 3, init=init, seed=3)
    h, z = xpnet.forward(to_backend(X, backend), params_to_backend(params, backend))
    ref_h, ref_z = _np_forward(X, params)
    assert_close(h, ref_h, backend=backend, rtol=1e-12, atol=1e-14)
    assert_close(z, ref_z, backend=backend, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_rowwise_equals_forward(backend: Backend, iris, dtype: str) -> None:
    X, _ = iris
    Xb = to_backend(X, backend, dtype=dtype)
    params = xpnet.init_params(2, 10, 3, xp=backend.library, init="lecture", dtype=dtype)
    h, z = xpnet.forward(Xb, params)
    h_rows, z_rows = xpnet.forward_rowwise(Xb, params)
    tol = {"float64": 1e-12, "float32": 1e-5}[dtype]
    assert_close(h_rows, h, rtol=tol, atol=tol)
    assert_close(z_rows, z, rtol=tol, atol=tol)


def test_forward_of_a_single_sample(backend: Backend) -> None:
    X = np.array([[0.5, -1.0]])
    params = xpnet.init_params(2, 4, 3, init="lecture")
    h, z = xpnet.forward(to_backend(X, backend), params_to_backend(params, backend))
    assert_close(z, _np_forward(X, params)[1], backend=backend, rtol=1e-13)
    h_rows, z_rows = xpnet.forward_rowwise(
        to_backend(X, backend), params_to_backend(params, backend)
    )
    assert_close(z_rows, z, rtol=1e-13)


# --- backward / loss_and_grad --------------------------------------------------------------------


def _np_backward(X: np.ndarray, y: np.ndarray, params) -> tuple[float, list[np.ndarray]]:
    """The four formulas of the slides, batched, in plain NumPy."""
    W1, b1, W2, b2 = (np.asarray(p) for p in params)
    n = X.shape[0]
    h, z = _np_forward(X, params)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    e_y = np.eye(W2.shape[1])[y]
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dz = (p - e_y) / n
    dh = (dz @ W2.T) * (h > 0)
    return loss, [X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


@pytest.mark.parametrize("init", ["he", "lecture"])
def test_loss_and_grad_are_the_slides_formulas(backend: Backend, iris, init: str) -> None:
    X, y = iris
    params = xpnet.init_params(2, 10, 3, init=init, seed=5)
    moved = params_to_backend(params, backend)
    loss, grads = xpnet.loss_and_grad(to_backend(X, backend), to_backend(y, backend), moved)
    ref_loss, ref_grads = _np_backward(X, y, params)
    assert loss.shape == ()
    assert_close(loss, np.asarray(ref_loss), backend=backend, rtol=1e-12)
    assert isinstance(grads, xpnet.Params)
    assert_params_close(grads, ref_grads, backend=backend, rtol=1e-10, atol=1e-14)


def test_backward_equals_the_gradients_of_loss_and_grad(backend: Backend, iris) -> None:
    X, y = iris
    Xb, yb = to_backend(X, backend), to_backend(y, backend)
    params = xpnet.init_params(2, 6, 3, xp=backend.library, dtype="float64", seed=2)
    assert_params_close(xpnet.backward(Xb, yb, params), xpnet.loss_and_grad(Xb, yb, params)[1])
    loss = xpnet.loss_and_grad(Xb, yb, params)[0]
    assert_close(loss, xpnet.cross_entropy(xpnet.forward(Xb, params)[1], yb), rtol=1e-14)


def test_float32_stays_float32(backend: Backend, iris) -> None:
    X, y = iris
    Xb, yb = to_backend(X, backend, dtype="float32"), to_backend(y, backend)
    params = xpnet.init_params(2, 6, 3, xp=backend.library, dtype="float32")
    loss, grads = xpnet.loss_and_grad(Xb, yb, params)
    ref_loss, ref_grads = _np_backward(X, y, [np.asarray(xpnet.to_numpy(p)) for p in params])
    assert_close(loss, np.asarray(ref_loss, dtype=np.float32), backend=backend, rtol=1e-5)
    for g, ref in zip(grads, ref_grads):
        assert_close(g, ref.astype(np.float32), backend=backend, rtol=1e-4, atol=1e-6)
    assert dtype_name(xpnet.predict_proba(Xb, params).dtype) == "float32"


# --- predict / predict_proba ---------------------------------------------------------------------


def test_predict_is_the_argmax_of_predict_proba(backend: Backend, iris) -> None:
    X, _ = iris
    params = xpnet.init_params(2, 10, 3, init="lecture")
    Xb = to_backend(X, backend)
    moved = params_to_backend(params, backend)
    probs = xpnet.predict_proba(Xb, moved)
    labels = xpnet.predict(Xb, moved)
    ref_z = _np_forward(X, params)[1]
    ref_p = np.exp(ref_z - ref_z.max(axis=1, keepdims=True))
    ref_p /= ref_p.sum(axis=1, keepdims=True)
    assert_close(probs, ref_p, backend=backend, rtol=1e-12, atol=1e-15)
    assert_close(labels, np.argmax(ref_z, axis=1), backend=backend, rtol=0, atol=0)


def test_nothing_is_modified_in_place(backend: Backend, iris) -> None:
    X, y = iris
    Xb, yb = to_backend(X, backend), to_backend(y, backend)
    params = params_to_backend(xpnet.init_params(2, 5, 3, seed=4), backend)
    before = snapshot(Xb, yb, *params)
    xpnet.forward(Xb, params), xpnet.forward_rowwise(Xb, params)
    xpnet.loss_and_grad(Xb, yb, params), xpnet.backward(Xb, yb, params)
    xpnet.predict(Xb, params), xpnet.predict_proba(Xb, params)
    for array, copy in zip((Xb, yb, *params), before):
        np.testing.assert_array_equal(xpnet.to_numpy(array), copy)
