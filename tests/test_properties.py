"""Property tests (Hypothesis): the hand-derived gradients and the invariants of the math.

Every input is drawn once in NumPy float64 (random shapes: 1-12 samples, 1-5 features,
1-8 hidden units, 2-5 classes; on eager JAX, shapes from a pool of edge cases, see
``helpers.JAX_NETWORK_SHAPES``) and moved to the backend under test; the expected
values come from NumPy, from ``torch.autograd``/``jax.grad`` (both through
:func:`xpnet.autograd_grad` and through an independent loss written directly in
torch or JAX), or from central finite differences.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import (
    Backend,
    Case,
    assert_close,
    assert_params_close,
    cases,
    finite_floats,
    logits_and_labels,
    network_shapes,
    params_to_backend,
    params_to_numpy,
    snapshot,
    to_backend,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpnet

#: float64 agreement between two exact methods that only round differently.
EXACT = {"rtol": 1e-10, "atol": 1e-12}


# --- independent oracles: the same network and loss written directly in torch / JAX --------


def torch_oracle(case: Case) -> tuple[float, list[np.ndarray]]:
    """Loss and gradients from torch ops and ``F.cross_entropy``, without xpnet."""
    import torch
    import torch.nn.functional as F

    X, y = torch.from_numpy(case.X), torch.from_numpy(case.y)
    leaves = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in case.params]
    W1, b1, W2, b2 = leaves
    logits = torch.relu(X @ W1 + b1) @ W2 + b2
    loss = F.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, leaves)
    return float(loss.detach()), [g.numpy() for g in grads]


def jax_oracle(case: Case) -> tuple[float, list[np.ndarray]]:
    """Loss and gradients from ``jax.nn`` and ``jax.value_and_grad``, without xpnet."""
    import jax.numpy as jnp

    params = tuple(jnp.asarray(p) for p in case.params)
    loss, grads = _jax_value_and_grad()(params, jnp.asarray(case.X), jnp.asarray(case.y))
    return float(loss), [np.asarray(g) for g in grads]


@functools.cache
def _jax_value_and_grad():
    """``jax.value_and_grad`` of the loss written with ``jax.nn``, jitted (once per shape)."""
    import jax
    import jax.numpy as jnp

    def mean_loss(params: tuple, X: jax.Array, y: jax.Array) -> jax.Array:
        W1, b1, W2, b2 = params
        logits = jax.nn.relu(X @ W1 + b1) @ W2 + b2
        picked = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=1), y[:, None], axis=1)
        return -jnp.mean(picked)

    return jax.jit(jax.value_and_grad(mean_loss))


ORACLES = {Backend.TORCH: torch_oracle, Backend.JAX: jax_oracle}


# --- gradients: manual = autograd = independent oracle = finite differences ------------------


@given(data=st.data())
def test_manual_gradients_equal_autodiff(autodiff_backend: Backend, data: st.DataObject) -> None:
    case = data.draw(cases(autodiff_backend), label="case")
    # At the kink relu'(0) is a convention (torch/JAX may give 0.5 via maximum); stay off it.
    assume(case.min_abs_preactivation() > 1e-9)
    X, y, params = case.on(autodiff_backend)

    loss, manual = xpnet.loss_and_grad(X, y, params)
    autograd = xpnet.autograd_grad(X, y, params)
    oracle_loss, oracle = ORACLES[autodiff_backend](case)

    assert_close(loss, np.asarray(oracle_loss), backend=autodiff_backend, **EXACT)
    assert_params_close(manual, oracle, backend=autodiff_backend, **EXACT, err_msg="manual")
    assert_params_close(autograd, oracle, backend=autodiff_backend, **EXACT, err_msg="autograd")


@given(data=st.data())
def test_manual_gradients_equal_central_differences(backend: Backend, data: st.DataObject) -> None:
    small = {"max_samples": 8, "max_features": 4, "max_hidden": 5, "max_classes": 4}
    case = data.draw(cases(backend, **small), label="case")
    # eps = 1e-6 moves a pre-activation by at most (|x| + 1) * eps < 3e-6: no kink crossed.
    assume(case.min_abs_preactivation() > 1e-4)
    X, y, params = case.on(backend)
    manual = xpnet.backward(X, y, params)
    numeric = xpnet.numerical_grad(X, y, params, eps=1e-6)
    # central differences: O(eps^2) truncation, O(1e-16 * J / eps) rounding (J < ~50 here)
    assert_params_close(numeric, params_to_numpy(manual), backend=backend, rtol=1e-6, atol=1e-7)


# --- one code path, one answer: every backend agrees with NumPy ------------------------------


@given(data=st.data(), lr=st.floats(0.0, 2.0))
def test_every_backend_matches_numpy(backend: Backend, data: st.DataObject, lr: float) -> None:
    case = data.draw(cases(backend), label="case")
    X, y, params = case.on(backend)
    h, z = xpnet.forward(X, params)
    loss, grads = xpnet.loss_and_grad(X, y, params)
    probs = xpnet.predict_proba(X, params)
    labels = xpnet.predict(X, params)
    stepped = xpnet.sgd_step(params, grads, lr)

    ref_h, ref_z = xpnet.forward(case.X, case.params)
    ref_loss, ref_grads = xpnet.loss_and_grad(case.X, case.y, case.params)
    ref_step = xpnet.sgd_step(case.params, ref_grads, lr)

    assert_close(h, ref_h, backend=backend, **EXACT)
    assert_close(z, ref_z, backend=backend, **EXACT)
    assert_close(loss, ref_loss, backend=backend, **EXACT)
    assert_params_close(grads, ref_grads, backend=backend, **EXACT)
    assert_close(probs, xpnet.predict_proba(case.X, case.params), backend=backend, **EXACT)
    assert_params_close(stepped, ref_step, backend=backend, **EXACT)

    # Predictions: equal wherever the top two logits are not a near-tie (where rounding
    # in a different BLAS may pick either); there the label must be one of the tied ones.
    assert xpnet.backend_name(labels) == backend.library
    host_labels = xpnet.to_numpy(labels)
    top = np.max(ref_z, axis=1, keepdims=True)
    near_max = ref_z >= top - 1e-9 * (1 + np.abs(top))
    assert np.all(near_max[np.arange(len(host_labels)), host_labels])
    clear = near_max.sum(axis=1) == 1
    np.testing.assert_array_equal(host_labels[clear], np.argmax(ref_z, axis=1)[clear])


# --- softmax and cross-entropy invariants ---------------------------------------------------


@given(data=st.data())
def test_softmax_rows_are_probability_distributions(backend: Backend, data: st.DataObject) -> None:
    z, _ = data.draw(logits_and_labels(backend, bound=1e3), label="z, y")
    probs = xpnet.softmax(to_backend(z, backend))
    host = xpnet.to_numpy(probs)
    assert_close(probs, host, backend=backend, rtol=0, atol=0)  # namespace, dtype, device
    assert np.all((host >= 0) & (host <= 1))
    np.testing.assert_allclose(host.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    log_probs = xpnet.to_numpy(xpnet.log_softmax(to_backend(z, backend)))
    assert np.all(log_probs <= 0)
    np.testing.assert_allclose(np.exp(log_probs), host, rtol=1e-12, atol=1e-300)


@given(data=st.data())
def test_cross_entropy_gradient_rows_sum_to_zero(backend: Backend, data: st.DataObject) -> None:
    z, y = data.draw(logits_and_labels(backend), label="z, y")
    n, k = z.shape
    grad = xpnet.cross_entropy_grad(to_backend(z, backend), to_backend(y, backend))
    host = xpnet.to_numpy(grad)
    np.testing.assert_allclose(host.sum(axis=1), 0.0, rtol=0, atol=1e-15)
    # (p - e_y) / n: negative only at the label, in [-1/n, 0] there and [0, 1/n] elsewhere
    e_y = np.arange(k) == y[:, None]
    assert np.all(host[e_y] <= 0)
    assert np.all(host[e_y] >= -1 / n)
    assert np.all(host[~e_y] >= 0)
    assert np.all(host[~e_y] <= 1 / n)


@given(data=st.data(), shift=finite_floats(1e3))
def test_adding_a_constant_to_every_logit_changes_nothing(
    backend: Backend, data: st.DataObject, shift: float
) -> None:
    z, y = data.draw(logits_and_labels(backend, bound=20.0), label="z, y")
    zb, yb = to_backend(z, backend), to_backend(y, backend)
    shifted = to_backend(z + shift, backend)
    # |shift| <= 1e3 in float64 rounds z + shift by at most ~1e-13
    tol = {"rtol": 1e-9, "atol": 1e-11}
    assert_close(xpnet.cross_entropy(shifted, yb), xpnet.cross_entropy(zb, yb), **tol)
    assert_close(xpnet.cross_entropy_grad(shifted, yb), xpnet.cross_entropy_grad(zb, yb), **tol)
    assert_close(xpnet.softmax(shifted), xpnet.softmax(zb), **tol)


@given(data=st.data(), shift=finite_floats(1e2))
def test_shifting_the_output_bias_changes_neither_loss_nor_gradients(
    backend: Backend, data: st.DataObject, shift: float
) -> None:
    case = data.draw(cases(backend), label="case")
    # b2 + c adds c to every logit of every sample: the network-level shift invariance
    X, y, params = case.on(backend)
    shifted = params._replace(b2=to_backend(case.b2 + shift, backend))
    loss, grads = xpnet.loss_and_grad(X, y, params)
    loss_s, grads_s = xpnet.loss_and_grad(X, y, shifted)
    tol = {"rtol": 1e-9, "atol": 1e-11}
    assert_close(loss_s, loss, **tol)
    assert_params_close(grads_s, grads, **tol)


@given(data=st.data())
def test_shuffling_the_batch_changes_neither_loss_nor_gradients(
    backend: Backend, data: st.DataObject
) -> None:
    case = data.draw(cases(backend), label="case")
    perm = np.array(data.draw(st.permutations(range(case.X.shape[0]))), dtype=np.int64)
    X, y, params = case.on(backend)
    Xp, yp = to_backend(case.X[perm], backend), to_backend(case.y[perm], backend)
    loss, grads = xpnet.loss_and_grad(X, y, params)
    loss_p, grads_p = xpnet.loss_and_grad(Xp, yp, params)
    assert_close(loss_p, loss, **EXACT)
    assert_params_close(grads_p, grads, **EXACT)


# --- SGD ----------------------------------------------------------------------------------------


@given(data=st.data(), lr=st.floats(0.0, 10.0))
def test_sgd_step_is_theta_minus_lr_times_g(
    backend: Backend, data: st.DataObject, lr: float
) -> None:
    _, d, hidden, k = data.draw(network_shapes(backend), label="shapes")
    shaped = [(d, hidden), (hidden,), (hidden, k), (k,)]
    theta = [data.draw(hnp.arrays(np.float64, s, elements=finite_floats(1e3))) for s in shaped]
    g = [data.draw(hnp.arrays(np.float64, s, elements=finite_floats(1e3))) for s in shaped]
    params, grads = params_to_backend(theta, backend), params_to_backend(g, backend)
    before = snapshot(*params, *grads)

    stepped = xpnet.sgd_step(params, grads, lr)
    assert isinstance(stepped, xpnet.Params)
    for new, p, q in zip(stepped, theta, g):
        # elementwise, so only the last rounding can differ (a fused multiply-add, or XLA
        # flushing a subnormal lr * g to zero)
        atol = float(4e-16 * np.max(np.abs(p) + np.abs(lr * q))) + 1e-300
        assert_close(new, p - lr * q, backend=backend, rtol=0, atol=atol)

    unchanged = xpnet.sgd_step(params, grads, 0.0)
    assert_params_close(unchanged, theta, backend=backend, rtol=0, atol=0)
    # nothing written in place (numpy_readonly would raise; the others are compared)
    for array, copy in zip([*params, *grads], before):
        np.testing.assert_array_equal(xpnet.to_numpy(array), copy)


# --- the jitted step equals the eager one -------------------------------------------------------


@given(data=st.data(), lr=st.floats(0.0, 2.0))
def test_jax_jit_equals_eager(data: st.DataObject, lr: float) -> None:
    jax = pytest.importorskip("jax")
    case = data.draw(cases(Backend.JAX), label="case")
    X, y, params = case.on(Backend.JAX)
    loss, grads = xpnet.loss_and_grad(X, y, params)
    jit_loss, jit_grads = jax.jit(xpnet.loss_and_grad)(X, y, params)
    assert_close(jit_loss, loss, **EXACT)
    assert_params_close(jit_grads, grads, **EXACT)

    step = jax.jit(lambda p, g: xpnet.sgd_step(p, g, lr))
    assert_params_close(step(params, grads), xpnet.sgd_step(params, grads, lr), **EXACT)

    jit_h, jit_z = jax.jit(xpnet.forward)(X, params)
    h, z = xpnet.forward(X, params)
    assert_close(jit_h, h, **EXACT)
    assert_close(jit_z, z, **EXACT)
    assert_close(jax.jit(xpnet.predict_proba)(X, params), xpnet.predict_proba(X, params), **EXACT)


@settings(max_examples=10)
@given(case=cases(), lr=st.floats(0.0, 2.0))
def test_jax_jit_matches_numpy_on_random_shapes(case: Case, lr: float) -> None:
    # random shapes on JAX: compiled once per example, compared with the NumPy reference
    jax = pytest.importorskip("jax")
    X, y, params = case.on(Backend.JAX)

    @jax.jit
    def train_step(X, y, params):
        loss, grads = xpnet.loss_and_grad(X, y, params)
        return loss, grads, xpnet.sgd_step(params, grads, lr)

    loss, grads, stepped = train_step(X, y, params)
    ref_loss, ref_grads = xpnet.loss_and_grad(case.X, case.y, case.params)
    assert_close(loss, ref_loss, backend=Backend.JAX, **EXACT)
    assert_params_close(grads, ref_grads, backend=Backend.JAX, **EXACT)
    ref_step = xpnet.sgd_step(case.params, ref_grads, lr)
    assert_params_close(stepped, ref_step, backend=Backend.JAX, **EXACT)


@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch")
def test_torch_compile_equals_eager() -> None:
    torch = pytest.importorskip("torch")
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this torch")
    X, y = xpnet.datasets.load_iris_2d(backend="torch", dtype="float64")
    params = xpnet.init_params(2, 10, 3, xp="torch", seed=1, dtype="float64")
    compiled = torch.compile(xpnet.loss_and_grad, dynamic=False)
    for shift in (0.0, 0.25):  # the second call, same shapes, reuses the compiled graph
        Xs = X + shift
        loss, grads = compiled(Xs, y, params)
        ref_loss, ref_grads = xpnet.loss_and_grad(Xs, y, params)
        assert_close(loss, ref_loss, **EXACT)
        assert_params_close(grads, ref_grads, **EXACT)
