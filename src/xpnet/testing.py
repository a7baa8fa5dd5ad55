"""The conformance checks: is xpnet right on this backend, this device, this dtype?

Each check runs the network on a backend and compares it with an oracle that xpnet did
not write: central finite differences, the backend's own autograd (``torch.autograd``,
``jax.grad``), the same training run on NumPy, SciPy's ``softmax``/``log_softmax``.
Each returns a :class:`CheckResult`; :func:`run_checks` runs them all. The command
``python -m xpnet check --backend NAME`` prints them as a table, and a backend's own test
suite can run them under pytest::

    @pytest.mark.parametrize("check", xpnet.testing.CHECKS)
    def test_xpnet_conforms(check):
        result = xpnet.testing.CHECKS[check]("mylib", dtype="float64")
        assert result.passed, result

Every ``check_*`` function takes ``(backend, *, device=None, dtype="float64")``, as
:func:`run_checks` does, and returns a :class:`CheckResult`. Inputs are drawn once in NumPy
float64 from fixed seeds and moved to the backend, so every backend is checked on the same
numbers.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ._drivers import EagerEpoch, epoch_runner
from ._engine import Step
from ._typing import Array, tree_leaves
from .backends import asarray, backend_name, namespace, resolve_dtype, to_numpy
from .functional import cross_entropy, cross_entropy_grad, log_softmax, softmax
from .gradcheck import autograd_grad, max_relative_error, numerical_grad
from .mlp import (
    Params,
    backward,
    forward,
    forward_rowwise,
    init_layers,
    init_params,
    loss_and_grad,
    predict,
)
from .mlp import predict_proba as predict_proba_
from .optim import SGD, sgd_step
from .training import History, train

__all__ = ["CHECKS", "CheckResult", "format_results", "run_checks"]


#: Tolerances per dtype: float32 rounds at about 6e-8, float64 at about 1e-16.
TOLERANCES = {
    "float64": {"fd": 1e-6, "autograd": 1e-10, "trajectory": 1e-9, "stability": 1e-12},
    "float32": {"fd": 3e-2, "autograd": 1e-4, "trajectory": 1e-4, "stability": 1e-5},
}
#: Finite-difference step per dtype (the error is O(eps^2) plus O(rounding / eps)).
FD_STEP = {"float64": 1e-5, "float32": 1e-2}
#: Relative errors are taken against ``max(|a|, |b|, floor)``: tiny entries count absolutely.
FLOOR = 1e-3
#: The floor of finite differences: their rounding error is about ``eps_machine * J / eps``
#: in absolute terms (6e-6 in float32 with eps=1e-2), so tiny entries count absolutely there.
FD_FLOOR = {"float64": 1e-3, "float32": 1e-2}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed`` when ``error <= tolerance``.

    ``name`` is the check's key in :data:`CHECKS`; ``error`` the worst error measured (NaN
    when the check raised or was skipped); ``detail`` says what was compared or what failed.

    Examples
    --------
    >>> import xpnet
    >>> result = xpnet.testing.check_softmax_stability("array_api_strict")
    >>> result.name, result.passed, result.error <= result.tolerance
    ('softmax_at_1000', True, True)
    """

    name: str
    passed: bool
    error: float
    tolerance: float
    detail: str = ""
    skipped: bool = False
    seconds: float = math.nan

    @property
    def status(self) -> str:
        """``"pass"``, ``"FAIL"`` or ``"skip"`` (the check does not apply here)."""
        return "skip" if self.skipped else "pass" if self.passed else "FAIL"


def _result(name: str, error: float, tolerance: float, detail: str = "") -> CheckResult:
    return CheckResult(name, bool(error <= tolerance), float(error), tolerance, detail)


def _skipped(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, math.nan, math.nan, detail, skipped=True)


@dataclass(frozen=True)
class _Target:
    """Where a check runs: a backend, a device, a floating dtype."""

    backend: str
    device: Any
    dtype: str

    def put(self, data: Any) -> Array:
        """NumPy data onto the target: floats in the target dtype, integers as they are."""
        host = np.asarray(data)
        dtype = self.dtype if host.dtype.kind == "f" else None
        return asarray(host, backend=self.backend, dtype=dtype, device=self.device)

    def params(self, host: Sequence[np.ndarray]) -> Params:
        return Params(*(self.put(p) for p in host))


def _problem(n: int = 12, seed: int = 32) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``X (n, 4)``, ``y (n,)`` in 3 classes, and a 4-4-3 network, in NumPy float64.

    The default seed keeps every hidden pre-activation ``X W1 + b1`` at least 0.25 from
    the ReLU kink, so that finite differences (steps up to 1e-2) never cross it.

    ``W1`` is square on purpose: a backend whose ``matmul`` uses the transpose of a square
    operand still produces the right shapes, and must be caught by its values.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = np.arange(n) % 3
    W1, W2 = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    b1, b2 = rng.standard_normal(4), rng.standard_normal(3)
    return X, y, [W1, b1, W2, b2]


def _on(target: _Target) -> tuple[Array, Array, Params]:
    """The problem of :func:`_problem` on ``target``."""
    X, y, params = _problem()
    return target.put(X), target.put(y), target.params(params)


def _relative_error(actual: Any, expected: np.ndarray) -> float:
    a, b = to_numpy(actual).astype(np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), FLOOR)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


# --- the checks ---------------------------------------------------------------------------


def check_gradient_finite_differences(
    backend: str, *, device: Any = None, dtype: str = "float64"
) -> CheckResult:
    """The hand-derived gradients equal central finite differences of the mean loss."""
    target = _Target(backend, device, dtype)
    X, y, params = _on(target)
    manual = backward(X, y, params)
    numeric = numerical_grad(X, y, params, eps=FD_STEP[dtype])
    error = max_relative_error(numeric, manual, floor=FD_FLOOR[dtype])
    return _result(
        "grad_vs_finite_diff",
        error,
        TOLERANCES[dtype]["fd"],
        f"eps={FD_STEP[dtype]:g}",
    )


def check_gradient_autograd(
    backend: str, *, device: Any = None, dtype: str = "float64"
) -> CheckResult:
    """The hand-derived gradients equal the backend's autograd (torch, jax)."""
    name = "grad_vs_autograd"
    X, y, params = _on(_Target(backend, device, dtype))
    try:
        oracle = autograd_grad(X, y, params)
    except TypeError as exc:
        if "no automatic differentiation" not in str(exc):
            raise
        return _skipped(name, f"{backend} has no autograd")
    error = max_relative_error(oracle, backward(X, y, params), floor=FLOOR)
    return _result(name, error, TOLERANCES[dtype]["autograd"])


def _train_history(
    target: _Target, *, epochs: int = 4, compile: str = "auto"
) -> tuple[Params, History]:
    X, y, _ = _problem(n=48, seed=1)  # three batches of 16: one shape, one compilation
    xp = namespace(target.backend)
    init = init_params(4, 4, 3, xp=xp, seed=0, dtype=target.dtype, device=target.device)
    return train(
        target.put(X),
        target.put(y),
        init,
        epochs=epochs,
        lr=0.3,
        batch_size=16,
        seed=0,
        compile=compile,
    )


def check_training_trajectory(
    backend: str, *, device: Any = None, dtype: str = "float64"
) -> CheckResult:
    """Minibatch SGD from one seed gives NumPy's losses and final weights (float64 NumPy)."""
    got, history = _train_history(_Target(backend, device, dtype))
    want, reference = _train_history(_Target("numpy", None, "float64"))
    loss_error = _relative_error(np.asarray(history.loss), np.asarray(reference.loss))
    param_error = max(_relative_error(a, to_numpy(b)) for a, b in zip(got, want))
    return _result(
        "trajectory_vs_numpy",
        max(loss_error, param_error),
        TOLERANCES[dtype]["trajectory"],
        f"{len(history.loss)} epochs of 3 minibatches; loss {loss_error:.1e}, "
        f"weights {param_error:.1e}",
    )


def _scipy_oracle(z: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    from scipy.special import log_softmax as log_softmax_ref
    from scipy.special import softmax as softmax_ref

    probs = softmax_ref(z, axis=1)
    logs = log_softmax_ref(z, axis=1)
    e_y = (y[:, None] == np.arange(z.shape[1])).astype(np.float64)
    return {
        "softmax": probs,
        "log_softmax": logs,
        "cross_entropy": np.asarray(-np.mean(logs[np.arange(len(y)), y])),
        "cross_entropy_grad": (probs - e_y) / len(y),
    }


def check_softmax_stability(
    backend: str, *, device: Any = None, dtype: str = "float64"
) -> CheckResult:
    """softmax, log_softmax, cross-entropy and its gradient at logits of +-1000 equal SciPy's."""
    z = np.array(
        [
            [1000.0, -1000.0, 0.0],
            [-1000.0, -1000.0, -1000.0],
            [1000.0, 1000.0, 999.0],
            [0.5, -0.25, 2.0],
            [-3.0, 1.0, -1000.0],
        ]
    )
    y = np.array([0, 2, 1, 2, 2])
    target = _Target(backend, device, dtype)
    z_t, y_t = target.put(z), target.put(y)
    expected = _scipy_oracle(z, y)
    got = {
        "softmax": softmax(z_t),
        "log_softmax": log_softmax(z_t),
        "cross_entropy": cross_entropy(z_t, y_t),
        "cross_entropy_grad": cross_entropy_grad(z_t, y_t),
    }
    errors = {key: _relative_error(got[key], expected[key]) for key in got}
    not_finite = [key for key in got if not np.all(np.isfinite(to_numpy(got[key])))]
    worst = max(errors, key=lambda key: errors[key])
    detail = f"worst: {worst}" + (f"; not finite: {', '.join(not_finite)}" if not_finite else "")
    error = math.inf if not_finite else errors[worst]
    return _result("softmax_at_1000", error, TOLERANCES[dtype]["stability"], detail)


def _bad_inputs(target: _Target) -> list[tuple[str, Callable[[], Any], type, str]]:
    """``(what, call, exception type, message start)`` for each malformed call."""
    X_host, y_host, params_host = _problem()
    X, y, params = target.put(X_host), target.put(y_host), target.params(params_host)
    X_nan = X_host.copy()
    X_nan[3, 1] = np.nan
    xp = namespace(target.backend)
    calls: list[tuple[str, Callable[..., Any], tuple[Any, ...], type, str]] = [
        ("label == K", loss_and_grad, (X, target.put(y_host * 0 + 3), params), ValueError, "y:"),
        ("label -1", loss_and_grad, (X, target.put(y_host - 1), params), ValueError, "y:"),
        ("float labels", backward, (X, target.put(y_host * 1.0), params), TypeError, "y:"),
        ("NaN in X (train)", train, (target.put(X_nan), y, params), ValueError, "X:"),
        ("NaN in X (predict)", predict, (target.put(X_nan), params), ValueError, "X:"),
        ("len(X) != len(y)", loss_and_grad, (X, y[:5], params), ValueError, "y:"),
        ("1-D X", forward, (X[:, 0], params), ValueError, "X:"),
        ("empty batch", loss_and_grad, (X[:0, :], y[:0], params), ValueError, "X:"),
        ("params not Params", forward, (X, list(params)[:2]), TypeError, "params:"),
    ]
    if backend_name(X) != "numpy":
        calls.append(("NumPy X", forward, (X_host, params), TypeError, "X:"))
    cases: list[tuple[str, Callable[[], Any], type, str]] = [
        (what, partial(f, *args), kind, start) for what, f, args, kind, start in calls
    ]
    cases += [
        ("1 class", partial(init_params, 4, 4, 1, xp=xp), ValueError, "output_dim:"),
        ("lr < 0", partial(train, X, y, params, epochs=1, lr=-0.1), ValueError, "lr:"),
        ("backend=3", partial(asarray, X_host, backend=3), TypeError, "backend:"),
    ]
    other = "float32" if target.dtype == "float64" else "float64"
    try:
        resolve_dtype(xp, other)
    except ValueError:
        pass  # that dtype is refused here (JAX without x64): nothing to mix
    else:
        wrong = _Target(target.backend, target.device, other).params(params_host)
        cases.append((f"{other} params", partial(forward, X, wrong), TypeError, "params.W1:"))
    return cases


def check_bad_input(backend: str, *, device: Any = None, dtype: str = "float64") -> CheckResult:
    """Malformed calls raise ValueError/TypeError whose message starts with the argument."""
    cases = _bad_inputs(_Target(backend, device, dtype))
    failures = []
    for what, call, kind, start in cases:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _read_back(call())  # a lazy backend (Dask) raises when the values are computed
        except (TypeError, ValueError) as exc:
            if type(exc) is not kind or not str(exc).startswith(start):
                failures.append(f"{what}: {type(exc).__name__}({str(exc)[:60]!r})")
        except Exception as exc:
            failures.append(f"{what}: {type(exc).__name__}")
        else:
            failures.append(f"{what}: no error")
    detail = "; ".join(failures) if failures else f"{len(cases)} malformed calls refused"
    return _result("bad_input_errors", len(failures), 0, detail)


def _read_back(result: Any) -> None:
    """Every array in ``result`` (nested tuples walked, e.g. train's params) copied to the
    host: a lazy backend reports a bad value only when it computes it."""
    if isinstance(result, tuple):
        for item in result:
            _read_back(item)
    elif hasattr(result, "shape") and hasattr(result, "dtype"):
        to_numpy(result)


def _compiled_modes(backend: str) -> list[str]:
    """The ``compile=`` modes of ``train`` that really compile on ``backend``."""
    xp, step = namespace(backend), Step(SGD(0.0))
    runners = {mode: epoch_runner(step, xp, mode) for mode in ("jit", "epoch")}
    # A mode compiles when its runner is not the one of compile="none" (Dask has its own
    # driver, the same in every mode).
    eager = (EagerEpoch, type(epoch_runner(step, xp, "none")))
    return [mode for mode, runner in runners.items() if not isinstance(runner, eager)]


def check_compiled(backend: str, *, device: Any = None, dtype: str = "float64") -> CheckResult:
    """``train(compile="jit"/"epoch")`` (jax.jit, torch.compile) gives the eager results."""
    name = "compiled_vs_eager"
    modes = _compiled_modes(backend)
    if not modes:
        return _skipped(name, f"{backend} has no compiled path")
    target = _Target(backend, device, dtype)
    eager, eager_history = _train_history(target, epochs=2, compile="none")
    errors = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.compile's notes on array-api-compat's caches
        for mode in modes:
            params, history = _train_history(target, epochs=2, compile=mode)
            loss = _relative_error(np.asarray(history.loss), np.asarray(eager_history.loss))
            weights = max(_relative_error(a, to_numpy(b)) for a, b in zip(params, eager))
            errors[mode] = max(loss, weights)
    detail = ", ".join(f"{mode}: {error:.1e}" for mode, error in errors.items())
    return _result(name, max(errors.values()), TOLERANCES[dtype]["trajectory"], detail)


#: The deeper network of the any-depth checks: two hidden layers of width 3.
DEEP_SIZES = (4, 3, 3, 3)


def _deep_problem(target: _Target, n: int = 12, seed: int = 32) -> tuple[Array, Array, Any]:
    """The inputs of :func:`_problem` with a 4-3-3-3 network (Glorot's uniform weights)."""
    X, y, _ = _problem(n, seed)
    xp, device = namespace(target.backend), target.device
    layers = init_layers(
        DEEP_SIZES, xp=xp, seed=3, dtype=target.dtype, device=device, init="glorot"
    )
    return target.put(X), target.put(y), layers


def check_deep_gradients(
    backend: str, *, device: Any = None, dtype: str = "float64"
) -> CheckResult:
    """Gradients of a 4-3-3-3 tanh / logistic network with an L2 penalty equal central finite
    differences, and the backend's autograd where it has one."""
    X, y, layers = _deep_problem(_Target(backend, device, dtype))
    errors = {}
    for activation in ("tanh", "logistic"):
        options: dict[str, Any] = {"activation": activation, "alpha": 1e-2}
        _, manual = loss_and_grad(X, y, layers, **options)
        numeric = numerical_grad(X, y, layers, eps=FD_STEP[dtype], **options)
        errors[f"{activation} vs finite differences"] = max_relative_error(
            numeric, manual, floor=FD_FLOOR[dtype]
        )
        try:
            oracle = autograd_grad(X, y, layers, **options)
        except TypeError as exc:
            if "no automatic differentiation" not in str(exc):
                raise
        else:
            errors[f"{activation} vs autograd"] = max_relative_error(oracle, manual, floor=FLOOR)
    worst = max(errors, key=lambda key: errors[key])
    tolerance = TOLERANCES[dtype]["fd"]
    return _result(
        "deep_grad", errors[worst], tolerance, f"worst: {worst}; {len(errors)} comparisons"
    )


def check_optimizers(backend: str, *, device: Any = None, dtype: str = "float64") -> CheckResult:
    """Three epochs of SGD with Nesterov momentum and of Adam on the 4-3-3-3 tanh network give
    NumPy's losses and weights."""
    from .optim import SGD, Adam

    errors = {}
    for label, optimizer in (
        ("nesterov", SGD(0.1, momentum=0.9, nesterov=True)),
        ("adam", Adam(0.01)),
    ):
        runs = []
        for target in (_Target(backend, device, dtype), _Target("numpy", None, "float64")):
            X, y, layers = _deep_problem(target, n=48, seed=1)
            runs.append(
                train(
                    X, y, layers, epochs=3, batch_size=16, optimizer=optimizer, activation="tanh"
                )
            )
        (got, history), (want, reference) = runs
        loss = _relative_error(np.asarray(history.loss), np.asarray(reference.loss))
        weights = max(
            _relative_error(a, to_numpy(b)) for a, b in zip(tree_leaves(got), tree_leaves(want))
        )
        errors[label] = max(loss, weights)
    detail = ", ".join(f"{label}: {error:.1e}" for label, error in errors.items())
    return _result(
        "optimizers_vs_numpy", max(errors.values()), TOLERANCES[dtype]["trajectory"], detail
    )


def _public_calls(
    X: Array, y: Array, params: Params, z: Array, grads: Params
) -> dict[str, Callable[[], Any]]:
    return {
        "forward": lambda: forward(X, params),
        "forward_rowwise": lambda: forward_rowwise(X, params),
        "backward": lambda: backward(X, y, params),
        "loss_and_grad": lambda: loss_and_grad(X, y, params),
        "softmax": lambda: softmax(z),
        "log_softmax": lambda: log_softmax(z),
        "cross_entropy": lambda: cross_entropy(z, y),
        "cross_entropy_grad": lambda: cross_entropy_grad(z, y),
        "predict": lambda: predict(X, params),
        "predict_proba": lambda: predict_proba_(X, params),
        "sgd_step": lambda: sgd_step(params, grads, 0.1),
        "train": lambda: train(X, y, params, epochs=2, lr=0.1, batch_size=5),
    }


def check_no_in_place(backend: str, *, device: Any = None, dtype: str = "float64") -> CheckResult:
    """No public function writes into its inputs; read-only NumPy inputs work."""
    X, y, params = _on(_Target(backend, device, dtype))
    z, grads = forward(X, params)[1], backward(X, y, params)
    inputs = [X, y, *params, z, *grads]
    before = [np.array(to_numpy(a), copy=True) for a in inputs]
    calls = _public_calls(X, y, params, z, grads)
    failures = []
    for what, call in calls.items():
        call()
        if any(not np.array_equal(to_numpy(a), b) for a, b in zip(inputs, before)):
            failures.append(f"{what} wrote into its inputs")
    frozen = [a for a in inputs if isinstance(a, np.ndarray)]
    for a in frozen:
        a.flags.writeable = False
    if frozen:
        for what, call in calls.items():
            try:
                call()
            except ValueError as exc:
                failures.append(f"{what} on read-only input: {str(exc)[:60]}")
    memory = "read-only NumPy inputs too" if frozen else "no read-only memory to test"
    detail = "; ".join(failures) if failures else f"{len(calls)} functions; {memory}"
    return _result("no_in_place_writes", len(failures), 0, detail)


#: Every check, by name, in the order ``run_checks`` runs them.
CHECKS: dict[str, Callable[..., CheckResult]] = {
    "grad_vs_finite_diff": check_gradient_finite_differences,
    "grad_vs_autograd": check_gradient_autograd,
    "trajectory_vs_numpy": check_training_trajectory,
    "softmax_at_1000": check_softmax_stability,
    "bad_input_errors": check_bad_input,
    "compiled_vs_eager": check_compiled,
    "no_in_place_writes": check_no_in_place,
    "deep_grad": check_deep_gradients,
    "optimizers_vs_numpy": check_optimizers,
}


def run_checks(
    backend: str,
    *,
    device: Any = None,
    dtype: str = "float64",
    checks: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Run the conformance checks on ``backend`` (on ``device``, in ``dtype``).

    A check that raises is a failed check, with the exception as its detail.

    Parameters
    ----------
    backend : str
        A registered backend name (see :func:`xpnet.available_backends`).
    device : optional
        Device to run on, e.g. ``"cuda"``; default the backend's.
    dtype : {"float64", "float32"}
        Floating dtype of the data and weights; sets the tolerances.
    checks : sequence of str, optional
        Names from :data:`CHECKS`; default all.

    Examples
    --------
    >>> import xpnet
    >>> results = xpnet.testing.run_checks("array_api_strict", checks=["softmax_at_1000"])
    >>> [(r.name, r.status) for r in results]
    [('softmax_at_1000', 'pass')]
    """
    if not isinstance(backend, str):
        raise TypeError(f"backend: expected a backend name (str), got {type(backend).__name__}")
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype: expected one of {list(TOLERANCES)}, got {dtype!r}")
    names = list(CHECKS) if checks is None else list(checks)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise ValueError(f"checks: unknown checks {unknown}; known: {list(CHECKS)}")
    namespace(backend)  # an unknown or missing backend fails here, not in every check
    results = []
    for name in names:
        start = time.perf_counter()
        try:
            result = CHECKS[name](backend, device=device, dtype=dtype)
        except Exception as exc:
            result = CheckResult(name, False, math.nan, math.nan, f"raised {exc!r}"[:200])
        results.append(dataclasses.replace(result, seconds=time.perf_counter() - start))
    return results


#: The columns of a table of :class:`CheckResult` (:func:`format_results`, ``xpnet check``).
RESULT_HEADER = ("check", "result", "worst error", "tolerance", "s", "detail")


def result_cells(result: CheckResult) -> tuple[str, ...]:
    """One row of the results table, as text (blank where a number does not apply)."""
    return (
        result.name,
        result.status,
        "" if math.isnan(result.error) else f"{result.error:.1e}",
        "" if math.isnan(result.tolerance) else f"{result.tolerance:.0e}",
        "" if math.isnan(result.seconds) else f"{result.seconds:.1f}",
        result.detail,
    )


def format_results(results: Sequence[CheckResult]) -> str:
    """The results as a table: check, result, worst error, tolerance, seconds, detail.

    Examples
    --------
    >>> import xpnet
    >>> results = xpnet.testing.run_checks("array_api_strict", checks=["bad_input_errors"])
    >>> print(xpnet.testing.format_results(results).splitlines()[0])
    check             result  worst error  tolerance  s    detail
    """
    rows = [result_cells(r) for r in results]
    header = RESULT_HEADER
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    widths[-1] = len(header[-1])  # the last column is not padded
    lines = [header, tuple("-" * w for w in widths), *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines)
