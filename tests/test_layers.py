"""Networks of any depth: every activation, every loss, L2 and sample weights.

The oracle is an independent PyTorch formulation (``torch.nn.functional``'s losses and
activations, ``torch.autograd``), written here without any xpnet code, plus ``jax.grad``
of xpnet's own forward pass and central finite differences on every backend.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from helpers import Backend, assert_close, finite_floats, materialize, snapshot, to_backend
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpnet

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
LOSSES = ("cross_entropy", "binary_cross_entropy", "squared_error", "poisson")

#: Depth and widths on JAX come from this pool: eager JAX compiles each op per new shape.
JAX_SIZES = ((3, 2), (3, 4, 2), (2, 3, 3, 2), (4, 2, 3, 2, 3))


@dataclass(frozen=True)
class Net:
    """A drawn problem in NumPy float64: inputs, targets (labels or a matrix), layers."""

    X: np.ndarray
    y: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str
    loss: str
    alpha: float
    weights: np.ndarray | None

    def on(self, backend: Backend) -> tuple[Any, Any, tuple[xpnet.Layer, ...], Any]:
        layers = tuple(
            xpnet.Layer(to_backend(W, backend), to_backend(b, backend)) for W, b in self.layers
        )
        w = None if self.weights is None else to_backend(self.weights, backend)
        return to_backend(self.X, backend), to_backend(self.y, backend), layers, w

    @property
    def options(self) -> dict[str, Any]:
        return {"activation": self.activation, "loss": self.loss, "alpha": self.alpha}


def _targets(draw: st.DrawFn, loss: str, n: int, k: int) -> np.ndarray:
    if loss == "cross_entropy":
        return draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    if loss == "binary_cross_entropy":
        return draw(hnp.arrays(np.float64, (n, k), elements=st.sampled_from([0.0, 1.0])))
    if loss == "poisson":
        return draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 5, width=64)))
    return draw(hnp.arrays(np.float64, (n, k), elements=finite_floats(3.0)))


@st.composite
def nets(draw: st.DrawFn, backend: Backend | None = None) -> Net:
    loss = draw(st.sampled_from(LOSSES))
    if backend is Backend.JAX:
        sizes = draw(st.sampled_from(JAX_SIZES))
        n = 5
    else:
        depth = draw(st.integers(1, 4))
        sizes = tuple(draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1)))
        n = draw(st.integers(1, 8))
    if loss == "cross_entropy" and sizes[-1] < 2:
        sizes = (*sizes[:-1], 2)
    layers = tuple(
        (
            draw(hnp.arrays(np.float64, (a, b), elements=finite_floats(1.2))),
            draw(hnp.arrays(np.float64, (b,), elements=finite_floats(1.2))),
        )
        for a, b in itertools.pairwise(sizes)
    )
    X = draw(hnp.arrays(np.float64, (n, sizes[0]), elements=finite_floats(2.0)))
    weights = draw(
        st.none() | hnp.arrays(np.float64, (n,), elements=st.floats(0.1, 3.0, width=64))
    )
    return Net(
        X,
        _targets(draw, loss, n, sizes[-1]),
        layers,
        draw(st.sampled_from(ACTIVATIONS)),
        loss,
        draw(st.sampled_from([0.0, 0.5, 1e-4])),
        weights,
    )


def _torch_oracle(net: Net) -> tuple[float, list[np.ndarray]]:
    """The mean loss and its gradients, by torch.nn.functional and torch.autograd alone."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    leaves = [
        torch.tensor(a, dtype=torch.float64, requires_grad=True) for p in net.layers for a in p
    ]
    act = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid}.get(
        net.activation, lambda a: a
    )
    h = torch.tensor(net.X)
    for i in range(0, len(leaves) - 2, 2):
        h = act(h @ leaves[i] + leaves[i + 1])
    z = h @ leaves[-2] + leaves[-1]
    y = torch.tensor(net.y)
    if net.loss == "cross_entropy":
        per_sample = F.cross_entropy(z, y, reduction="none")
    elif net.loss == "binary_cross_entropy":
        per_sample = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(1)
    elif net.loss == "poisson":
        per_sample = F.poisson_nll_loss(z, y, log_input=True, full=False, reduction="none").sum(1)
    else:
        per_sample = F.mse_loss(z, y, reduction="none").sum(1) / 2
    w = (
        torch.ones(len(net.X), dtype=torch.float64)
        if net.weights is None
        else torch.tensor(net.weights)
    )
    n_w = w.sum()
    l2 = sum((W * W).sum() for W in leaves[::2])
    loss = (w * per_sample).sum() / n_w + net.alpha / (2 * n_w) * l2
    grads = torch.autograd.grad(loss, leaves)
    return loss.item(), [g.numpy() for g in grads]


def _flat(layers: Any) -> list[Any]:
    return [a for layer in layers for a in layer]


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_hand_derived_gradients_equal_torch_autograd(
    backend: Backend, data: st.DataObject
) -> None:
    net = data.draw(nets(backend), label="net")
    X, y, layers, w = net.on(backend)
    loss, grads = xpnet.loss_and_grad(X, y, layers, sample_weight=w, **net.options)
    expected_loss, expected = _torch_oracle(net)
    assert_close(loss, np.asarray(expected_loss), backend=backend, rtol=1e-10, atol=1e-12)
    assert len(grads) == len(layers)
    assert all(isinstance(g, xpnet.Layer) for g in grads)
    for i, (got, want) in enumerate(zip(_flat(grads), expected)):
        assert_close(got, want, backend=backend, rtol=1e-9, atol=1e-11, err_msg=f"leaf {i}")


@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_hand_derived_gradients_equal_jax_grad(data: st.DataObject) -> None:
    pytest.importorskip("jax")
    net = data.draw(nets(Backend.JAX), label="net")
    # jax.grad of maximum(a, 0) is 1/2 at a == 0, the hand-derived relu' is 0 there (as
    # torch's): both are subgradients, so the kink itself is no test of either
    assume(net.activation != "relu" or _distance_from_kink(net) > 1e-9)
    X, y, layers, w = net.on(Backend.JAX)
    manual = xpnet.backward(X, y, layers, sample_weight=w, **net.options)
    auto = xpnet.autograd_grad(X, y, layers, sample_weight=w, **net.options)
    for got, want in zip(_flat(manual), _flat(auto)):
        assert_close(got, want, backend="jax", rtol=1e-9, atol=1e-11)


def _distance_from_kink(net: Net) -> float:
    """The smallest ``|a|`` over every hidden pre-activation (inf without hidden layers)."""
    h, smallest = net.X, np.inf
    for W, b in net.layers[:-1]:
        a = h @ W + b
        if a.size:
            smallest = min(smallest, float(np.min(np.abs(a))))
        h = np.maximum(a, 0)
    return smallest


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_hand_derived_gradients_equal_finite_differences(
    backend: Backend, data: st.DataObject
) -> None:
    net = data.draw(nets(backend), label="net")
    # central differences straddle the ReLU kink when a pre-activation is within eps of 0
    assume(net.activation != "relu" or _distance_from_kink(net) > 1e-4)
    X, y, layers, w = net.on(backend)
    manual = xpnet.backward(X, y, layers, sample_weight=w, **net.options)
    numeric = xpnet.numerical_grad(X, y, layers, sample_weight=w, **net.options)
    # the differences' round-off is about machine eps * |J| / step (1e-6): a Poisson loss of
    # exp(15) is differenced to within 1e-3 only, whatever the order of its sum
    loss = abs(float(xpnet.loss_and_grad(X, y, layers, sample_weight=w, **net.options)[0]))
    for got, want in zip(_flat(manual), _flat(numeric)):
        np.testing.assert_allclose(
            xpnet.to_numpy(got), xpnet.to_numpy(want), rtol=1e-5, atol=1e-6 + 1e-8 * loss
        )


def test_one_hidden_layer_as_layers_equals_the_lectures_params(backend: Backend) -> None:
    X, y = xpnet.datasets.load_iris_2d(backend=backend.library, dtype="float64")
    params = xpnet.init_params(2, 10, 3, xp=xpnet.namespace(backend.library), dtype="float64")
    layers = xpnet.init_layers((2, 10, 3), xp=xpnet.namespace(backend.library), dtype="float64")
    for a, b in zip(params, _flat(layers)):
        assert_close(a, b, rtol=0, atol=0)
    loss_p, grads_p = xpnet.loss_and_grad(X, y, params)
    loss_l, grads_l = xpnet.loss_and_grad(X, y, layers)
    assert isinstance(grads_p, xpnet.Params)
    assert isinstance(grads_l, tuple)
    assert isinstance(grads_l[0], xpnet.Layer)
    assert_close(loss_l, loss_p, rtol=0, atol=0)
    for a, b in zip(grads_p, _flat(grads_l)):
        assert_close(b, a, rtol=0, atol=0)


def test_softmax_regression_is_one_layer(backend: Backend) -> None:
    X, y = xpnet.datasets.load_iris_2d(backend=backend.library, dtype="float64")
    (layer,) = xpnet.init_layers((2, 3), xp=xpnet.namespace(backend.library), dtype="float64")
    hidden, z = xpnet.forward(X, (layer,))
    assert hidden == ()
    expected = xpnet.to_numpy(X) @ xpnet.to_numpy(layer.W) + xpnet.to_numpy(layer.b)
    assert_close(z, expected, backend=backend, rtol=1e-13)


def test_same_seed_same_layers_on_every_backend(backend: Backend) -> None:
    xp = xpnet.namespace(backend.library)
    for init in ("he", "glorot", "lecture"):
        reference = xpnet.init_layers((4, 6, 5, 3), init=init, seed=3, dtype="float64")
        layers = xpnet.init_layers((4, 6, 5, 3), xp=xp, init=init, seed=3, dtype="float64")
        for a, b in zip(_flat(layers), _flat(reference)):
            assert_close(a, b, backend=backend, rtol=0, atol=0)


def test_glorot_init_is_scikit_learns_draw() -> None:
    """scikit-learn's initial coefs_ for random_state=0 (read back after a step of 1e-300,
    which moves no weight) equal init_layers(init="glorot", seed=0)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    reg = MLPRegressor(
        hidden_layer_sizes=(7, 5),
        solver="sgd",
        learning_rate_init=1e-300,
        momentum=0.0,
        max_iter=1,
        shuffle=False,
        random_state=0,
        activation="tanh",
    )
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, y)
    layers = xpnet.init_layers((4, 7, 5, 1), init="glorot", seed=0)
    for (W, b), coef, intercept in zip(layers, reg.coefs_, reg.intercepts_):
        np.testing.assert_array_equal(W, coef)
        np.testing.assert_array_equal(b, intercept)


def test_he_init_scales() -> None:
    layers = xpnet.init_layers((400, 300, 200, 10), seed=1)
    stds = [float(np.std(W)) for W, _ in layers]
    np.testing.assert_allclose(
        stds, [np.sqrt(2 / 400), np.sqrt(2 / 300), np.sqrt(1 / 200)], rtol=0.05
    )
    assert all(not np.any(b) for _, b in layers)


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "squared_error"])
def test_losses_are_stable_at_huge_logits(backend: Backend, loss: str) -> None:
    z_np = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    y_np = np.array([0, 0]) if loss == "cross_entropy" else np.array([[1.0, 0.0], [1.0, 0.0]])
    z, y = to_backend(z_np, backend), to_backend(y_np, backend)
    value = xpnet.loss_value(z, y, loss=loss)
    grad = xpnet.loss_grad(z, y, loss=loss)
    expected = {
        # row 1 is right (loss ~e^-2000), row 2 is wrong by 2000: the mean is 1000
        "cross_entropy": 1000.0,
        # softplus(z) - t z per entry: ~0, ~0 on row 1; 1000, 1000 on row 2
        "binary_cross_entropy": 1000.0,
        "squared_error": float(((z_np - y_np) ** 2).sum() / 2 / 2),
    }[loss]
    assert np.isfinite(float(value))
    np.testing.assert_allclose(float(value), expected, rtol=1e-12)
    assert np.all(np.isfinite(xpnet.to_numpy(grad)))


def test_loss_value_and_grad_match_torch(backend: Backend) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z_np = rng.standard_normal((6, 3)) * 3
    targets = {
        "cross_entropy": rng.integers(0, 3, 6),
        "binary_cross_entropy": rng.integers(0, 2, (6, 3)).astype(float),
        "squared_error": rng.standard_normal((6, 3)),
        "poisson": rng.poisson(2.0, (6, 3)).astype(float),
    }
    w_np = rng.uniform(0.5, 2.0, 6)
    F = torch.nn.functional
    for loss, t_np in targets.items():
        zt = torch.tensor(z_np, requires_grad=True)
        t = torch.tensor(t_np)
        if loss == "cross_entropy":
            per_sample = F.cross_entropy(zt, t, reduction="none")
        elif loss == "binary_cross_entropy":
            per_sample = F.binary_cross_entropy_with_logits(zt, t, reduction="none").sum(1)
        elif loss == "squared_error":
            per_sample = ((zt - t) ** 2).sum(1) / 2
        else:
            per_sample = F.poisson_nll_loss(zt, t, full=False, reduction="none").sum(1)
        wt = torch.tensor(w_np)
        expected = (wt * per_sample).sum() / wt.sum()
        (expected_grad,) = torch.autograd.grad(expected, zt)
        z, y, w = (to_backend(a, backend) for a in (z_np, t_np, w_np))
        value = xpnet.loss_value(z, y, loss=loss, sample_weight=w)
        assert_close(value, np.asarray(float(expected)), backend=backend, rtol=1e-12)
        grad = xpnet.loss_grad(z, y, loss=loss, sample_weight=w)
        assert_close(grad, expected_grad.numpy(), backend=backend, rtol=1e-11, atol=1e-14)


def test_predictions_for_each_loss(backend: Backend) -> None:
    rng = np.random.default_rng(2)
    X = to_backend(rng.standard_normal((10, 3)), backend)
    layers = xpnet.init_layers((3, 4, 2), xp=xpnet.namespace(backend.library), dtype="float64")
    W, b = (xpnet.to_numpy(a) for a in layers[-1])
    h = np.maximum(xpnet.to_numpy(X) @ xpnet.to_numpy(layers[0].W), 0)
    z = h @ W + b
    assert_close(xpnet.predict(X, layers), np.argmax(z, 1), backend=backend, dtype=None, rtol=0)
    bce = xpnet.predict(X, layers, loss="binary_cross_entropy")
    np.testing.assert_array_equal(xpnet.to_numpy(bce), (z > 0).astype(int))
    assert_close(
        xpnet.predict_proba(X, layers, loss="binary_cross_entropy"),
        1 / (1 + np.exp(-z)),
        backend=backend,
        rtol=1e-12,
    )
    assert_close(xpnet.predict(X, layers, loss="poisson"), np.exp(z), backend=backend, rtol=1e-12)
    assert_close(xpnet.predict(X, layers, loss="squared_error"), z, backend=backend, rtol=1e-12)
    with pytest.raises(ValueError, match=r"^loss: predict_proba needs a classification loss"):
        xpnet.predict_proba(X, layers, loss="squared_error")


# --- bad input --------------------------------------------------------------------------------


def _small(backend: Backend) -> tuple[Any, Any, tuple[xpnet.Layer, ...]]:
    rng = np.random.default_rng(0)
    X = to_backend(rng.standard_normal((6, 3)), backend)
    y = to_backend(np.array([0, 1, 2, 0, 1, 2]), backend)
    layers = xpnet.init_layers((3, 4, 3), xp=xpnet.namespace(backend.library), dtype="float64")
    return X, y, layers


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"activation": "softplus"}, ValueError, r"^activation: unknown activation 'softplus'"),
        ({"activation": None}, TypeError, r"^activation: expected a name"),
        ({"loss": "hinge"}, ValueError, r"^loss: unknown loss 'hinge'"),
        ({"alpha": -1.0}, ValueError, r"^alpha: must be a finite number in \[0.0, inf\]"),
        ({"alpha": "0"}, TypeError, r"^alpha: expected a number"),
        ({"alpha": float("nan")}, ValueError, r"^alpha:"),
    ],
)
def test_bad_options(backend: Backend, options: dict, error: type, pattern: str) -> None:
    X, y, layers = _small(backend)
    copies = snapshot(X, y, *_flat(layers))
    with pytest.raises(error, match=pattern):
        xpnet.loss_and_grad(X, y, layers, **options)
    for a, c in zip((X, y, *_flat(layers)), copies):
        np.testing.assert_array_equal(xpnet.to_numpy(a), c)


def test_layers_that_do_not_chain(backend: Backend) -> None:
    X, y, layers = _small(backend)
    bad = (layers[0], xpnet.Layer(layers[0].W, layers[1].b))
    with pytest.raises(ValueError, match=r"^params\[1\].W: expected shape \(4, \?\)"):
        xpnet.forward(X, bad)
    bad_bias = (xpnet.Layer(layers[0].W, layers[1].b), layers[1])
    with pytest.raises(ValueError, match=r"^params\[0\].b: expected shape \(4,\)"):
        xpnet.forward(X, bad_bias)
    with pytest.raises(TypeError, match=r"^params\[1\]: expected Layer"):
        xpnet.forward(X, (layers[0], layers[1].W))
    with pytest.raises(TypeError, match=r"^params\[1\].W: expected an array"):
        xpnet.forward(X, (layers[0], xpnet.Layer(3.0, layers[1].b)))


@pytest.mark.parametrize(
    ("loss", "target", "error", "pattern"),
    [
        ("cross_entropy", np.full(6, 0.5), TypeError, r"^y: labels must have an integer dtype"),
        (
            "squared_error",
            np.zeros((6, 2)),
            ValueError,
            r"^y: squared_error needs targets of shape \(6, 3\)",
        ),
        ("poisson", -np.ones((6, 3)), ValueError, r"^y: Poisson targets must be >= 0"),
        (
            "binary_cross_entropy",
            np.full((6, 3), 2.0),
            ValueError,
            r"^y: targets must be in \[0.0, 1.0\]",
        ),
        ("squared_error", np.full((6, 3), np.nan), ValueError, r"^y: contains NaN"),
    ],
)
def test_targets_of_the_wrong_kind(backend: Backend, loss, target, error, pattern) -> None:
    X, _, layers = _small(backend)
    with pytest.raises(error, match=pattern):
        materialize(xpnet.loss_and_grad(X, to_backend(target, backend), layers, loss=loss))


@pytest.mark.parametrize(
    ("weights", "error", "pattern"),
    [
        (np.ones(5), ValueError, r"^sample_weight: expected shape \(6,\)"),
        (-np.ones(6), ValueError, r"^sample_weight: weights must be >= 0"),
        (np.zeros(6), ValueError, r"^sample_weight: the weights sum to 0"),
        (np.full(6, np.inf), ValueError, r"^sample_weight: contains NaN or inf"),
    ],
)
def test_bad_sample_weights(backend: Backend, weights, error, pattern) -> None:
    X, y, layers = _small(backend)
    with pytest.raises(error, match=pattern):
        materialize(xpnet.loss_and_grad(X, y, layers, sample_weight=to_backend(weights, backend)))


def test_bad_init_layers_arguments() -> None:
    with pytest.raises(ValueError, match=r"^init: unknown initialisation 'xavier'"):
        xpnet.init_layers((2, 3), init="xavier")
    with pytest.raises(ValueError, match=r"^sizes: expected at least"):
        xpnet.init_layers((2,))
    with pytest.raises(ValueError, match=r"^sizes\[1\]: must be >= 1"):
        xpnet.init_layers((2, 0, 3))
    with pytest.raises(TypeError, match=r"^sizes: expected a sequence of ints"):
        xpnet.init_layers(3)
    with pytest.raises(TypeError, match=r"^sizes\[0\]: expected an int"):
        xpnet.init_layers((2.0, 3))
