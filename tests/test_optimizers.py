"""xpnet.optim.SGD and Adam against scikit-learn's own optimizer classes, torch.optim and optax.

scikit-learn's ``SGDOptimizer``/``AdamOptimizer`` update NumPy arrays in place; they are
driven here with the same gradients as xpnet's pure optimizers on each backend, step by
step, and must agree to 1e-12 in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import Backend, assert_close, dtype_name, to_backend
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

import xpnet
from xpnet.optim import SGD, Adam, AdamState, SGDState

SIZES = (3, 4, 2)
STEPS = 25


def _problem(seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial parameters (W1, b1, W2, b2) and STEPS sets of gradients, NumPy float64."""
    rng = np.random.default_rng(seed)
    layers = xpnet.init_layers(SIZES, init="glorot", seed=seed)
    params = [np.array(a) for layer in layers for a in layer]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(STEPS)]
    return params, grads


def _on(arrays: list[np.ndarray], backend: Backend) -> tuple[xpnet.Layer, ...]:
    moved = [to_backend(a, backend) for a in arrays]
    return tuple(xpnet.Layer(moved[i], moved[i + 1]) for i in range(0, len(moved), 2))


def _flat(layers: Any) -> list[Any]:
    return [a for layer in layers for a in layer]


def _rates(changing: bool, lr: float) -> list[float]:
    return [lr / (1 + 0.3 * t) ** 0.5 if changing else lr for t in range(STEPS)]


@pytest.mark.parametrize(
    ("momentum", "nesterov", "changing"),
    [
        (0.0, False, False),
        (0.9, False, False),
        (0.9, True, False),
        (0.5, True, True),
        (0.7, False, True),
    ],
)
def test_sgd_equals_scikit_learn(backend: Backend, momentum, nesterov, changing) -> None:
    params0, grads = _problem(1)
    reference = [p.copy() for p in params0]
    sk = SGDOptimizer(reference, learning_rate_init=0.1, momentum=momentum, nesterov=nesterov)
    opt = SGD(0.1, momentum=momentum, nesterov=nesterov)
    params = _on(params0, backend)
    state = opt.init(params)
    for lr, g in zip(_rates(changing, 0.1), grads):
        sk.learning_rate = lr
        sk.update_params(reference, g)
        params, state = opt.step(params, _on(g, backend), state, lr=lr)
    for got, want in zip(_flat(params), reference):
        assert_close(got, want, backend=backend, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("changing", [False, True])
@pytest.mark.parametrize(("beta1", "beta2", "eps"), [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
def test_adam_equals_scikit_learn(backend: Backend, beta1, beta2, eps, changing) -> None:
    params0, grads = _problem(2)
    reference = [p.copy() for p in params0]
    sk = AdamOptimizer(reference, learning_rate_init=0.01, beta_1=beta1, beta_2=beta2, epsilon=eps)
    opt = Adam(0.01, beta1=beta1, beta2=beta2, eps=eps)
    params = _on(params0, backend)
    state = opt.init(params)
    for lr, g in zip(_rates(changing, 0.01), grads):
        sk.learning_rate_init = lr  # scikit-learn's Adam folds the bias correction into this
        sk.update_params(reference, g)
        params, state = opt.step(params, _on(g, backend), state, lr=lr)
    for got, want in zip(_flat(params), reference):
        assert_close(got, want, backend=backend, rtol=1e-12, atol=1e-14)
    assert float(state.t) == STEPS


@pytest.mark.parametrize("nesterov", [False, True])
def test_constant_rate_momentum_equals_torch_optim_sgd(backend: Backend, nesterov: bool) -> None:
    torch = pytest.importorskip("torch")
    params0, grads = _problem(3)
    leaves = [torch.tensor(p, requires_grad=True) for p in params0]
    reference = torch.optim.SGD(leaves, lr=0.05, momentum=0.8, nesterov=nesterov)
    opt = SGD(0.05, momentum=0.8, nesterov=nesterov)
    params = _on(params0, backend)
    state = opt.init(params)
    for g in grads:
        for leaf, gi in zip(leaves, g):
            leaf.grad = torch.tensor(gi)
        reference.step()
        params, state = opt.step(params, _on(g, backend), state)
    for got, want in zip(_flat(params), leaves):
        assert_close(got, want.detach().numpy(), backend=backend, rtol=1e-12, atol=1e-14)


def test_adam_with_eps_0_equals_torch_optim_adam(backend: Backend) -> None:
    torch = pytest.importorskip("torch")
    params0, grads = _problem(4)
    leaves = [torch.tensor(p, requires_grad=True) for p in params0]
    reference = torch.optim.Adam(leaves, lr=0.01, betas=(0.8, 0.99), eps=0.0)
    opt = Adam(0.01, beta1=0.8, beta2=0.99, eps=0.0)
    params = _on(params0, backend)
    state = opt.init(params)
    for g in grads:
        for leaf, gi in zip(leaves, g):
            leaf.grad = torch.tensor(gi)
        reference.step()
        params, state = opt.step(params, _on(g, backend), state)
    for got, want in zip(_flat(params), leaves):
        assert_close(got, want.detach().numpy(), backend=backend, rtol=1e-11, atol=1e-13)


def test_adam_with_eps_0_equals_optax() -> None:
    pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    params0, grads = _problem(5)
    reference = [jnp.asarray(p) for p in params0]
    tx = optax.adam(0.01, b1=0.85, b2=0.995, eps=0.0)
    opt_state = tx.init(reference)
    opt = Adam(0.01, beta1=0.85, beta2=0.995, eps=0.0)
    params = _on(params0, Backend.JAX)
    state = opt.init(params)
    for g in grads:
        updates, opt_state = tx.update([jnp.asarray(gi) for gi in g], opt_state, reference)
        reference = optax.apply_updates(reference, updates)
        params, state = opt.step(params, _on(g, Backend.JAX), state)
    for got, want in zip(_flat(params), reference):
        assert_close(got, want, backend="jax", rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize(
    "make", [lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01)]
)
def test_jitted_step_equals_the_eager_step(make) -> None:
    jax = pytest.importorskip("jax")
    params0, grads = _problem(6)
    opt = make()
    eager = jitted = _on(params0, Backend.JAX)
    eager_state = jitted_state = opt.init(eager)
    step = jax.jit(lambda p, g, s, lr: opt.step(p, g, s, lr=lr))
    sizes = []
    for t, g in enumerate(grads):
        lr = 0.1 / (1 + t)  # a changing rate: a traced argument, no recompilation
        eager, eager_state = opt.step(eager, _on(g, Backend.JAX), eager_state, lr=lr)
        jitted, jitted_state = step(jitted, _on(g, Backend.JAX), jitted_state, lr)
        sizes.append(step._cache_size())
    # XLA fuses each update into one loop with fused multiply-adds: rounding, no more
    for got, want in zip(_flat(jitted), _flat(eager)):
        assert_close(got, want, backend="jax", rtol=1e-12, atol=1e-14)
    # the first call sees the user's uncommitted arrays, later ones the step's own outputs;
    # from then on no rate compiles anything new
    assert sizes[1:] == [sizes[1]] * (len(sizes) - 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_follows_the_parameters(backend: Backend, dtype: str) -> None:
    xp = xpnet.namespace(backend.library)
    params = xpnet.init_layers(SIZES, xp=xp, dtype=dtype)
    for opt in (SGD(0.1, momentum=0.5), Adam()):
        state = opt.init(params)
        arrays = (
            [state.t, *_flat(state.m), *_flat(state.s)]
            if isinstance(state, AdamState)
            else _flat(state.velocity)
        )
        for a in arrays:
            assert xpnet.backend_name(a) == backend.library
            assert dtype_name(a.dtype) == dtype
            assert xpnet._compat.device(a) == xpnet._compat.device(params[0].W)
    assert SGD(0.1).init(params) == SGDState(())


def test_lecture_sgd_step_is_sgd_without_momentum(backend: Backend) -> None:
    params0, grads = _problem(7)
    params = _on(params0, backend)
    new, _ = SGD(0.3).step(params, _on(grads[0], backend), SGD(0.3).init(params))
    plain = xpnet.sgd_step(params, _on(grads[0], backend), 0.3)
    for a, b in zip(_flat(new), _flat(plain)):
        assert_close(a, b, rtol=0, atol=0)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: SGD(-0.1), ValueError, r"^lr: the learning rate must be finite and >= 0"),
        (
            lambda: SGD(0.1, momentum=1.0),
            ValueError,
            r"^momentum: must be a finite number in \[0.0, 1.0\)",
        ),
        (lambda: SGD(0.1, momentum=-0.1), ValueError, r"^momentum:"),
        (lambda: SGD(0.1, nesterov=1), TypeError, r"^nesterov: expected a bool"),
        (lambda: Adam(beta1=1.0), ValueError, r"^beta1: must be a finite number in \[0.0, 1.0\)"),
        (lambda: Adam(beta2=-0.5), ValueError, r"^beta2:"),
        (lambda: Adam(eps=-1e-8), ValueError, r"^eps: must be a finite number in \[0.0, inf\]"),
        (lambda: Adam(lr="fast"), TypeError, r"^lr: expected a number"),
    ],
)
def test_bad_hyperparameters(make, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        make()


def test_state_of_another_structure_backend_or_dtype(backend: Backend) -> None:
    xp = xpnet.namespace(backend.library)
    params = xpnet.init_layers(SIZES, xp=xp, dtype="float64")
    opt = Adam()
    state = opt.init(params)
    with pytest.raises(TypeError, match=r"^state: expected an AdamState"):
        opt.step(params, params, SGD(0.1).init(params))
    deeper = xpnet.init_layers((3, 4, 4, 2), xp=xp, dtype="float64")
    with pytest.raises(ValueError, match=r"^state.m: has 6 arrays but params has 4"):
        opt.step(params, params, opt.init(deeper))
    state32 = opt.init(xpnet.init_layers(SIZES, xp=xp, dtype="float32"))
    with pytest.raises(TypeError, match=r"^state.m\[0\].W: dtype"):
        opt.step(params, params, state32)
    other = "numpy" if backend.library != "numpy" else "array_api_strict"
    if other not in xpnet.available_backends():
        pytest.skip(f"needs a second backend: {other!r} (pip install 'xpnet[strict]')")
    foreign = opt.init(xpnet.init_layers(SIZES, xp=other, dtype="float64"))
    with pytest.raises(TypeError, match=r"^state.m\[0\].W: is a"):
        opt.step(params, params, foreign)
    momentum = SGD(0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"^state: a velocity was given but momentum is 0"):
        SGD(0.1).step(params, params, momentum.init(params))
    with pytest.raises(ValueError, match=r"^lr: the learning rate must be finite"):
        opt.step(params, params, state, lr=-1.0)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), Adam])
@pytest.mark.parametrize("other", ["deeper", "wider", "float32"])
def test_the_state_of_the_last_step_is_still_checked_against_new_params(make, other) -> None:
    """A step remembers the state it returned, so the next step of a loop need not check it
    again; that very state with parameters of another form is still refused."""
    opt = make()
    params = xpnet.init_layers(SIZES, dtype="float64")
    new_params, state = opt.step(params, params, opt.init(params))
    again, _ = opt.step(new_params, new_params, state)  # the loop's next step: it passes
    assert [a.shape for a in _flat(again)] == [a.shape for a in _flat(params)]
    new_params, state = opt.step(new_params, new_params, state)  # remembered: this state
    if other == "deeper":
        deeper = xpnet.init_layers((3, 4, 4, 2), dtype="float64")
        with pytest.raises(ValueError, match=r"^state\.(m|velocity): has 4 arrays"):
            opt.step(deeper, deeper, state)
    elif other == "wider":
        wider = xpnet.init_layers((3, 5, 2), dtype="float64")
        with pytest.raises(ValueError, match=r"^state\.(m|velocity)\[0\]\.W: shape"):
            opt.step(wider, wider, state)
    else:
        narrow = xpnet.init_layers(SIZES, dtype="float32")
        with pytest.raises(TypeError, match=r"^state\.(m|velocity)\[0\]\.W: dtype"):
            opt.step(narrow, narrow, state)


def test_an_optimizer_pickles_and_copies_as_its_fields() -> None:
    """The state an optimizer's last step returned is no part of its value."""
    import copy
    import pickle

    opt = Adam(0.01)
    params = xpnet.init_layers(SIZES, dtype="float64")
    opt.step(params, params, opt.init(params))
    for twin in (pickle.loads(pickle.dumps(opt)), copy.copy(opt), copy.deepcopy(opt)):
        assert twin == opt
        assert hash(twin) == hash(opt)
        assert vars(twin) == {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
