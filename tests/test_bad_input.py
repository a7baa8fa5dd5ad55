"""Bad input: a ValueError or TypeError that starts with the argument's name, on every backend.

Every case of DESIGN.md's list: labels outside ``[0, K)``, float labels, NaN or inf in X,
X and y of different lengths, wrong ranks and shapes, an empty batch, fewer than 2
classes, arrays of two backends, arrays on two devices, a dtype mismatch, float64 on JAX
with x64 off. Each call is also checked to leave its inputs unchanged (the read-only
NumPy backend makes any in-place write raise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import Backend, materialize, params_to_backend, snapshot, to_backend

import xpnet
from xpnet.gradcheck import mean_loss

N, D, H, K = 6, 2, 4, 3
X_HOST = np.linspace(-1.0, 1.0, N * D).reshape(N, D)
Y_HOST = np.array([0, 1, 2, 0, 1, 2])
PARAMS_HOST = xpnet.init_params(D, H, K, seed=0)

#: Every public function that takes (X, y, params).
WITH_LABELS: dict[str, Callable[..., Any]] = {
    "loss_and_grad": xpnet.loss_and_grad,
    "backward": xpnet.backward,
    "train": lambda X, y, params: xpnet.train(X, y, params, epochs=1),
    "train_minibatch": lambda X, y, params: xpnet.train(X, y, params, epochs=1, batch_size=2),
    "mean_loss": mean_loss,
    "numerical_grad": xpnet.numerical_grad,
}
#: Every public function that takes (X, params).
WITHOUT_LABELS: dict[str, Callable[..., Any]] = {
    "forward": xpnet.forward,
    "forward_rowwise": xpnet.forward_rowwise,
    "predict": xpnet.predict,
    "predict_proba": xpnet.predict_proba,
}
#: Every public function that takes (z, y).
LOGITS: dict[str, Callable[..., Any]] = {
    "cross_entropy": xpnet.cross_entropy,
    "cross_entropy_grad": xpnet.cross_entropy_grad,
}


def raises_keeping_inputs(
    error: type[Exception], pattern: str, function: Callable[..., Any], *args: Any
) -> None:
    """``function(*args)`` raises ``error`` matching ``pattern``, and no input array changed."""
    arrays = [a for arg in args for a in (arg if isinstance(arg, tuple) else (arg,))]
    arrays = [a for a in arrays if hasattr(a, "shape")]
    before = snapshot(*arrays)
    with pytest.raises(error, match=pattern):
        materialize(function(*args))  # a lazy backend (Dask) raises when computing
    for array, copy in zip(arrays, before):
        np.testing.assert_array_equal(xpnet.to_numpy(array), copy)


@pytest.fixture
def data(backend: Backend) -> tuple[Any, Any, xpnet.Params]:
    return (
        to_backend(X_HOST, backend),
        to_backend(Y_HOST, backend),
        params_to_backend(PARAMS_HOST, backend),
    )


def _other_backend(backend: Backend) -> Backend:
    """A backend whose arrays do not mix with ``backend``'s."""
    for other in (Backend.NUMPY, Backend.ARRAY_API_STRICT, Backend.TORCH):
        if other.library != backend.library and other.installed:
            return other
    pytest.skip("needs a second installed backend")


# --- labels --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, K, 100])
@pytest.mark.parametrize("entry", WITH_LABELS)
def test_labels_outside_the_class_range(backend: Backend, data, entry: str, bad: int) -> None:
    X, _, params = data
    y = to_backend(np.where(Y_HOST == 1, bad, Y_HOST), backend)
    raises_keeping_inputs(
        ValueError, r"^y: labels must lie in \[0, 3\)", WITH_LABELS[entry], X, y, params
    )


def test_labels_checked_on_every_call_of_a_loop(backend: Backend, data) -> None:
    """The lecture's loop: the structure of a call is remembered after the first step (host
    arrays), the labels' values and kind are still checked on every call."""
    X, y, params = data
    for _ in range(3):
        loss, grads = xpnet.loss_and_grad(X, y, params)
        params = xpnet.sgd_step(params, grads, 0.1)
    for bad in (-1, K):
        wrong = to_backend(np.where(Y_HOST == 1, bad, Y_HOST), backend)
        raises_keeping_inputs(
            ValueError, r"^y: labels must lie in \[0, 3\)", xpnet.loss_and_grad, X, wrong, params
        )
    floats = to_backend(Y_HOST.astype(np.float64), backend)
    raises_keeping_inputs(
        TypeError, r"^y: labels must have an integer dtype", xpnet.loss_and_grad, X, floats, params
    )
    short = to_backend(Y_HOST[:-1], backend)
    raises_keeping_inputs(ValueError, r"^y: has", xpnet.loss_and_grad, X, short, params)
    xpnet.loss_and_grad(X, y, params)  # and the good labels pass again


@pytest.mark.parametrize("bad", [-1, K])
def test_labels_outside_the_class_range_of_the_logits(backend: Backend, bad: int) -> None:
    z = to_backend(X_HOST @ PARAMS_HOST.W1 @ PARAMS_HOST.W2, backend)
    y = to_backend(np.where(Y_HOST == 2, bad, Y_HOST), backend)
    for function in LOGITS.values():
        raises_keeping_inputs(ValueError, r"^y: labels must lie in \[0, 3\)", function, z, y)
    raises_keeping_inputs(ValueError, r"^y: labels must lie in \[0, 3\)", xpnet.one_hot, y, K)


@pytest.mark.parametrize("entry", [*WITH_LABELS, *LOGITS])
def test_float_labels(backend: Backend, data, entry: str) -> None:
    X, _, params = data
    y = to_backend(Y_HOST.astype(np.float64), backend)
    if entry in LOGITS:
        z = to_backend(np.zeros((N, K)), backend)
        raises_keeping_inputs(
            TypeError, r"^y: labels must have an integer dtype", LOGITS[entry], z, y
        )
    else:
        raises_keeping_inputs(
            TypeError, r"^y: labels must have an integer dtype", WITH_LABELS[entry], X, y, params
        )


@pytest.mark.parametrize("bad", [-1, K])
def test_labels_outside_the_class_range_of_any_rank_to_one_hot(backend: Backend, bad: int) -> None:
    for shape in [(2, 3), (6, 1, 1)]:
        y = to_backend(np.where(Y_HOST == 0, bad, Y_HOST).reshape(shape), backend)
        raises_keeping_inputs(ValueError, r"^y: labels must lie in \[0, 3\)", xpnet.one_hot, y, K)
    scalar = to_backend(np.asarray(bad), backend)
    raises_keeping_inputs(ValueError, r"^y: labels must lie in \[0, 3\)", xpnet.one_hot, scalar, K)


def test_float_labels_to_one_hot(backend: Backend) -> None:
    y = to_backend(Y_HOST.astype(np.float32), backend)
    raises_keeping_inputs(TypeError, r"^y: labels must have an integer dtype", xpnet.one_hot, y, K)


# --- NaN and inf in X ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("entry", ["train", "train_minibatch", "predict", "predict_proba"])
def test_nan_or_inf_in_X(backend: Backend, data, entry: str, value: float) -> None:
    _, y, params = data
    X_bad = X_HOST.copy()
    X_bad[3, 1] = value
    X = to_backend(X_bad, backend)
    args = (X, y, params) if entry.startswith("train") else (X, params)
    function = WITH_LABELS.get(entry) or WITHOUT_LABELS[entry]
    raises_keeping_inputs(ValueError, r"^X: contains NaN or inf values", function, *args)


# --- lengths, ranks and shapes -------------------------------------------------------------------


@pytest.mark.parametrize("entry", WITH_LABELS)
def test_X_and_y_of_different_lengths(backend: Backend, data, entry: str) -> None:
    X, _, params = data
    y = to_backend(Y_HOST[:-1], backend)
    raises_keeping_inputs(
        ValueError,
        r"^y: has 5 labels but the inputs have 6 samples",
        WITH_LABELS[entry],
        X,
        y,
        params,
    )


def test_logits_and_labels_of_different_lengths(backend: Backend) -> None:
    z = to_backend(np.zeros((N, K)), backend)
    y = to_backend(Y_HOST[:4], backend)
    for function in LOGITS.values():
        raises_keeping_inputs(
            ValueError, r"^y: has 4 labels but the inputs have 6", function, z, y
        )


@pytest.mark.parametrize("entry", [*WITH_LABELS, *WITHOUT_LABELS])
@pytest.mark.parametrize("shape", [(N * D,), (N, D, 1)], ids=["1-D", "3-D"])
def test_X_of_the_wrong_rank(backend: Backend, data, entry: str, shape: tuple) -> None:
    _, y, params = data
    X = to_backend(X_HOST.reshape(shape), backend)
    args = (X, y, params) if entry in WITH_LABELS else (X, params)
    function = WITH_LABELS.get(entry) or WITHOUT_LABELS[entry]
    raises_keeping_inputs(ValueError, r"^X: expected a 2-D array, got shape", function, *args)


@pytest.mark.parametrize("entry", WITH_LABELS)
def test_y_of_the_wrong_rank(backend: Backend, data, entry: str) -> None:
    X, _, params = data
    y = to_backend(Y_HOST[:, None], backend)
    raises_keeping_inputs(
        ValueError,
        r"^y: expected a 1-D array of labels, got shape \(6, 1\)",
        WITH_LABELS[entry],
        X,
        y,
        params,
    )


def test_logits_and_labels_of_the_wrong_rank(backend: Backend) -> None:
    z, y = to_backend(np.zeros((N, K)), backend), to_backend(Y_HOST, backend)
    for function in LOGITS.values():
        raises_keeping_inputs(ValueError, r"^z: expected a 2-D array", function, z[0, ...], y)
        raises_keeping_inputs(
            ValueError, r"^y: expected a 1-D array", function, z, to_backend(Y_HOST[None], backend)
        )


WRONG_PARAMS = {
    "W1 of another input size": ("W1", np.zeros((D + 1, H)), r"^params.W1: expected shape \(2, "),
    "W1 of rank 1": ("W1", np.zeros(H), r"^params.W1: expected a 2-D array"),
    "b1 of another size": ("b1", np.zeros(H + 1), r"^params.b1: expected shape \(4,\)"),
    "b1 of rank 2": ("b1", np.zeros((1, H)), r"^params.b1: expected a 1-D array"),
    "W2 of another hidden size": ("W2", np.zeros((H + 2, K)), r"^params.W2: expected shape \(4, "),
    "b2 of another size": ("b2", np.zeros(K + 1), r"^params.b2: expected shape \(3,\)"),
    "b2 of rank 0": ("b2", np.zeros(()), r"^params.b2: expected a 1-D array"),
}


@pytest.mark.parametrize("entry", [*WITH_LABELS, *WITHOUT_LABELS])
@pytest.mark.parametrize("case", WRONG_PARAMS)
def test_params_of_the_wrong_shape(backend: Backend, data, entry: str, case: str) -> None:
    X, y, params = data
    field, value, pattern = WRONG_PARAMS[case]
    params = params._replace(**{field: to_backend(value, backend)})
    args = (X, y, params) if entry in WITH_LABELS else (X, params)
    function = WITH_LABELS.get(entry) or WITHOUT_LABELS[entry]
    raises_keeping_inputs(ValueError, pattern, function, *args)


def test_params_that_are_no_params(backend: Backend, data) -> None:
    X, y, params = data
    raises_keeping_inputs(TypeError, r"^params: expected Params", xpnet.forward, X, params[:3])
    raises_keeping_inputs(
        TypeError, r"^params: expected Params", xpnet.loss_and_grad, X, y, dict(W1=params.W1)
    )


def test_integer_X_or_params(backend: Backend, data) -> None:
    X, y, params = data
    X_int = to_backend(np.ones((N, D), dtype=np.int64), backend)
    raises_keeping_inputs(
        TypeError, r"^X: expected a real floating dtype", xpnet.forward, X_int, params
    )
    W1_int = to_backend(np.ones((D, H), dtype=np.int64), backend)
    raises_keeping_inputs(
        TypeError,
        r"^params.W1: expected a real floating dtype",
        xpnet.loss_and_grad,
        X,
        y,
        params._replace(W1=W1_int),
    )


# --- empty batch and too few classes -------------------------------------------------------------


@pytest.mark.parametrize("entry", WITH_LABELS)
def test_empty_batch(backend: Backend, data, entry: str) -> None:
    _, _, params = data
    X, y = to_backend(X_HOST[:0], backend), to_backend(Y_HOST[:0], backend)
    raises_keeping_inputs(
        ValueError, r"^X: the batch is empty \(shape \(0, 2\)\)", WITH_LABELS[entry], X, y, params
    )


def test_empty_logits(backend: Backend) -> None:
    z, y = to_backend(np.zeros((0, K)), backend), to_backend(Y_HOST[:0], backend)
    for function in LOGITS.values():
        raises_keeping_inputs(ValueError, r"^z: the batch is empty", function, z, y)


def test_fewer_than_two_classes(backend: Backend, data, xp) -> None:
    X, y, params = data
    with pytest.raises(ValueError, match=r"^output_dim: a classifier needs at least 2 classes"):
        xpnet.init_params(D, H, 1, xp=xp)
    zeros = to_backend(np.zeros(N, dtype=np.int64), backend)
    raises_keeping_inputs(
        ValueError, r"^num_classes: .* at least 2 classes", xpnet.one_hot, zeros, 1
    )
    raises_keeping_inputs(ValueError, r"^num_classes:", xpnet.one_hot, zeros, 0)
    one_column = to_backend(np.zeros((N, 1)), backend)
    for function in LOGITS.values():
        raises_keeping_inputs(
            ValueError,
            r"^z.shape\[1\]: a classifier needs at least 2",
            function,
            one_column,
            zeros,
        )
    single_output = params._replace(
        W2=to_backend(np.ones((H, 1)), backend), b2=to_backend(np.zeros(1), backend)
    )
    raises_keeping_inputs(
        ValueError,
        r"^params.W2.shape\[1\]: a classifier needs at least 2 classes",
        xpnet.loss_and_grad,
        X,
        zeros,
        single_output,
    )
    raises_keeping_inputs(ValueError, r"^params.W2.shape\[1\]:", xpnet.predict, X, single_output)


def test_num_classes_that_is_no_int(backend: Backend) -> None:
    y = to_backend(Y_HOST, backend)
    raises_keeping_inputs(TypeError, r"^num_classes: expected an int", xpnet.one_hot, y, 3.0)


# --- two backends, two devices, two dtypes -------------------------------------------------------


@pytest.mark.parametrize("odd_one", ["X", "y", "params.W1", "params.b2"])
@pytest.mark.parametrize("entry", ["loss_and_grad", "train", "numerical_grad"])
def test_arrays_of_two_backends(backend: Backend, data, entry: str, odd_one: str) -> None:
    X, y, params = data
    other = _other_backend(backend)
    if odd_one == "X":
        X = to_backend(X_HOST, other)
    elif odd_one == "y":
        y = to_backend(Y_HOST, other)
    else:
        field = odd_one.split(".")[1]
        params = params._replace(**{field: to_backend(getattr(PARAMS_HOST, field), other)})
    pattern = rf"^{odd_one}: is a .* but the other arrays come from"
    raises_keeping_inputs(TypeError, pattern, WITH_LABELS[entry], X, y, params)


def test_arrays_of_two_backends_without_labels(backend: Backend, data) -> None:
    _, _, params = data
    X = to_backend(X_HOST, _other_backend(backend))
    for function in WITHOUT_LABELS.values():
        raises_keeping_inputs(TypeError, r"^X: is a .* one backend", function, X, params)


def test_logits_and_labels_of_two_backends(backend: Backend) -> None:
    z = to_backend(np.zeros((N, K)), backend)
    y = to_backend(Y_HOST, _other_backend(backend))
    for function in LOGITS.values():
        raises_keeping_inputs(TypeError, r"^y: is a .* one backend", function, z, y)


def test_something_that_is_no_array(backend: Backend, data) -> None:
    _, y, params = data
    raises_keeping_inputs(TypeError, r"^X:", xpnet.loss_and_grad, X_HOST.tolist(), y, params)
    raises_keeping_inputs(TypeError, r"^x:", xpnet.relu, [1.0, -1.0])
    raises_keeping_inputs(TypeError, r"^z:", xpnet.softmax, [[1.0, -1.0]])


def _two_devices(library: str) -> tuple[Any, Any]:
    """Two devices of one backend: torch cpu and meta, strict's CPU and device1, JAX cpu:0/1."""
    pytest.importorskip(library)
    if library == "torch":
        return "cpu", "meta"
    if library == "array_api_strict":
        import array_api_strict

        return array_api_strict.Device("CPU_DEVICE"), array_api_strict.Device("device1")
    import jax

    devices = jax.devices("cpu")
    if len(devices) < 2:
        pytest.skip("JAX started with a single host device")
    return devices[0], devices[1]


@pytest.mark.parametrize("library", ["torch", "array_api_strict", "jax"])
@pytest.mark.parametrize("odd_one", ["X", "y", "params.W2"])
def test_arrays_on_two_devices(library: str, odd_one: str) -> None:
    home, away = _two_devices(library)

    def place(a: np.ndarray, name: str) -> Any:
        return xpnet.asarray(a, backend=library, device=away if name == odd_one else home)

    X, y = place(X_HOST, "X"), place(Y_HOST, "y")
    params = xpnet.Params(
        *(place(p, f"params.{f}") for f, p in zip(["W1", "b1", "W2", "b2"], PARAMS_HOST))
    )
    pattern = rf"^{odd_one}: is on device .* but X is on device"
    if odd_one == "X":
        pattern = r"^params.W1: is on device .* but X is on device"
    for function in (xpnet.loss_and_grad, xpnet.backward, lambda X, y, p: xpnet.train(X, y, p)):
        with pytest.raises(ValueError, match=pattern):
            function(X, y, params)
    if odd_one != "y":
        with pytest.raises(ValueError, match=pattern):
            xpnet.predict(X, params)


@pytest.mark.parametrize("library", ["torch", "array_api_strict", "jax"])
def test_logits_and_labels_on_two_devices(library: str) -> None:
    home, away = _two_devices(library)
    z = xpnet.asarray(np.zeros((N, K)), backend=library, device=home)
    y = xpnet.asarray(Y_HOST, backend=library, device=away)
    for function in LOGITS.values():
        with pytest.raises(ValueError, match=r"^y: is on device .* but z is on device"):
            function(z, y)


@pytest.mark.parametrize("x_dtype", ["float32", "float64"])
def test_dtype_mismatch_between_X_and_params(backend: Backend, data, x_dtype: str) -> None:
    _, y, _ = data
    params_dtype = "float64" if x_dtype == "float32" else "float32"
    X = to_backend(X_HOST, backend, dtype=x_dtype)
    params = params_to_backend(PARAMS_HOST, backend, dtype=params_dtype)
    pattern = rf"^params.W1: dtype \S*{params_dtype} differs from X's \S*{x_dtype}"
    raises_keeping_inputs(TypeError, pattern, xpnet.loss_and_grad, X, y, params)
    raises_keeping_inputs(TypeError, pattern, xpnet.predict, X, params)
    raises_keeping_inputs(TypeError, pattern, lambda *a: xpnet.train(*a, epochs=1), X, y, params)


def test_dtype_mismatch_inside_params(backend: Backend, data) -> None:
    X, y, params = data
    b2 = to_backend(PARAMS_HOST.b2, backend, dtype="float32")
    raises_keeping_inputs(
        TypeError,
        r"^params.b2: dtype \S*float32 differs from X's \S*float64",
        xpnet.loss_and_grad,
        X,
        y,
        params._replace(b2=b2),
    )


def test_float64_on_jax_with_x64_off() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", False)
    try:
        pattern = r"^dtype: float64 was asked of JAX while jax_enable_x64 is off"
        with pytest.raises(ValueError, match=pattern):
            xpnet.init_params(D, H, K, xp="jax", dtype="float64")
        with pytest.raises(ValueError, match=pattern):
            xpnet.datasets.load_iris_2d(backend="jax", dtype="float64")
        with pytest.raises(ValueError, match=pattern):
            xpnet.asarray(X_HOST, backend="jax", dtype="float64")
        with pytest.raises(ValueError, match=r"^x: float64 was asked of JAX"):
            xpnet.asarray(X_HOST, backend="jax")
        with pytest.raises(ValueError, match=pattern):
            xpnet.one_hot(xpnet.asarray(Y_HOST, backend="jax"), K, dtype="float64")
    finally:
        jax.config.update("jax_enable_x64", True)


# --- sgd_step: params and grads must agree -------------------------------------------------------


def test_sgd_step_with_grads_of_another_backend(backend: Backend, data) -> None:
    _, _, params = data
    grads = params_to_backend(PARAMS_HOST, _other_backend(backend))
    raises_keeping_inputs(TypeError, r"^(params|grads)\.", xpnet.sgd_step, params, grads, 0.1)


def test_sgd_step_with_grads_of_another_dtype(backend: Backend, data) -> None:
    _, _, params = data
    grads = params_to_backend(PARAMS_HOST, backend, dtype="float32")
    raises_keeping_inputs(TypeError, r"^grads\.W1: dtype", xpnet.sgd_step, params, grads, 0.1)


@pytest.mark.parametrize("library", ["torch", "array_api_strict", "jax"])
def test_sgd_step_with_grads_on_another_device(library: str) -> None:
    here, there = _two_devices(library)
    params = xpnet.Params(*(xpnet.asarray(p, backend=library, device=here) for p in PARAMS_HOST))
    grads = xpnet.Params(*(xpnet.asarray(p, backend=library, device=there) for p in PARAMS_HOST))
    with pytest.raises(ValueError, match=r"^grads\.W1: is on device"):  # meta tensors hold no data
        xpnet.sgd_step(params, grads, 0.1)


@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf")])
def test_sgd_step_with_a_bad_learning_rate(backend: Backend, data, lr: float) -> None:
    _, _, params = data
    raises_keeping_inputs(ValueError, r"^lr: ", xpnet.sgd_step, params, params, lr)
