"""Donation: a driver that owns the parameters and optimizer state lets the step write into
them (``xpnet.optim._minus``), as ``jax.jit(donate_argnums=...)`` does.

Two promises are checked here, on every backend: a donated step computes exactly what the
pure step computes, operation for operation (so the results are equal bit for bit), and
nothing a caller can hold is ever written: the parameters given to ``train`` or an
estimator, the parameters a ``train`` callback sees at the end of each epoch, and an
estimator's ``coefs_`` between two ``partial_fit`` calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import Backend, to_backend

import xpnet
from xpnet.optim import SGD, Adam

OPTIMIZERS = [
    pytest.param(SGD(0.1), id="sgd"),
    pytest.param(SGD(0.1, momentum=0.9), id="momentum"),
    pytest.param(SGD(0.1, momentum=0.8, nesterov=True), id="nesterov"),
    pytest.param(Adam(0.05), id="adam"),
]


def _host(tree: Any) -> list[np.ndarray]:
    """Copies on the host of every array of a tree (layers, states), in order."""
    if isinstance(tree, tuple):
        return [a for item in tree for a in _host(item)]
    return [np.array(xpnet.to_numpy(tree), copy=True)]


def _assert_same(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: array {i}")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_donated_steps_equal_pure_steps_bit_for_bit(backend: Backend, optimizer: Any) -> None:
    rng = np.random.default_rng(0)
    layers = xpnet.init_layers((4, 5, 3), seed=1)
    shapes = [np.shape(a) for layer in layers for a in layer]
    grads = [[rng.standard_normal(shape) for shape in shapes] for _ in range(6)]

    def on(arrays: list[np.ndarray]) -> tuple[xpnet.Layer, ...]:
        moved = [to_backend(a, backend) for a in arrays]
        return tuple(xpnet.Layer(moved[i], moved[i + 1]) for i in range(0, len(moved), 2))

    xp = xpnet.namespace(backend.library)
    results = []
    for donate in (False, True):
        params = on([np.asarray(xpnet.to_numpy(a)) for layer in layers for a in layer])
        state = optimizer.init(params)
        for t, g in enumerate(grads):
            # the first step is never donated: its arguments are the caller's; the gradients
            # are made afresh for each step (a driver's are: the backward pass makes them)
            fresh = tuple(xpnet.Layer(W * 1.0, b * 1.0) for W, b in on(g))
            params, state = optimizer._step(
                params, fresh, state, 0.1 / (1 + t), xp=xp, donate=donate and t > 0
            )
        results.append((_host(params), _host(state)))
    _assert_same(results[1][0], results[0][0], "params")
    _assert_same(results[1][1], results[0][1], "state")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_train_writes_into_nothing_the_caller_holds(backend: Backend, optimizer: Any) -> None:
    rng = np.random.default_rng(2)
    X_np = rng.standard_normal((40, 3))
    y_np = rng.integers(0, 3, 40)
    X, y = to_backend(X_np, backend, dtype="float64"), to_backend(y_np, backend)
    xp = xpnet.namespace(backend.library)
    params = xpnet.init_layers((3, 6, 3), xp=xp, seed=0, dtype="float64")
    before = _host(params)
    seen: list[tuple[Any, list[np.ndarray]]] = []

    def callback(epoch: int, current: Any, metrics: dict[str, float]) -> None:
        seen.append((current, _host(current)))  # the arrays, and what they held then

    trained, _ = xpnet.train(
        X, y, params, epochs=3, batch_size=8, optimizer=optimizer, callback=callback
    )
    _assert_same(_host(params), before, "the parameters given to train")
    assert len(seen) == 3
    for epoch, (arrays, held) in enumerate(seen):
        _assert_same(_host(arrays), held, f"the parameters the callback saw after epoch {epoch}")
    _assert_same(_host(trained), seen[-1][1], "the result")


def test_partial_fit_writes_into_no_earlier_coefs(backend: Backend) -> None:
    rng = np.random.default_rng(3)
    X = to_backend(rng.standard_normal((60, 4)), backend)
    y = to_backend(rng.integers(0, 3, 60), backend)
    model = xpnet.MLPClassifier(hidden_layer_sizes=(5,), batch_size=10, random_state=0)
    model.partial_fit(X, y, classes=to_backend(np.arange(3), backend))
    coefs, intercepts = list(model.coefs_), list(model.intercepts_)
    held = _host(tuple(coefs)), _host(tuple(intercepts))
    model.partial_fit(X, y)
    _assert_same(_host(tuple(coefs)), held[0], "coefs_ of the first partial_fit")
    _assert_same(_host(tuple(intercepts)), held[1], "intercepts_ of the first partial_fit")
    assert not np.array_equal(_host(tuple(model.coefs_))[0], held[0][0])  # it did train
