"""Malformed arguments (issue 12): a clear ValueError or TypeError, the same on every backend.

A table of the public functions with their arguments (:data:`CASES`). For each function and
backend, Hypothesis draws calls in which one or two arguments are malformed (wrong kinds,
ranks, dtypes, shapes and values, a non-array inside a parameter tuple, an array of another
backend) and checks that each call either

- raises ``ValueError`` or ``TypeError`` whose message starts with one of the function's
  argument names (``"params.W2: expected an array, got float"``), of the same type as the
  same call on NumPy, or
- succeeds with a correct result: the one an oracle gives (SciPy, scikit-learn,
  ``torch.autograd`` and ``torch.optim``), on the backend of the inputs.

To cover a new public function, add a :class:`Case` to :data:`CASES`. The examples of the
issue run as plain tests at the end.
"""

from __future__ import annotations

import math
import re
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
    out.append(v[:0])
    if v.dtype.kind == "f":
        for bad in (np.nan, np.inf, -np.inf, 1e308):
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
    return ("shapes", (n_samples, n_features), (n_samples,), n_classes)


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
    ),
}


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
    if "backend" not in host and case.function.__module__ == "xpnet.datasets":
        keywords["backend"] = backend.library
    return case.function(*positional, **keywords, **case.fixed)


def _outcome(case: Case, host: dict[str, Any], backend: Backend) -> tuple[Any, Exception | None]:
    try:
        with warnings.catch_warnings():
            # NumPy warns where NaN or inf propagate through the math; that is allowed.
            warnings.simplefilter("ignore", RuntimeWarning)
            return _call(case, host, backend), None
    except (ValueError, TypeError) as error:
        return None, error


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
    if isinstance(expected, tuple) and expected and isinstance(expected[0], str):  # make_blobs
        _, x_shape, y_shape, num_classes = expected
        X, y = actual
        assert tuple(X.shape) == x_shape
        assert tuple(y.shape) == y_shape
        assert set(np.unique(xpnet.to_numpy(y))) <= set(range(num_classes))
        return
    if type(actual) is float:  # max_relative_error
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12, nan_ok=True)
        return
    leaves_expected, leaves_actual = _flatten(expected), _flatten(actual)
    assert len(leaves_actual) == len(leaves_expected)
    foreign = any(isinstance(leaf, Foreign) for v in host.values() for leaf in _flatten(v))
    overflowing = any(_overflows(v) for v in host.values())
    for a, e in zip(leaves_actual, leaves_expected):
        assert hasattr(a, "shape"), f"expected an array, got {type(a).__name__}"
        if not foreign:
            assert xpnet.backend_name(a) == backend.library
        assert tuple(a.shape) == np.shape(e)
        got, want = xpnet.to_numpy(a).astype(np.float64), np.asarray(e, np.float64)
        if overflowing and not case.exact_on_overflow:
            continue
        if overflowing:
            # NaN and inf propagate, each library in its own way (softmax of a row holding
            # inf is NaN here, [0, nan, 0] in SciPy): no NaN or inf of the oracle may turn
            # into a number, and where both are finite they agree.
            assert not np.isfinite(got[~np.isfinite(want)]).any()
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
            return not bool(np.all(np.abs(value) < 1e300))
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
            _assert_names_an_argument(case, error)
        else:
            _assert_correct(case, host, result, backend)

    check()


@pytest.mark.parametrize("name", CASES)
def test_the_valid_call_gives_the_oracles_result(backend: Backend, name: str) -> None:
    """The table itself is right: with no argument malformed, each call matches its oracle."""
    case = CASES[name]
    host = {a.name: a.valid for a in case.args}
    if name == "autograd_grad" and not backend.has_autodiff:
        with pytest.raises(TypeError, match=r"^params: .* has no automatic differentiation"):
            _call(case, host, backend)
        return
    _assert_correct(case, host, _call(case, host, backend), backend)


# --- the examples of the issue -------------------------------------------------------------------


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
