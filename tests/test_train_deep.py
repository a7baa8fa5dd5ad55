"""train() with deeper networks, the other activations and losses, L2 and the optimizers.

The reference is a plain loop of public calls (``loss_and_grad`` then ``opt.step`` over the
minibatches of :func:`xpnet.optim.minibatches`); every driver (eager, ``jax.jit`` step, JAX
epoch, ``torch.compile``) on every backend must give its results in float64.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import Backend

import xpnet
from xpnet._compat import device
from xpnet.optim import SGD, Adam, minibatches

RTOL, ATOL = 1e-10, 1e-12

OPTIMIZERS = {  # each with a learning rate scale
    "sgd": lambda scale=1.0: SGD(0.1 * scale),
    "momentum": lambda scale=1.0: SGD(0.2 * scale, momentum=0.9),
    "nesterov": lambda scale=1.0: SGD(0.2 * scale, momentum=0.8, nesterov=True),
    "adam": lambda scale=1.0: Adam(0.02 * scale),
}

PROBLEMS = {  # loss, activation, alpha, learning-rate scale
    "ce-tanh": ("cross_entropy", "tanh", 1e-3, 1.0),
    "bce-logistic": ("binary_cross_entropy", "logistic", 0.0, 1.0),
    "squared-relu": ("squared_error", "relu", 0.1, 0.3),
    "poisson-identity": ("poisson", "identity", 0.0, 0.1),
}


def _data(loss: str, n: int = 40, d: int = 4, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, d))
    scores = X @ rng.standard_normal((d, k))
    if loss == "cross_entropy":
        return X, np.argmax(scores, axis=1)
    if loss == "binary_cross_entropy":
        return X, (scores > 0).astype(float)
    if loss == "poisson":
        return X, rng.poisson(np.exp(scores / 3)).astype(float)
    return X, scores + 0.1 * rng.standard_normal((n, k))


def _reference(X, y, layers, *, opt, epochs, batch_size, seed, **options) -> tuple[Any, list]:
    xp = xpnet.namespace(xpnet.backend_name(X))
    state = opt.init(layers)
    losses = []
    orders = minibatches(X.shape[0], batch_size, seed=seed)
    for _ in range(epochs):
        total = 0.0
        for batch in next(orders):
            idx = xpnet.asarray(np.asarray(batch), backend=xp, device=device(X))
            Xb, yb = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
            loss, grads = xpnet.loss_and_grad(Xb, yb, layers, **options)
            total += float(loss) * Xb.shape[0]
            layers, state = opt.step(layers, grads, state)
        losses.append(total / X.shape[0])
    return layers, losses


def _modes(backend: Backend) -> list[str]:
    if backend is Backend.JAX:
        return ["none", "jit", "epoch"]
    return ["none"]


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_driver_equals_the_plain_loop(
    backend: Backend, to_xp: Any, problem: str, optimizer: str
) -> None:
    loss, activation, alpha, scale = PROBLEMS[problem]
    X_np, y_np = _data(loss)
    X, y = to_xp(X_np, dtype="float64"), to_xp(y_np)
    xp = xpnet.namespace(backend.library)
    layers = xpnet.init_layers((4, 6, 5, 3), xp=xp, dtype="float64", init="glorot", seed=2)
    options = {"loss": loss, "activation": activation, "alpha": alpha}
    batch_size = 16 if optimizer != "sgd" else None
    expected, losses = _reference(
        X,
        y,
        layers,
        opt=OPTIMIZERS[optimizer](scale),
        epochs=3,
        batch_size=batch_size,
        seed=4,
        **options,
    )
    for mode in _modes(backend):
        got, history = xpnet.train(
            X,
            y,
            layers,
            epochs=3,
            batch_size=batch_size,
            seed=4,
            compile=mode,
            optimizer=OPTIMIZERS[optimizer](scale),
            **options,
        )
        assert isinstance(got, tuple)
        assert isinstance(got[0], xpnet.Layer)
        for a, b in zip(
            [a for layer in got for a in layer], [a for layer in expected for a in layer]
        ):
            np.testing.assert_allclose(
                xpnet.to_numpy(a), xpnet.to_numpy(b), rtol=RTOL, atol=ATOL, err_msg=mode
            )
        np.testing.assert_allclose(history.loss, losses, rtol=RTOL, err_msg=mode)
        assert len(history.accuracy) == (
            3 if loss in ("cross_entropy", "binary_cross_entropy") else 0
        )


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_torch_compile_equals_eager_for_the_optimizers(optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    if not torch._dynamo.is_dynamo_supported():
        pytest.skip("torch.compile is not supported here")
    X_np, y_np = _data("cross_entropy", n=48)
    X = xpnet.asarray(X_np, backend="torch", dtype="float64")
    y = xpnet.asarray(y_np, backend="torch")
    layers = xpnet.init_layers((4, 6, 3), xp="torch", dtype="float64")
    eager, h_eager = xpnet.train(
        X,
        y,
        layers,
        epochs=2,
        batch_size=16,
        optimizer=OPTIMIZERS[optimizer](),
        activation="tanh",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled, h_comp = xpnet.train(
            X,
            y,
            layers,
            epochs=2,
            batch_size=16,
            optimizer=OPTIMIZERS[optimizer](),
            activation="tanh",
            compile="jit",
        )
    for a, b in zip(
        [a for layer in compiled for a in layer], [a for layer in eager for a in layer]
    ):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(h_comp.loss, h_eager.loss, rtol=RTOL)


def test_defaults_are_the_lectures_sgd(backend: Backend, to_xp: Any) -> None:
    """No optimizer, activation, loss or alpha: exactly the lecture's SGD (bit for bit)."""
    X_np, y_np = _data("cross_entropy")
    X, y = to_xp(X_np, dtype="float64"), to_xp(y_np)
    params = xpnet.init_params(4, 5, 3, xp=xpnet.namespace(backend.library), dtype="float64")
    plain, _ = xpnet.train(X, y, params, epochs=3, lr=0.3, batch_size=8, compile="none")
    explicit, _ = xpnet.train(
        X,
        y,
        params,
        epochs=3,
        batch_size=8,
        optimizer=SGD(0.3),
        activation="relu",
        loss="cross_entropy",
        alpha=0.0,
        compile="none",
    )
    assert isinstance(plain, xpnet.Params)
    for a, b in zip(plain, explicit):
        np.testing.assert_array_equal(xpnet.to_numpy(a), xpnet.to_numpy(b))


def test_adam_learns_a_deep_network() -> None:
    X, y = xpnet.datasets.make_blobs(300, 5, 4, dtype="float64", seed=1)
    layers = xpnet.init_layers((5, 32, 16, 4), seed=0, dtype="float64")
    _, history = xpnet.train(X, y, layers, epochs=30, batch_size=32, optimizer=Adam(1e-2))
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.accuracy[-1] > 0.95


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"optimizer": "adam"}, TypeError, r"^optimizer: expected xpnet.optim.SGD or Adam"),
        ({"activation": "gelu"}, ValueError, r"^activation: unknown activation"),
        ({"loss": "mse"}, ValueError, r"^loss: unknown loss"),
        ({"alpha": -0.1}, ValueError, r"^alpha:"),
        ({"seed": -1}, ValueError, r"^seed: must be >= 0"),
    ],
)
def test_train_rejects_bad_new_options(kwargs: dict, error: type, pattern: str) -> None:
    X, y = _data("cross_entropy")
    layers = xpnet.init_layers((4, 3), dtype="float64")
    with pytest.raises(error, match=pattern):
        xpnet.train(X, y, layers, epochs=1, **kwargs)
