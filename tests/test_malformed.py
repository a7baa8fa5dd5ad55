"""Malformed arguments: a clear ValueError or TypeError, the same on every backend.

A table of the public functions with their arguments (:data:`CASES`). For each function and
backend, Hypothesis draws calls in which one or two arguments are malformed (wrong kinds,
ranks, dtypes, shapes and values, a non-array inside a parameter tuple, an array of another
backend) and checks that each call either

- raises ``ValueError`` or ``TypeError`` whose message starts with one of the function's
  argument names (``"params.W2: expected an array, got float"``), of the same type as the
  same call on NumPy, or
- succeeds with a correct result: the one an oracle gives (SciPy, scikit-learn's
  estimators and update rules, ``torch.autograd``, ``torch.nn.functional``), on the
  backend of the inputs. Where NaN, inf or values near 1e300 go in, only the entries
  that both give finite are compared (each library propagates them its own way).

Covered: the functional API (activations, softmax, one-hot, losses), the network in both
forms (Params, tuples of Layer) with activation/loss/alpha/sample_weight, gradcheck,
sgd_step, SGD/Adam (constructors, init, step), train and its keywords, the schedules,
minibatches, init_params/init_layers, the data sets, the backends (asarray, namespace,
to_numpy, backend_name, get_backend, canonical_backend, devices), the estimators (fit,
predict_proba, score) and save/load. Not here: register/unregister (tests/test_registry.py),
the command line (tests/test_cli*.py, tests/test_check.py), plot (tests/test_docs.py).

To cover a new public function, add a :class:`Case` to :data:`CASES`. Single examples of
malformed calls, one per test, follow at the end.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import scipy.special
from helpers import Backend, dtype_name, params_to_backend, to_backend
from hypothesis import given, settings
from hypothesis import strategies as st

import xpnet
from xpnet.gradcheck import mean_loss

N, D, H, K = 5, 3, 4, 3
_RNG = np.random.default_rng(12)
X_HOST = _RNG.standard_normal((N, D))
Y_HOST = np.array([0, 1, 2, 1, 0])
Z_HOST = 3.0 * _RNG.standard_normal((N, K))
PARAMS_HOST = xpnet.Params(
    _RNG.standard_normal((D, H)),
    _RNG.standard_normal(H),
    _RNG.standard_normal((H, K)),
    _RNG.standard_normal(K),
)
GRADS_HOST = xpnet.Params(*(0.1 * _RNG.standard_normal(p.shape) for p in PARAMS_HOST))


# --- what a malformed argument is -------------------------------------------------------------


@dataclass(frozen=True)
class Foreign:
    """An array that goes to another backend than the one under test (a mix of backends)."""

    value: np.ndarray


#: Things that are no array at all.
NOT_ARRAYS: tuple[Any, ...] = (None, 0, 1.5, True, "x", 2j, {}, object())
#: Dtypes every backend has, none of them the float64 of the valid data.
OTHER_DTYPES = ("float32", "int64", "int32", "uint8", "bool", "complex128")


def _variants_of_array(v: np.ndarray) -> list[Any]:
    """Arrays of the wrong rank, dtype, emptiness, values or backend, made from ``v``."""
    out: list[Any] = [v.tolist(), v[None], v[..., None], np.asarray(v.flat[0]), Foreign(v)]
    if v.ndim > 1:
        out += [v.reshape(-1), v[:, :0]]
    out += [v.astype(dtype) for dtype in OTHER_DTYPES]
    if v.ndim > 0:
        out.append(v[:0])
    if v.dtype.kind == "f":
        for bad in (np.nan, np.inf, -np.inf, 1e300):  # 1 / 1e308 would be subnormal
            w = v.copy()
            w.flat[v.size // 2] = bad
            out.append(w)
    return out


def arrays(v: np.ndarray) -> st.SearchStrategy[Any]:
    return st.sampled_from([*NOT_ARRAYS, *_variants_of_array(v)])


def labels(v: np.ndarray, num_classes: int = K) -> st.SearchStrategy[Any]:
    out_of_range = [np.where(v == 1, bad, v) for bad in (-1, num_classes, 10**6)]
    return st.sampled_from([*NOT_ARRAYS, *_variants_of_array(v), *out_of_range, v[:-1]])


def _rebuild(node: tuple, items: list[Any]) -> tuple:
    return type(node)(*items) if hasattr(node, "_fields") else tuple(items)


def _paths(tree: Any, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """The path to every node of a tree of tuples (the root included)."""
    paths = [prefix]
    if isinstance(tree, tuple):
        for i, item in enumerate(tree):
            paths += _paths(item, (*prefix, i))
    return paths


def _get(tree: Any, path: tuple[int, ...]) -> Any:
    for i in path:
        tree = tree[i]
    return tree


def _replace(tree: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    items = list(tree)
    items[path[0]] = _replace(tree[path[0]], path[1:], new)
    return _rebuild(tree, items)


def _variants_of_node(node: Any) -> list[Any]:
    """What may stand where ``node`` stands: junk, a malformed array, a malformed tuple."""
    if isinstance(node, np.ndarray):
        return [*NOT_ARRAYS, *_variants_of_array(node), np.ones(())]
    if isinstance(node, tuple):
        out = [*NOT_ARRAYS, (), list(node), (*node, node[0]), dict(enumerate(node))]
        if len(node) > 1:
            out += [tuple(node[:-1]), node[0]]
        return out
    return list(NOT_ARRAYS)


def trees(v: Any) -> st.SearchStrategy[Any]:
    """A tree of tuples of arrays (Params, layers, an optimizer's state) with one node
    malformed: an array (kind, rank, dtype, values, backend), or a tuple (length, kind)."""
    return st.sampled_from(_paths(v)).flatmap(
        lambda path: st.sampled_from(_variants_of_node(_get(v, path))).map(
            lambda new: _replace(v, path, new)
        )
    )


def ints(*, valid_low: int, extra: tuple[Any, ...] = ()) -> Callable[[Any], st.SearchStrategy]:
    bad = (valid_low - 1, -(10**9), 1.0, 2.5, True, "3", None, np.float64(2.0), 1j, *extra)
    return lambda _: st.sampled_from(bad)


def reals(*, extra: tuple[Any, ...] = ()) -> Callable[[Any], st.SearchStrategy]:
    bad = (-1.0, math.nan, math.inf, -math.inf, "0.1", None, True, [0.1], 1j, *extra)
    return lambda _: st.sampled_from(bad)


def dtypes(_: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(["float", "float128", "complex64", "bfloat", 3, 1.5, True, int, [1]])


# --- the table of public functions ------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """An argument: its name, a valid host value, and a strategy of malformed ones."""

    name: str
    valid: Any
    malformed: Callable[[Any], st.SearchStrategy[Any]]
    keyword: bool = False


@dataclass(frozen=True)
class Case:
    """A public function, its arguments, and the oracle of a call that succeeds.

    ``oracle(**host_arguments)`` returns the expected result (arrays, tuples of arrays,
    numbers) with the backend's arrays replaced by NumPy ones; ``view(result)`` picks
    what is compared (default: the whole result).
    """

    function: Callable[..., Any]
    args: tuple[Arg, ...]
    oracle: Callable[..., Any]
    view: Callable[[Any], Any] = lambda result: result
    fixed: dict[str, Any] = field(default_factory=dict)
    #: Names an error may start with besides the arguments' (derived quantities).
    also: tuple[str, ...] = ()
    #: False where backends legitimately differ (autodiff exists on torch and JAX only).
    same_on_every_backend: bool = True
    #: Lists among the inputs give a NumPy result (scikit-learn's estimators), not the
    #: backend under test's.
    lists_give_numpy: bool = False
    #: Errors that name no argument because no argument is malformed: training that
    #: diverges on huge (finite) values, with scikit-learn's own message.
    divergence: str | None = None
    #: Backends the function does not serve (with the reason in the table).
    not_on: tuple[Backend, ...] = ()
    #: The keyword that names the backend of the result (functions that make arrays).
    backend_keyword: str | None = None
    #: False where huge values make the result meaningless rather than wrong (finite
    #: differences of a loss near 1e308 lose every digit): then only shapes are compared.
    exact_on_overflow: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return (*(a.name for a in self.args), *self.also)


def X_arg(name: str = "X") -> Arg:
    return Arg(name, X_HOST, arrays)


def y_arg() -> Arg:
    return Arg("y", Y_HOST, labels)


def params_arg(name: str = "params", value: Any = PARAMS_HOST) -> Arg:
    return Arg(name, value, trees)


# Oracles: SciPy, scikit-learn, torch.autograd, torch.optim (float64 on the host).


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    return scipy.special.softmax(z, axis=axis)


def _one_hot(y: np.ndarray, num_classes: int, dtype: Any = None) -> np.ndarray:
    return np.eye(num_classes)[y]  # NumPy's integer-array indexing, which xpnet avoids


def _torch_network(X: np.ndarray, params: Any) -> tuple[Any, Any, list[Any]]:
    torch = pytest.importorskip("torch")
    leaves = [torch.tensor(np.asarray(p, dtype=np.float64), requires_grad=True) for p in params]
    W1, b1, W2, b2 = leaves
    h = torch.relu(torch.tensor(X, dtype=torch.float64) @ W1 + b1)
    return h, h @ W2 + b2, leaves


def _torch_loss_and_grad(X: np.ndarray, y: np.ndarray, params: Any) -> tuple[Any, Any]:
    torch = pytest.importorskip("torch")
    _, z, leaves = _torch_network(X, params)
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(np.asarray(y), dtype=torch.int64))
    grads = torch.autograd.grad(loss, leaves)
    return loss.detach().numpy(), tuple(g.numpy() for g in grads)


def _torch_forward(X: np.ndarray, params: Any) -> tuple[np.ndarray, np.ndarray]:
    h, z, _ = _torch_network(X, params)
    return h.detach().numpy(), z.detach().numpy()


def _torch_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    torch = pytest.importorskip("torch")
    logits = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.int64))
    return loss.detach().numpy(), torch.autograd.grad(loss, logits)[0].numpy()


def _torch_sgd(X: np.ndarray, y: np.ndarray, params: Any, epochs: int, lr: float) -> tuple:
    torch = pytest.importorskip("torch")
    leaves = [torch.tensor(np.asarray(p, dtype=np.float64), requires_grad=True) for p in params]
    optimizer = torch.optim.SGD(leaves, lr=lr)
    for _ in range(epochs):
        optimizer.zero_grad()
        W1, b1, W2, b2 = leaves
        z = torch.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2
        torch.nn.functional.cross_entropy(z, torch.tensor(y, dtype=torch.int64)).backward()
        optimizer.step()
    return tuple(p.detach().numpy() for p in leaves)


def _iris_2d() -> np.ndarray:
    from sklearn.datasets import load_iris

    X = load_iris().data[:, :2]
    return X - X.mean(axis=0)


def _max_relative_error(a: Any, b: Any, floor: float = 1e-8) -> float:
    worst = 0.0
    for p, q in zip(a, b):
        p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
        if p.size:
            scale = np.maximum(np.maximum(np.abs(p), np.abs(q)), floor)
            error = np.max(np.abs(p - q) / scale)
            if np.isnan(error):  # a NaN is the largest error of all
                return math.nan
            worst = max(worst, float(error))
    return worst


def _blobs_shapes(n_samples: int = 30, n_features: int = 2, n_classes: int = 3, **_: Any) -> Any:
    return Shapes(((n_samples, n_features), (n_samples,)), labels_below=n_classes)


CASES: dict[str, Case] = {
    "relu": Case(xpnet.relu, (X_arg("x"),), lambda x: np.maximum(x, 0.0)),
    "relu_grad": Case(xpnet.relu_grad, (X_arg("x"),), lambda x: (x > 0).astype(x.dtype)),
    "softmax": Case(
        xpnet.softmax,
        (Arg("z", Z_HOST, arrays), Arg("axis", -1, ints(valid_low=-2, extra=(2, 5)), True)),
        _softmax,
    ),
    "log_softmax": Case(
        xpnet.log_softmax,
        (Arg("z", Z_HOST, arrays), Arg("axis", 1, ints(valid_low=-2, extra=(2,)), True)),
        lambda z, axis=-1: scipy.special.log_softmax(z, axis=axis),
    ),
    "one_hot": Case(
        xpnet.one_hot,
        (y_arg(), Arg("num_classes", K, ints(valid_low=2)), Arg("dtype", None, dtypes, True)),
        _one_hot,
    ),
    "cross_entropy": Case(
        xpnet.cross_entropy,
        (Arg("z", Z_HOST, arrays), y_arg()),
        lambda z, y: _torch_cross_entropy(z, y)[0],
    ),
    "cross_entropy_grad": Case(
        xpnet.cross_entropy_grad,
        (Arg("z", Z_HOST, arrays), y_arg()),
        lambda z, y: _torch_cross_entropy(z, y)[1],
    ),
    "forward": Case(xpnet.forward, (X_arg(), params_arg()), _torch_forward),
    "forward_rowwise": Case(xpnet.forward_rowwise, (X_arg(), params_arg()), _torch_forward),
    "loss_and_grad": Case(
        xpnet.loss_and_grad, (X_arg(), y_arg(), params_arg()), _torch_loss_and_grad
    ),
    "backward": Case(
        xpnet.backward,
        (X_arg(), y_arg(), params_arg()),
        lambda X, y, params: _torch_loss_and_grad(X, y, params)[1],
    ),
    "mean_loss": Case(
        mean_loss,
        (X_arg(), y_arg(), params_arg()),
        lambda X, y, params: _torch_loss_and_grad(X, y, params)[0],
    ),
    "numerical_grad": Case(
        xpnet.numerical_grad,
        (X_arg(), y_arg(), params_arg(), Arg("eps", 1e-6, reals(extra=(0.0,)), True)),
        lambda X, y, params, eps=1e-6: _torch_loss_and_grad(X, y, params)[1],
        exact_on_overflow=False,
    ),
    "autograd_grad": Case(
        xpnet.autograd_grad,
        (X_arg(), y_arg(), params_arg()),
        lambda X, y, params: _torch_loss_and_grad(X, y, params)[1],
        same_on_every_backend=False,
    ),
    "predict_proba": Case(
        xpnet.predict_proba,
        (X_arg(), params_arg()),
        lambda X, params: _softmax(_torch_forward(X, params)[1], axis=1),
    ),
    "predict": Case(
        xpnet.predict,
        (X_arg(), params_arg()),
        lambda X, params: np.argmax(_torch_forward(X, params)[1], axis=1),
    ),
    "sgd_step": Case(
        xpnet.sgd_step,
        (params_arg(), params_arg("grads", GRADS_HOST), Arg("lr", 0.1, reals())),
        lambda params, grads, lr: tuple(p - lr * g for p, g in zip(params, grads)),
    ),
    "train": Case(
        xpnet.train,
        (X_arg(), y_arg(), params_arg()),
        lambda X, y, params, epochs, lr, compile: _torch_sgd(X, y, params, epochs, lr),
        view=lambda result: result[0],
        fixed={"epochs": 2, "lr": 0.1, "compile": "none"},
    ),
    "max_relative_error": Case(
        xpnet.max_relative_error,
        (
            params_arg("a"),
            params_arg("b", GRADS_HOST),
            Arg("floor", 1e-8, reals(extra=(0.0,)), True),
        ),
        _max_relative_error,
    ),
    "load_iris_2d": Case(
        xpnet.datasets.load_iris_2d,
        (Arg("dtype", "float64", dtypes, True),),
        lambda dtype="float64": _iris_2d(),
        view=lambda result: result[0],
        backend_keyword="backend",
    ),
    "make_blobs": Case(
        xpnet.datasets.make_blobs,
        (
            Arg("n_samples", 30, ints(valid_low=1)),
            Arg("n_features", 2, ints(valid_low=1)),
            Arg("n_classes", 3, ints(valid_low=1)),
            Arg("seed", 0, ints(valid_low=0, extra=(2**32,)), True),
            Arg("spread", 0.5, reals(extra=(0.0,)), True),
            Arg("dtype", "float64", dtypes, True),
        ),
        _blobs_shapes,
        backend_keyword="backend",
    ),
}


# --- the any-depth network: layers, activations, losses, weights, optimizers -------------------

LAYERS_HOST = tuple(
    xpnet.Layer(_RNG.standard_normal((fan_in, fan_out)), _RNG.standard_normal(fan_out))
    for fan_in, fan_out in ((D, 4), (4, 2), (2, K))
)
LAYER_GRADS_HOST = tuple(
    xpnet.Layer(0.1 * _RNG.standard_normal(W.shape), 0.1 * _RNG.standard_normal(b.shape))
    for W, b in LAYERS_HOST
)
WEIGHTS_HOST = _RNG.uniform(0.5, 2.0, N)
TARGETS_HOST = _RNG.uniform(0.0, 1.0, (N, K))  # for the losses other than cross-entropy


def names(*choices: Any) -> Callable[[Any], st.SearchStrategy[Any]]:
    """Malformed names of an option: not a string, a wrong case, unknown, or ``choices``
    (valid names that do not fit the rest of the call)."""
    bad = (None, 3, 1.5, True, ["relu"], b"relu", "RELU", "", "no such name", *choices)
    return lambda _: st.sampled_from(bad)


def optional_arrays(v: np.ndarray) -> st.SearchStrategy[Any]:
    """An optional array argument (None is its valid default)."""
    negative, zeros = -v, np.zeros_like(v)
    return st.sampled_from([*NOT_ARRAYS[1:], *_variants_of_array(v), negative, zeros, v[:-1]])


def booleans(_: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, 0, 1, 1.0, "yes", "False", [True], np.ones(2, dtype=bool)])


@dataclass(frozen=True)
class Shapes:
    """The expected result when only its form can be predicted: the shapes of its arrays (in
    order), and an upper bound of the values of its integer ones (labels, indices)."""

    shapes: tuple[tuple[int, ...], ...]
    labels_below: int | None = None
    #: False for host (NumPy) results whatever the backend, such as minibatch indices.
    on_backend: bool = True


@dataclass(frozen=True)
class Check:
    """The expected result as an assertion ``check(result, backend, host arguments)`` (for a
    result on the host, a name)."""

    check: Callable[[Any, Backend, dict[str, Any]], None]


@dataclass(frozen=True)
class Attributes:
    """The expected result of a constructor: an object with these attributes."""

    values: dict[str, Any]


_ACTIVATIONS = {
    "relu": lambda torch, a: torch.relu(a),
    "tanh": lambda torch, a: torch.tanh(a),
    "logistic": lambda torch, a: torch.sigmoid(a),
    "identity": lambda torch, a: a,
}


def _torch_leaves(params: Any) -> list[Any]:
    torch = pytest.importorskip("torch")
    return [torch.tensor(np.asarray(p, np.float64), requires_grad=True) for p in _flatten(params)]


def _torch_logits(X: np.ndarray, leaves: list[Any], activation: str) -> tuple[list[Any], Any]:
    torch = pytest.importorskip("torch")
    g = _ACTIVATIONS[activation]
    h, hidden = torch.tensor(np.asarray(X, np.float64)), []
    for i in range(0, len(leaves) - 2, 2):
        h = g(torch, h @ leaves[i] + leaves[i + 1])
        hidden.append(h)
    return hidden, h @ leaves[-2] + leaves[-1]


def _torch_mean_loss(
    z: Any, y: Any, loss: str, sample_weight: Any, alpha: float, weights: list[Any]
) -> Any:
    """The mean loss by torch.nn.functional (scikit-learn's per-sample sums over outputs)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    if loss == "cross_entropy":
        per_sample = F.cross_entropy(
            z, torch.tensor(np.asarray(y), dtype=torch.int64), reduction="none"
        )
    else:
        target = torch.tensor(np.asarray(y, np.float64)).reshape(z.shape)
        per_sample = {
            "binary_cross_entropy": lambda: F.binary_cross_entropy_with_logits(
                z, target, reduction="none"
            ),
            "squared_error": lambda: (z - target) ** 2 / 2,
            "poisson": lambda: F.poisson_nll_loss(z, target, log_input=True, reduction="none"),
        }[loss]().sum(dim=1)
    w = (
        torch.ones_like(per_sample)
        if sample_weight is None
        else torch.tensor(np.asarray(sample_weight, np.float64))
    )
    n_w = w.sum()
    penalty = sum((W * W).sum() for W in weights)
    return (w * per_sample).sum() / n_w + alpha / (2 * n_w) * penalty


def _oracle_loss_and_grad(
    X: Any,
    y: Any,
    params: Any,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    sample_weight: Any = None,
    **_: Any,
) -> tuple[Any, list[Any]]:
    torch = pytest.importorskip("torch")
    leaves = _torch_leaves(params)
    _, z = _torch_logits(X, leaves, activation)
    J = _torch_mean_loss(z, y, loss, sample_weight, alpha, leaves[0::2])
    return J.detach().numpy(), [g.numpy() for g in torch.autograd.grad(J, leaves)]


def _oracle_forward(X: Any, params: Any, activation: str = "relu") -> tuple[Any, Any]:
    hidden, z = _torch_logits(X, _torch_leaves(params), activation)
    return [h.detach().numpy() for h in hidden], z.detach().numpy()


def _oracle_predict(X: Any, params: Any, activation: str = "relu", loss: str = "cross_entropy"):
    z = _oracle_forward(X, params, activation)[1]
    return {
        "cross_entropy": lambda: np.argmax(z, axis=1),
        "binary_cross_entropy": lambda: (z > 0).astype(np.int64),
        "squared_error": lambda: z,
        "poisson": lambda: np.exp(z),
    }[loss]()


def _oracle_predict_proba(
    X: Any, params: Any, activation: str = "relu", loss: str = "cross_entropy"
) -> Any:
    z = _oracle_forward(X, params, activation)[1]
    assert loss in ("cross_entropy", "binary_cross_entropy"), f"probabilities of {loss}"
    return _softmax(z, axis=1) if loss == "cross_entropy" else scipy.special.expit(z)


def _oracle_logits_loss(z: Any, y: Any, loss: str = "cross_entropy", sample_weight: Any = None):
    torch = pytest.importorskip("torch")
    logits = torch.tensor(np.asarray(z, np.float64), requires_grad=True)
    J = _torch_mean_loss(logits, y, loss, sample_weight, 0.0, [])
    return J.detach().numpy(), torch.autograd.grad(J, logits)[0].numpy()


def _sklearn_optimizer(optimizer: Any, params: list[np.ndarray]) -> Any:
    """scikit-learn's own SGD or Adam (what MLPClassifier runs) with an xpnet optimizer's
    settings (None: SGD(0.1)), updating ``params`` in place."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    if optimizer is None or isinstance(optimizer, xpnet.optim.SGD):
        sgd = optimizer or xpnet.optim.SGD(0.1)
        return SGDOptimizer(
            params, sgd.lr, lr_schedule="constant", momentum=sgd.momentum, nesterov=sgd.nesterov
        )
    return AdamOptimizer(params, optimizer.lr, optimizer.beta1, optimizer.beta2, optimizer.eps)


def _with_state(sklearn_optimizer: Any, state: Any) -> Any:
    """``sklearn_optimizer`` resuming from an xpnet state (SGDState or AdamState)."""
    if isinstance(state, xpnet.optim.AdamState):
        sklearn_optimizer.t = np.asarray(state.t, np.float64)
        sklearn_optimizer.ms = [np.asarray(m, np.float64) for m in _flatten(state.m)]
        sklearn_optimizer.vs = [np.asarray(s, np.float64) for s in _flatten(state.s)]
    elif _flatten(state.velocity):
        sklearn_optimizer.velocities = [
            np.asarray(v, np.float64) for v in _flatten(state.velocity)
        ]
    return sklearn_optimizer


def _oracle_train(
    X: Any,
    y: Any,
    params: Any,
    *,
    epochs: int = 100,
    lr: Any = None,
    optimizer: Any = None,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    **_: Any,
) -> list[Any]:
    """Full-batch training (batch_size None or >= n): torch.autograd's gradients, scikit-learn's
    update rules."""
    current = [np.array(p, np.float64) for p in _flatten(params)]
    if lr is not None:
        optimizer = dataclasses.replace(optimizer or xpnet.optim.SGD(), lr=lr)
    rule = _sklearn_optimizer(optimizer, current)
    for _ in range(epochs):
        grads = _oracle_loss_and_grad(X, y, current, activation, loss, alpha)[1]
        rule.update_params(current, grads)
    return current


def _oracle_step(optimizer: Any) -> Callable[..., list[Any]]:
    def step(params: Any, grads: Any, state: Any, lr: Any = None) -> list[Any]:
        current = [np.array(p, np.float64) for p in _flatten(params)]
        rate = optimizer.lr if lr is None else lr
        rule = _with_state(
            _sklearn_optimizer(dataclasses.replace(optimizer, lr=rate), current), state
        )
        rule.update_params(current, [np.asarray(g, np.float64) for g in _flatten(grads)])
        return current

    return step


def _sgd_momentum_step(params: Any, grads: Any, state: Any, lr: Any = None) -> Any:
    return SGD_MOMENTUM.step(params, grads, state, lr=lr)


def _adam_step(params: Any, grads: Any, state: Any, lr: Any = None) -> Any:
    return ADAM.step(params, grads, state, lr=lr)


def _first_epoch(n: Any, batch_size: Any = None, *, seed: Any = 0, shuffle: Any = True) -> Any:
    return tuple(next(xpnet.optim.minibatches(n, batch_size, seed=seed, shuffle=shuffle)))


def _oracle_first_epoch(n: int, batch_size: Any = None, seed: int = 0, shuffle: bool = True):
    size = n if batch_size is None else batch_size
    shapes = tuple((min(size, n - start),) for start in range(0, n, size))
    return Shapes(shapes, labels_below=n, on_backend=False)


SGD_MOMENTUM = xpnet.optim.SGD(0.1, momentum=0.9)
ADAM = xpnet.optim.Adam(0.01)
SGD_STATE_HOST = SGD_MOMENTUM.init(LAYERS_HOST)
ADAM_STATE_HOST = ADAM.init(LAYERS_HOST)
OPTIMIZERS = (None, "adam", 0.1, xpnet.optim.SGD, xpnet.optim.Adam, object(), SGD_MOMENTUM)


def _layer_shapes(sizes: Any) -> tuple[tuple[int, ...], ...]:
    sizes = [int(s) for s in sizes]
    return tuple(
        shape
        for fan_in, fan_out in itertools.pairwise(sizes)
        for shape in ((fan_in, fan_out), (fan_out,))
    )


def _network_keywords() -> tuple[Arg, ...]:
    return (
        Arg("activation", "tanh", names("relu", "softmax")),
        Arg("loss", "cross_entropy", names("squared_error", "poisson", "binary_cross_entropy")),
        Arg("alpha", 1e-3, reals()),
        Arg("sample_weight", WEIGHTS_HOST, optional_arrays),
    )


def _keywords(args: tuple[Arg, ...]) -> tuple[Arg, ...]:
    return tuple(dataclasses.replace(a, keyword=True) for a in args)


CASES.update(
    {
        "logistic": Case(xpnet.logistic, (X_arg("x"),), lambda x: scipy.special.expit(x)),
        "loss_value": Case(
            xpnet.loss_value,
            (
                Arg("z", Z_HOST, arrays),
                y_arg(),
                *_keywords(_network_keywords()[1:2] + _network_keywords()[3:]),
            ),
            lambda **a: _oracle_logits_loss(**a)[0],
        ),
        "loss_grad": Case(
            xpnet.loss_grad,
            (
                Arg("z", Z_HOST, arrays),
                y_arg(),
                *_keywords(_network_keywords()[1:2] + _network_keywords()[3:]),
            ),
            lambda **a: _oracle_logits_loss(**a)[1],
        ),
        "loss_value_squared_error": Case(
            xpnet.loss_value,
            (Arg("z", Z_HOST, arrays), Arg("y", TARGETS_HOST, arrays)),
            lambda z, y, loss: _oracle_logits_loss(z, y, loss)[0],
            fixed={"loss": "squared_error"},
        ),
        "loss_grad_poisson": Case(
            xpnet.loss_grad,
            (Arg("z", Z_HOST, arrays), Arg("y", TARGETS_HOST, arrays)),
            lambda z, y, loss: _oracle_logits_loss(z, y, loss)[1],
            fixed={"loss": "poisson"},
        ),
        "loss_and_grad_layers": Case(
            xpnet.loss_and_grad,
            (X_arg(), y_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords())),
            _oracle_loss_and_grad,
        ),
        "backward_layers": Case(
            xpnet.backward,
            (X_arg(), y_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords())),
            lambda **a: _oracle_loss_and_grad(**a)[1],
        ),
        "loss_and_grad_binary": Case(
            xpnet.loss_and_grad,
            (X_arg(), Arg("y", (TARGETS_HOST > 0.5).astype(np.float64), arrays), params_arg()),
            lambda X, y, params, loss: _oracle_loss_and_grad(X, y, params, loss=loss),
            fixed={"loss": "binary_cross_entropy"},
        ),
        "forward_layers": Case(
            xpnet.forward,
            (X_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords()[:1])),
            _oracle_forward,
        ),
        "forward_rowwise_layers": Case(
            xpnet.forward_rowwise,
            (X_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords()[:1])),
            _oracle_forward,
        ),
        "predict_layers": Case(
            xpnet.predict,
            (X_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords()[:2])),
            _oracle_predict,
        ),
        "predict_proba_layers": Case(
            xpnet.predict_proba,
            (X_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords()[:2])),
            _oracle_predict_proba,
        ),
        "mean_loss_layers": Case(
            mean_loss,
            (X_arg(), y_arg(), params_arg(value=LAYERS_HOST), *_keywords(_network_keywords())),
            lambda **a: _oracle_loss_and_grad(**a)[0],
        ),
        "train_layers": Case(
            xpnet.train,
            (
                X_arg(),
                y_arg(),
                params_arg(value=LAYERS_HOST),
                *_keywords(
                    (
                        Arg("epochs", 2, ints(valid_low=0)),
                        Arg("lr", None, reals(extra=(lambda t: "fast",))),
                        Arg("batch_size", None, ints(valid_low=1)),
                        Arg("shuffle", True, booleans),
                        Arg("seed", 0, ints(valid_low=0, extra=(2**32,))),
                        Arg("progress", False, booleans),
                        Arg("callback", None, lambda _: st.sampled_from([3, "print", [print]])),
                        Arg("compile", "none", names("auto", "epoch")),
                        Arg("optimizer", ADAM, lambda _: st.sampled_from(OPTIMIZERS)),
                        *_network_keywords()[:3],
                    )
                ),
            ),
            _oracle_train,
            view=lambda result: result[0],
        ),
        "sgd_step_layers": Case(
            xpnet.sgd_step,
            (
                params_arg(value=LAYERS_HOST),
                params_arg("grads", LAYER_GRADS_HOST),
                Arg("lr", 0.1, reals()),
            ),
            lambda params, grads, lr: [
                p - lr * g for p, g in zip(_flatten(params), _flatten(grads))
            ],
        ),
        "init_params": Case(
            xpnet.init_params,
            (
                Arg("input_dim", D, ints(valid_low=1)),
                Arg("hidden_dim", H, ints(valid_low=1)),
                Arg("output_dim", K, ints(valid_low=2)),
                *_keywords(
                    (
                        Arg("seed", 0, ints(valid_low=0, extra=(2**32,))),
                        Arg("dtype", "float64", dtypes),
                        Arg("init", "he", names("glorot")),
                    )
                ),
            ),
            lambda input_dim, hidden_dim, output_dim, **_: Shapes(
                ((input_dim, hidden_dim), (hidden_dim,), (hidden_dim, output_dim), (output_dim,))
            ),
            backend_keyword="xp",
        ),
        "init_layers": Case(
            xpnet.init_layers,
            (
                Arg(
                    "sizes",
                    (D, 4, K),
                    lambda _: st.sampled_from(
                        [
                            *NOT_ARRAYS,
                            (),
                            (3,),
                            (3, 0, 2),
                            (3, -1),
                            (3, 2.0),
                            (3, True),
                            "32",
                            [3, 4, 2],
                            np.array([3, 4, 2]),
                            (3, None),
                            ((3,), 2),
                        ]
                    ),
                ),
                *_keywords(
                    (
                        Arg("seed", 0, ints(valid_low=0, extra=(2**32,))),
                        Arg("dtype", "float64", dtypes),
                        Arg("init", "glorot", names("he", "lecture")),
                    )
                ),
            ),
            lambda sizes, **_: Shapes(_layer_shapes(sizes)),
            backend_keyword="xp",
        ),
        "SGD": Case(
            xpnet.optim.SGD,
            (
                Arg("lr", 0.1, reals()),
                *_keywords(
                    (
                        Arg("momentum", 0.9, reals(extra=(1.0, 1.5))),
                        Arg("nesterov", True, booleans),
                    )
                ),
            ),
            lambda **values: Attributes(values),
        ),
        "Adam": Case(
            xpnet.optim.Adam,
            (
                Arg("lr", 1e-3, reals()),
                *_keywords(
                    (
                        Arg("beta1", 0.9, reals(extra=(1.0,))),
                        Arg("beta2", 0.999, reals(extra=(1.0,))),
                        Arg("eps", 1e-8, reals()),
                    )
                ),
            ),
            lambda **values: Attributes(values),
        ),
        "SGD.init": Case(
            SGD_MOMENTUM.init,
            (params_arg(value=LAYERS_HOST),),
            lambda params: [np.zeros_like(p) for p in _flatten(params)],
        ),
        "Adam.init": Case(
            ADAM.init,
            (params_arg(value=LAYERS_HOST),),
            lambda params: [
                np.zeros(()),
                *(np.zeros_like(p) for p in _flatten(params)),
                *(np.zeros_like(p) for p in _flatten(params)),
            ],
        ),
        "SGD.step": Case(
            _sgd_momentum_step,
            (
                params_arg(value=LAYERS_HOST),
                params_arg("grads", LAYER_GRADS_HOST),
                params_arg("state", SGD_STATE_HOST),
                Arg("lr", None, reals(), True),
            ),
            _oracle_step(SGD_MOMENTUM),
            view=lambda result: result[0],
        ),
        "Adam.step": Case(
            _adam_step,
            (
                params_arg(value=LAYERS_HOST),
                params_arg("grads", LAYER_GRADS_HOST),
                params_arg("state", ADAM_STATE_HOST),
                Arg("lr", None, reals(), True),
            ),
            _oracle_step(ADAM),
            view=lambda result: result[0],
        ),
        "minibatches": Case(
            _first_epoch,
            (
                Arg("n", N, ints(valid_low=1)),
                Arg("batch_size", 2, ints(valid_low=1)),
                *_keywords(
                    (
                        Arg("seed", 0, ints(valid_low=0, extra=(2**32,))),
                        Arg("shuffle", True, booleans),
                    )
                ),
            ),
            _oracle_first_epoch,
        ),
        "constant_lr": Case(
            xpnet.optim.constant_lr, (Arg("lr", 0.1, reals()),), lambda lr: Attributes({"lr": lr})
        ),
        "inverse_time_lr": Case(
            xpnet.optim.inverse_time_lr,
            (Arg("lr", 0.1, reals()), Arg("decay", 0.01, reals())),
            lambda lr, decay: Attributes({"lr": lr, "decay": decay}),
        ),
    }
)


# --- backends: names, namespaces, moving data ------------------------------------------------


class _ThisBackend:
    """The name of the backend under test, as a valid ``backend=`` or ``xp=`` argument."""

    def __repr__(self) -> str:
        return "THIS_BACKEND"


THIS_BACKEND = _ThisBackend()


def backend_names(_: Any) -> st.SearchStrategy[Any]:
    """Malformed backend names: not a string (a number, a list, bytes), unknown, empty."""
    return st.sampled_from([3, 1.5, True, ["numpy"], b"numpy", {}, object(), "tensorflow", ""])


def devices(_: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([3, 1.5, True, ["cpu"], b"cpu", object(), "nowhere", "cuda:99", ""])


def array_likes(v: np.ndarray) -> st.SearchStrategy[Any]:
    """What cannot become an array: None, strings, dicts, objects, ragged lists."""
    return st.sampled_from([None, "x", b"x", {}, object(), [[1.0, 2.0], [3.0]], [1.0, "a"]])


def _equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def _oracle_asarray(x: Any, backend: Any = None, dtype: Any = None, device: Any = None) -> Any:
    return np.asarray(x, dtype=None if dtype is None else np.dtype(dtype))


CASES.update(
    {
        "asarray": Case(
            xpnet.asarray,
            (
                Arg("x", X_HOST.tolist(), array_likes),
                *_keywords(
                    (
                        Arg("backend", THIS_BACKEND, backend_names),
                        Arg("dtype", "float32", dtypes),
                        Arg("device", None, devices),
                    )
                ),
            ),
            _oracle_asarray,
        ),
        "asarray_of_an_array": Case(
            xpnet.asarray,
            (
                Arg("x", X_HOST, arrays),
                *_keywords(
                    (
                        Arg("backend", THIS_BACKEND, backend_names),
                        Arg("device", None, devices),
                    )
                ),
            ),
            _oracle_asarray,
        ),
        "namespace": Case(
            lambda backend: xpnet.backend_name(xpnet.namespace(backend).asarray(0.0)),
            (Arg("backend", THIS_BACKEND, backend_names),),
            lambda backend: Check(lambda name, on, _: _equal(name, on.library)),
        ),
        "get_backend": Case(
            lambda name: xpnet.backends.get_backend(name).name,
            (Arg("name", THIS_BACKEND, backend_names),),
            lambda name: Check(lambda result, on, _: _equal(result, on.library)),
        ),
        "canonical_backend": Case(
            xpnet.backends.canonical_backend,
            (Arg("name", THIS_BACKEND, backend_names),),
            lambda name: Check(lambda result, on, _: _equal(result, on.library)),
        ),
        "to_numpy": Case(
            xpnet.to_numpy,
            (X_arg("x"),),
            lambda x: Check(lambda result, _, __: np.testing.assert_array_equal(result, x)),
        ),
        "backend_name": Case(
            xpnet.backend_name,
            (X_arg("x"),),
            lambda x: Check(
                lambda name, on, host: _equal(
                    name, (_other_backend(on) if isinstance(host["x"], Foreign) else on).library
                )
            ),
        ),
        "load_digits": Case(
            xpnet.datasets.load_digits,
            _keywords(
                (
                    Arg("backend", THIS_BACKEND, backend_names),
                    Arg("dtype", "float32", dtypes),
                    Arg("device", None, devices),
                )
            ),
            lambda **_: Shapes(((1797, 64), (1797,)), labels_below=10),
        ),
        "init_layers_placed": Case(
            xpnet.init_layers,
            (
                Arg("sizes", (D, K), lambda v: st.just(v)),
                *_keywords((Arg("xp", THIS_BACKEND, backend_names), Arg("device", None, devices))),
            ),
            lambda sizes, **_: Shapes(_layer_shapes(sizes)),
        ),
    }
)


# --- the estimators and save/load ----------------------------------------------------------------

#: A classification set large enough for scikit-learn's checks (two samples per class at least).
XC_HOST = _RNG.standard_normal((12, D))
YC_HOST = np.array([0, 1, 2] * 4)
YR_HOST = _RNG.standard_normal(12)
WC_HOST = _RNG.uniform(0.5, 2.0, 12)
_FIT = {"max_iter": 3, "random_state": 0}
#: On Dask arrays the estimators check the values as the chunks are read, with messages of
#: their own (tests/test_estimators_dask.py): the in-memory oracle does not apply there.
ESTIMATORS_NOT_ON = (Backend.DASK,)
DIVERGENCE = r"Solver produced non-finite parameter weights"  # scikit-learn's words


def _estimator_keywords(*, classifier: bool) -> tuple[Arg, ...]:
    return _keywords(
        (
            Arg(
                "hidden_layer_sizes",
                (4,),
                lambda _: st.sampled_from(
                    [0, -1, (4, 0), "4", 4.5, [4.0], None, (True,), (), {}, object()]
                ),
            ),
            Arg("activation", "tanh", names("identity", "logistic")),
            Arg("solver", "sgd", names("adam", "lbfgs")),
            Arg("alpha", 1e-3, reals()),
            Arg("batch_size", "auto", ints(valid_low=1, extra=("all",))),
            Arg("learning_rate_init", 0.01, reals(extra=(0.0,))),
            Arg("momentum", 0.5, reals(extra=(1.5,))),
            Arg("shuffle", True, booleans),
            Arg("tol", 1e-4, reals()),
            Arg("sample_weight", None, lambda _: optional_arrays(WC_HOST)),
        )
    )


def _estimator_fit(kind: str) -> Callable[..., Any]:
    def fit(X: Any, y: Any, *, sample_weight: Any = None, **hyper: Any) -> Any:
        estimator = getattr(xpnet, kind)(**hyper, **_FIT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after 3 iterations
            estimator.fit(X, y, sample_weight=sample_weight)
        return estimator.predict_proba(X) if kind == "MLPClassifier" else estimator.predict(X)

    return fit


def _sklearn_fit(kind: str) -> Callable[..., Any]:
    """scikit-learn's own estimator, the same hyperparameters, on the host data."""

    def fit(X: Any, y: Any, *, sample_weight: Any = None, **hyper: Any) -> Any:
        from sklearn import neural_network

        estimator = getattr(neural_network, kind)(**hyper, **_FIT)
        X_host = np.asarray(X, np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X_host, np.asarray(y), sample_weight=sample_weight)
        if kind == "MLPClassifier":
            return estimator.predict_proba(X_host)
        return estimator.predict(X_host)

    return fit


CASES.update(
    {
        "MLPClassifier.fit": Case(
            _estimator_fit("MLPClassifier"),
            (
                Arg("X", XC_HOST, arrays),
                Arg("y", YC_HOST, lambda v: labels(v)),
                *_estimator_keywords(classifier=True),
            ),
            _sklearn_fit("MLPClassifier"),
            lists_give_numpy=True,
            divergence=DIVERGENCE,
            not_on=ESTIMATORS_NOT_ON,
        ),
        "MLPRegressor.fit": Case(
            _estimator_fit("MLPRegressor"),
            (
                Arg("X", XC_HOST, arrays),
                Arg("y", YR_HOST, arrays),
                *_estimator_keywords(classifier=False),
            ),
            _sklearn_fit("MLPRegressor"),
            lists_give_numpy=True,
            divergence=DIVERGENCE,
            not_on=ESTIMATORS_NOT_ON,
        ),
    }
)


class _TmpPath:
    """A fresh path in a temporary folder, as a valid ``path=`` argument."""

    def __repr__(self) -> str:
        return "TMP_PATH"


TMP_PATH = _TmpPath()


def paths(_: Any) -> st.SearchStrategy[Any]:
    """Malformed paths: not a path, empty, a folder, a folder that does not exist."""
    return st.sampled_from(
        [None, 3, 1.5, b"m.safetensors", ["m.safetensors"], "", ".", "/no/such/folder/m.st"]
    )


# Removed when the test session ends (its finalizer runs at exit): nothing is left behind.
_TEMPORARY = tempfile.TemporaryDirectory(prefix="xpnet-malformed-")
_FILES = _TEMPORARY.name
SAVED_PATH = os.path.join(_FILES, "layers.safetensors")
xpnet.save(SAVED_PATH, LAYERS_HOST)
NOT_A_MODEL = os.path.join(_FILES, "notes.safetensors")
with open(NOT_A_MODEL, "w") as _file:
    _file.write("not a model")
MISSING_FILE = os.path.join(_FILES, "missing.safetensors")


def _saved_and_loaded(path: Any, model: Any, *, backend: Any = None, device: Any = None) -> Any:
    written = xpnet.save(path, model)
    return xpnet.load(written, backend=backend, device=device)


def _fitted_classifier() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xpnet.MLPClassifier((4,), max_iter=3, random_state=0).fit(XC_HOST, YC_HOST)


FITTED_CLASSIFIER = _fitted_classifier()


def _sklearn_twin() -> Any:
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((4,), max_iter=3, random_state=0).fit(XC_HOST, YC_HOST)


CASES.update(
    {
        "MLPClassifier.predict_proba": Case(
            FITTED_CLASSIFIER.predict_proba,
            (Arg("X", XC_HOST, arrays),),
            lambda X: _sklearn_twin().predict_proba(np.asarray(X, np.float64)),
            lists_give_numpy=True,
            not_on=ESTIMATORS_NOT_ON,
        ),
        "MLPClassifier.score": Case(
            FITTED_CLASSIFIER.score,
            (
                Arg("X", XC_HOST, arrays),
                Arg("y", YC_HOST, lambda v: labels(v)),
                Arg("sample_weight", None, lambda _: optional_arrays(WC_HOST)),
            ),
            lambda X, y, sample_weight=None: _sklearn_twin().score(
                np.asarray(X, np.float64), y, sample_weight=sample_weight
            ),
            not_on=ESTIMATORS_NOT_ON,
        ),
        "save_load": Case(
            _saved_and_loaded,
            (
                Arg("path", TMP_PATH, paths),
                Arg("model", LAYERS_HOST, trees),
                *_keywords(
                    (
                        Arg("backend", THIS_BACKEND, backend_names),
                        Arg("device", None, devices),
                    )
                ),
            ),
            lambda path, model, **_: list(_flatten(model)),
        ),
        "load": Case(
            xpnet.load,
            (
                Arg(
                    "path",
                    SAVED_PATH,
                    lambda _: st.one_of(paths(None), st.sampled_from([NOT_A_MODEL, MISSING_FILE])),
                ),
                *_keywords((Arg("backend", THIS_BACKEND, backend_names),)),
            ),
            lambda path, **_: list(_flatten(LAYERS_HOST)),
        ),
    }
)


# --- running a call on a backend ---------------------------------------------------------------


def _other_backend(backend: Backend) -> Backend:
    for other in (Backend.NUMPY, Backend.ARRAY_API_STRICT, Backend.TORCH):
        if other.library != backend.library and other.installed:
            return other
    pytest.skip("needs a second installed backend")


def _place(value: Any, backend: Backend) -> Any:
    """Host arrays onto ``backend`` (a :class:`Foreign` one onto another), inside tuples too."""
    if isinstance(value, Foreign):
        return to_backend(value.value, _other_backend(backend))
    if value is THIS_BACKEND:
        return backend.library
    if value is TMP_PATH:
        return os.path.join(tempfile.mkdtemp(dir=_FILES), "model.safetensors")
    if isinstance(value, np.ndarray):
        return to_backend(value, backend)
    if isinstance(value, tuple):
        return _rebuild(value, [_place(v, backend) for v in value])
    if isinstance(value, list) and any(isinstance(v, (np.ndarray, tuple)) for v in value):
        return [_place(v, backend) for v in value]
    if isinstance(value, dict):
        return {k: _place(v, backend) for k, v in value.items()}
    return value


def _on_host(value: Any) -> Any:
    """What the oracle receives: Foreign markers unwrapped, the rest as it is."""
    if isinstance(value, Foreign):
        return value.value
    if isinstance(value, tuple):
        return _rebuild(value, [_on_host(v) for v in value])
    if isinstance(value, list):
        return [_on_host(v) for v in value]
    return value


def _call(case: Case, host: dict[str, Any], backend: Backend) -> Any:
    positional = [_place(host[a.name], backend) for a in case.args if not a.keyword]
    keywords = {a.name: _place(host[a.name], backend) for a in case.args if a.keyword}
    if case.backend_keyword is not None and case.backend_keyword not in host:
        keywords[case.backend_keyword] = backend.library
    return case.function(*positional, **keywords, **case.fixed)


def _outcome(case: Case, host: dict[str, Any], backend: Backend) -> tuple[Any, Exception | None]:
    try:
        with warnings.catch_warnings():
            # NumPy warns where NaN or inf propagate through the math; that is allowed.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = _call(case, host, backend)
            if backend is Backend.DASK:
                # Dask checks values where they are computed (folded into the graph):
                # a malformed value fails when the result is.
                result = _computed(result)
            return result, None
    except (ValueError, TypeError) as error:
        return None, error


def _computed(result: Any) -> Any:
    """Dask arrays in ``result`` (inside tuples too) computed to NumPy."""
    if isinstance(result, tuple):
        return _rebuild(result, [_computed(r) for r in result])
    if isinstance(result, list):
        return [_computed(r) for r in result]
    if type(result).__module__.startswith("dask"):
        return xpnet.to_numpy(result)
    return result


def _assert_names_an_argument(case: Case, error: Exception) -> None:
    message = str(error)
    root = re.split(r"[.:\[ ]", message, maxsplit=1)[0]
    starts_with_a_name = root in case.names and re.match(rf"{re.escape(root)}[.:\[]", message)
    assert starts_with_a_name, (
        f"{type(error).__name__} does not start with an argument name of "
        f"{case.function.__name__}{case.names}: {message!r}"
    )


def _tolerance(result: Any) -> dict[str, float]:
    dtype = dtype_name(getattr(result, "dtype", "float64"))
    return (
        {"rtol": 1e-4, "atol": 1e-5}
        if dtype in ("float32", "float16")
        else {
            "rtol": 1e-6,
            "atol": 1e-9,
        }
    )


def _assert_correct(case: Case, host: dict[str, Any], result: Any, backend: Backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN and inf in the oracle's math
        expected = case.oracle(**{k: _on_host(v) for k, v in host.items()}, **case.fixed)
    actual = case.view(result)
    if isinstance(expected, Shapes):
        leaves = _flatten(actual)
        assert [tuple(a.shape) for a in leaves] == list(expected.shapes)
        for a in leaves:
            on = (
                backend.library if expected.on_backend and backend is not Backend.DASK else "numpy"
            )
            assert xpnet.backend_name(a) == on
        if expected.labels_below is not None:
            for a in leaves:
                host = xpnet.to_numpy(a)
                if host.dtype.kind in "iu":  # labels or indices
                    assert set(np.unique(host)) <= set(range(expected.labels_below))
        return
    if isinstance(expected, Check):
        expected.check(actual, backend, host)
        return
    if isinstance(expected, Attributes):
        for key, value in expected.values.items():
            assert getattr(actual, key) == value, key
        return
    if isinstance(actual, float) and isinstance(expected, float):  # a number, not an array
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)
        return
    leaves_expected, leaves_actual = _flatten(expected), _flatten(actual)
    assert len(leaves_actual) == len(leaves_expected)
    foreign = any(isinstance(leaf, Foreign) for v in host.values() for leaf in _flatten(v))
    if case.lists_give_numpy and any(isinstance(v, list) for v in host.values()):
        foreign = True  # the result is NumPy, as scikit-learn's
    overflowing = any(_overflows(v) for v in host.values())
    for a, e in zip(leaves_actual, leaves_expected):
        assert hasattr(a, "shape"), f"expected an array, got {type(a).__name__}"
        if not foreign and backend is not Backend.DASK:  # Dask's were computed
            assert xpnet.backend_name(a) == backend.library
        assert tuple(a.shape) == np.shape(e)
        got, want = xpnet.to_numpy(a).astype(np.float64), np.asarray(e, np.float64)
        if overflowing and not case.exact_on_overflow:
            continue
        if overflowing:
            # NaN and inf propagate, each library in its own way (softmax of a row holding
            # inf is NaN here, [0, nan, 0] in SciPy; torch's binary cross-entropy of logits
            # near 1e300 is NaN, xpnet's finite): where both are finite they agree.
            both = np.isfinite(got) & np.isfinite(want)
            got, want = got[both], want[both]
        np.testing.assert_allclose(got, want, **_tolerance(a))


def _flatten(tree: Any) -> list[Any]:
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _flatten(item)]
    return [tree]


def _overflows(value: Any) -> bool:
    """Whether a host argument holds NaN, inf, or values so large that the math overflows."""
    if isinstance(value, Foreign):
        value = value.value
    if isinstance(value, (tuple, list)):
        return any(_overflows(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        with np.errstate(invalid="ignore", over="ignore"):
            return not bool(np.all(np.abs(value) < 1e250))
    return False


@st.composite
def malformed_calls(draw: st.DrawFn, case: Case) -> dict[str, Any]:
    """Host arguments of ``case`` with one argument malformed, sometimes a second one too."""
    host = {a.name: a.valid for a in case.args}
    order = draw(st.permutations(range(len(case.args))))
    count = draw(st.sampled_from([1, 1, 1, 2])) if len(case.args) > 1 else 1
    for i in order[:count]:
        arg = case.args[i]
        host[arg.name] = draw(arg.malformed(arg.valid), label=arg.name)
    return host


@pytest.mark.parametrize("name", CASES)
def test_malformed_arguments(backend: Backend, name: str) -> None:
    case = CASES[name]
    if backend in case.not_on:
        pytest.skip(f"{name} does not take {backend} arrays")

    @settings(max_examples=25)
    @given(malformed_calls(case))
    def check(host: dict[str, Any]) -> None:
        result, error = _outcome(case, host, backend)
        if backend is not Backend.NUMPY and case.same_on_every_backend:
            # The same mistake gives the same exception type on every backend.
            _, error_on_numpy = _outcome(case, host, Backend.NUMPY)
            assert type(error) is type(error_on_numpy), (
                f"{backend}: {error!r}, numpy: {error_on_numpy!r}"
            )
        if error is not None:
            diverged = case.divergence is not None and re.match(case.divergence, str(error))
            if diverged and any(_overflows(v) for v in host.values()):
                return
            _assert_names_an_argument(case, error)
        else:
            _assert_correct(case, host, result, backend)

    check()


@pytest.mark.parametrize("name", CASES)
def test_the_valid_call_gives_the_oracles_result(backend: Backend, name: str) -> None:
    """The table itself is right: with no argument malformed, each call matches its oracle."""
    case = CASES[name]
    if backend in case.not_on:
        pytest.skip(f"{name} does not take {backend} arrays")
    host = {a.name: a.valid for a in case.args}
    if name == "autograd_grad" and not backend.has_autodiff:
        with pytest.raises(TypeError, match=r"^params: .* has no automatic differentiation"):
            _call(case, host, backend)
        return
    result, error = _outcome(case, host, backend)
    assert error is None, repr(error)
    _assert_correct(case, host, result, backend)


# --- single examples of malformed calls ----------------------------------------------------------


def test_softmax_of_none() -> None:
    with pytest.raises(TypeError, match=r"^z: expected an array, got None"):
        xpnet.softmax(None)


def test_one_hot_of_none() -> None:
    with pytest.raises(TypeError, match=r"^y: expected an array, got None"):
        xpnet.one_hot(None, 3)


def test_a_float_inside_params(backend: Backend) -> None:
    X = to_backend(X_HOST, backend)
    W1, b1, _, b2 = params_to_backend(PARAMS_HOST, backend)
    with pytest.raises(TypeError, match=r"^params.W2: expected an array, got float"):
        xpnet.forward(X, xpnet.Params(W1, b1, 3.0, b2))


def test_an_int_inside_the_params_of_sgd_step(backend: Backend) -> None:
    params = params_to_backend(PARAMS_HOST, backend)
    with pytest.raises(TypeError, match=r"^params.W1: expected an array, got int"):
        xpnet.sgd_step(params._replace(W1=1), params, 0.1)


def test_a_float_as_labels(backend: Backend) -> None:
    z = to_backend(np.zeros((2, 3)), backend)
    with pytest.raises(TypeError, match=r"^y: expected an array, got float"):
        xpnet.cross_entropy_grad(z, 0.5)


def test_softmax_over_an_axis_of_length_zero(backend: Backend) -> None:
    for shape, axis in (((0,), -1), ((2, 0), 1), ((0, 3), 0)):
        z = to_backend(np.zeros(shape), backend)
        for function in (xpnet.softmax, xpnet.log_softmax):
            with pytest.raises(ValueError, match=r"^z: cannot reduce along axis"):
                function(z, axis=axis)
    # the rows of an empty batch are no reduction over nothing
    assert xpnet.softmax(to_backend(np.zeros((0, 3)), backend), axis=1).shape == (0, 3)


def test_softmax_of_a_0d_array(backend: Backend) -> None:
    with pytest.raises(ValueError, match=r"^z: expected an array of at least 1 dimension"):
        xpnet.softmax(to_backend(np.asarray(1.0), backend))


def test_nan_propagates_through_the_elementwise_math(backend: Backend) -> None:
    """As in NumPy: relu(nan) is nan, a softmax row holding a NaN is all NaN."""
    z = to_backend(np.array([[0.0, np.nan], [1.0, 2.0]]), backend)
    relu = xpnet.to_numpy(xpnet.relu(z))
    assert np.isnan(relu[0, 1])
    assert relu[1, 1] == 2.0
    probs = xpnet.to_numpy(xpnet.softmax(z))
    assert np.isnan(probs[0]).all()
    assert np.isfinite(probs[1]).all()


def test_a_0d_array_inside_params(backend: Backend) -> None:
    X = to_backend(X_HOST, backend)
    _, b1, W2, b2 = params_to_backend(PARAMS_HOST, backend)
    W1 = to_backend(np.ones(()), backend)
    with pytest.raises(ValueError, match=r"^params.W1: expected a 2-D array, got shape \(\)"):
        xpnet.forward(X, xpnet.Params(W1, b1, W2, b2))


def test_a_backend_that_is_not_a_string() -> None:
    with pytest.raises(TypeError, match=r"^backend: expected a backend name"):
        xpnet.asarray(np.zeros(2), backend=3)


def test_none_as_labels(backend: Backend) -> None:
    X = to_backend(X_HOST, backend)
    params = params_to_backend(PARAMS_HOST, backend)
    for function in (xpnet.loss_and_grad, xpnet.backward, xpnet.train, mean_loss):
        with pytest.raises(TypeError, match=r"^y: expected an array, got None"):
            function(X, None, params)
