"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` on every array backend.

The same constructor parameters, defaults, methods and fitted attributes as
scikit-learn 1.9's estimators, and for the same data and ``random_state`` the same
numbers: every random draw is made on the host with NumPy's ``RandomState`` in
scikit-learn's order (initial weights and intercepts layer by layer, the
early-stopping split, each epoch's shuffle), the updates, learning-rate schedules,
stopping rules and warnings are scikit-learn's, and the loss is reported as
scikit-learn reports it. The math itself is not repeated here: forward pass,
gradients and optimizer steps come from :mod:`xpnet.mlp`, :mod:`xpnet.losses` and
:mod:`xpnet.optim`, and run on the backend of the input (NumPy, PyTorch, JAX,
array-api-strict), on its device, in its floating dtype (float32 stays float32).

This module is the thin layer around them: checking parameters and data, class
labels, the host draws, batching, the schedules, stopping and the attributes.

On Dask arrays the chunks stream through the engine (:mod:`xpnet._dask`): the model's
weights live on the host, each epoch reads each chunk once, and the targets and weights
are made chunk by chunk. Unshuffled, the fit equals the in-memory one; shuffled, the chunks
and then the rows of each are visited in an order drawn from ``random_state``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import scipy.optimize
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _drivers
from . import _validation as check
from ._compat import (
    array_namespace,
    device,
    host_view,
    is_array_api_obj,
    is_dask_array,
    is_jax_namespace,
    is_numpy_array,
    namespace_name,
)
from ._dask import (
    ChunkOrder,
    check_chunks,
    check_known_chunks,
    check_row_chunks,
    checked_finite,
    chunk_orders,
    distinct_values,
    from_host_tree,
    map_rows,
    to_host_tree,
)
from ._engine import Engine, EpochResult, Step, reported_loss
from ._network import forward_layers, mean_loss_and_grad
from ._optional import optional_import
from ._typing import Array, Layer, Layers, Namespace
from .backends import asarray, jax_x64_enabled, to_numpy
from .losses import LOSSES
from .losses import output as _output_function
from .optim import SGD, Adam, AdamState, SGDState

try:  # scikit-learn >= 1.9: the callbacks API (ProgressBar, ScoringMonitor, ...)
    from sklearn.callback import CallbackSupportMixin as _CallbackSupport
    from sklearn.callback import with_callbacks as _with_callbacks

    _HAS_CALLBACKS = True
except ImportError:  # an older scikit-learn: the estimators work, set_callbacks says why not
    _HAS_CALLBACKS = False

    class _CallbackSupport:  # type: ignore[no-redef, unused-ignore]
        def set_callbacks(self, *callbacks: Any) -> Any:
            import sklearn

            raise ImportError(
                "set_callbacks: scikit-learn's callbacks (sklearn.callback) arrived in "
                f"scikit-learn 1.9; this is scikit-learn {sklearn.__version__}. Upgrade with "
                "`pip install 'scikit-learn>=1.9'`"
            )

    def _with_callbacks(method: Any) -> Any:  # type: ignore[no-redef, unused-ignore]
        return method


__all__ = ["MLPClassifier", "MLPRegressor"]


_STOCHASTIC_SOLVERS = ("sgd", "adam")

#: The output function of the network -> the loss of :mod:`xpnet.losses` whose gradient
#: with respect to the logits is ``(output - target) / n``, as scikit-learn's deltas.
_CORE_LOSS = {
    "softmax": "cross_entropy",
    "logistic": "binary_cross_entropy",
    "identity": "squared_error",
    "exp": "poisson",
}


# --- parameters: scikit-learn's constraints, errors that start with the parameter's name ------


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _warn_column_vector() -> None:
    """scikit-learn's warning for a ``(n, 1)`` y where a 1-D one is expected."""
    warnings.warn(
        "A column-vector y was passed when a 1d array was expected. Please change the "
        "shape of y to (n_samples, ), for example using ravel().",
        DataConversionWarning,
        stacklevel=6,
    )


def _check_options(name: str, value: Any, options: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: must be one of {sorted(options)}, got {value!r}")


def _check_number(
    name: str,
    value: Any,
    *,
    low: float,
    high: float = np.inf,
    closed: str = "left",
    integer: bool = False,
) -> None:
    """``value`` is a real (or an int) in the interval; ``closed`` in left/right/both/neither."""
    if not (_is_int(value) if integer else _is_real(value)):
        kind = "an int" if integer else "a real number"
        raise TypeError(f"{name}: must be {kind}, got {type(value).__name__} {value!r}")
    above = value >= low if closed in ("left", "both") else value > low
    below = value <= high if closed in ("right", "both") else value < high
    if not (above and below):
        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"{name}: must be in {left}{low}, {high}{right}, got {value!r}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: must be a bool, got {type(value).__name__} {value!r}")


def _hidden_sizes(value: Any) -> list[int]:
    """``hidden_layer_sizes`` as a list of ints (an int is one hidden layer)."""
    sizes = [value] if not hasattr(value, "__iter__") or isinstance(value, str) else list(value)
    for size in sizes:
        if not _is_int(size):
            raise TypeError(
                f"hidden_layer_sizes: must be an int or a sequence of ints, got {value!r}"
            )
    if any(size <= 0 for size in sizes):
        raise ValueError(f"hidden_layer_sizes: must be > 0, got {sizes}")
    return [int(size) for size in sizes]


@functools.cache
def _network_output(activation: str, out_activation: str, xp: Namespace) -> Callable[..., Any]:
    """``output(layers, X)``: the network's output ``p`` (softmax, logistic, identity or
    exp of the logits), compiled on JAX."""
    spec = LOSSES[_CORE_LOSS[out_activation]]

    def output(layers: Layers, X: Array) -> Array:
        _, z = forward_layers(X, layers, activation=activation, xp=xp)
        return _output_function(z, spec, xp=xp)

    return _drivers.compiled(output, xp)


@functools.cache
def _evaluation(
    activation: str, out_activation: str, alpha: float, xp: Namespace
) -> Callable[..., Any]:
    """``evaluate(layers, X, target, sample_weight) -> (output, reported loss)``."""
    network = _network_output(activation, out_activation, xp)

    def evaluate(
        layers: Layers, X: Array, target: Array, sample_weight: Array | None
    ) -> tuple[Array, Array]:
        output = network(layers, X)
        loss = reported_loss(
            output,
            target,
            layers,
            out_activation=out_activation,
            alpha=alpha,
            sample_weight=sample_weight,
            xp=xp,
        )
        return output, loss

    return _drivers.compiled(evaluate, xp)


@functools.cache
def _objective(
    activation: str, out_activation: str, alpha: float, xp: Namespace
) -> Callable[..., Any]:
    """``objective(layers, X, target, sample_weight) -> (reported loss, grads)``: what
    L-BFGS minimizes (the gradient from the core, the value as scikit-learn reports it)."""

    def objective(
        layers: Layers, X: Array, target: Array, sample_weight: Array | None
    ) -> tuple[Array, Layers]:
        _, grads, output = mean_loss_and_grad(
            X,
            target,
            layers,
            xp=xp,
            activation=activation,
            loss=_CORE_LOSS[out_activation],
            alpha=alpha,
            sample_weight=sample_weight,
        )
        loss = reported_loss(
            output,
            target,
            layers,
            out_activation=out_activation,
            alpha=alpha,
            sample_weight=sample_weight,
            xp=xp,
        )
        return loss, grads

    return _drivers.compiled(objective, xp)


# --- data: validation, and where it lives -------------------------------------------------------


class _Data(NamedTuple):
    """The training data on the backend, plus what the host needs of it.

    On Dask, ``X``, ``target`` and ``sample_weight`` are lazy Dask arrays with the same row
    chunks (the targets and weights made chunk by chunk as the chunks are read), nothing is
    held on the host (``host_target``, ``host_weight`` are None), and ``xp`` is NumPy's:
    the model's weights live on the host.
    """

    X: Array  # (n, d) floating, on the backend
    target: Array  # the core's (n, K) target matrix, in X's dtype
    sample_weight: Array | None  # (n,) in X's dtype, or None
    host_target: np.ndarray | None  # binarized labels (classifier) or y (n, K) (regressor)
    host_weight: np.ndarray | None
    xp: Namespace  # the namespace of the model's weights (X's, or NumPy's for Dask data)


def _place_of(X: Any) -> Any:
    """The device of ``X``; a SciPy sparse matrix lives on the host CPU, as NumPy's arrays."""
    return "cpu" if _drivers.is_sparse(X) else device(X)


def _on_backend(X: Any) -> bool:
    """A non-NumPy Array-API array (torch, JAX, array-api-strict): kept on its backend."""
    return bool(is_array_api_obj(X)) and not is_numpy_array(X)


def _float_dtype(xp: Namespace, dtype: Any) -> Any:
    """float32 and float64 stay; anything else becomes float64 (float32 for JAX without
    x64), as scikit-learn's ``dtype=(float64, float32)``."""
    if dtype == xp.float32 or dtype == xp.float64:
        return dtype
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError("X: complex data is not supported")
    if is_jax_namespace(xp) and not jax_x64_enabled():
        return xp.float32
    return xp.float64


def _numpy_dtype(xp: Namespace, dtype: Any) -> type:
    return np.float32 if dtype == xp.float32 else np.float64


def _host_array(x: Any, name: str) -> np.ndarray:
    """NumPy data of any backend's array, a list or a pandas object."""
    if x is None:
        raise TypeError(f"{name}: expected an array, got None")
    return to_numpy(x) if is_array_api_obj(x) else np.asarray(x)


def _score_inputs(y: Any, sample_weight: Any, *, n: int) -> tuple[np.ndarray, Any]:
    """``y`` and ``sample_weight`` of ``score`` on the host, checked against ``n`` rows of X
    (scikit-learn's metrics would raise without naming the argument)."""
    y_true = _host_array(y, "y")
    if y_true.ndim not in (1, 2) or y_true.shape[0] != n:
        raise ValueError(f"y: expected {n} targets, one per row of X, got shape {y_true.shape}")
    if y_true.dtype.kind == "c":
        raise TypeError(f"y: complex targets are not supported, got dtype {y_true.dtype}")
    if sample_weight is None:
        return y_true, None
    weight = _host_array(sample_weight, "sample_weight")
    if weight.ndim != 1 or weight.shape[0] != n:
        raise ValueError(f"sample_weight: expected shape ({n},), got {weight.shape}")
    if weight.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight: expected real weights, got dtype {weight.dtype}")
    if not np.all(np.isfinite(weight)) or np.any(weight < 0) or not np.sum(weight) > 0:
        raise ValueError("sample_weight: weights must be finite and >= 0, with a positive sum")
    return y_true, weight


@contextlib.contextmanager
def _named(name: str) -> Iterator[None]:
    """Re-raise scikit-learn's validation errors with the argument's name in front."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name}: {exc}") from exc


def _host_float(x: Array) -> float:
    return float(to_numpy(x))


def _host_namespace() -> Namespace:
    """NumPy's Array-API namespace: where a model fitted on Dask data keeps its weights."""
    return array_namespace(np.zeros(0))


def _check_nonzero(nonzero: Any) -> None:
    """The first pass's verdict on the sample weights (a bool, or a Dask boolean)."""
    if not bool(to_numpy(nonzero) if is_dask_array(nonzero) else nonzero):
        raise ValueError("sample_weight: must contain at least one non-zero number")


# --- the estimators ---------------------------------------------------------------------------


class _Progress:
    """scikit-learn's callback contexts for one fit: one task, one subtask per epoch (per
    iteration for L-BFGS). Does nothing with an older scikit-learn."""

    def __init__(self, estimator: Any, X: Any, y: Any, subtasks: int) -> None:
        self.estimator, self.X, self.y = estimator, X, y
        self.context = None
        self.epoch: Any = None
        # contexts only where a callback may listen: its own, or a meta-estimator's
        watched = getattr(estimator, "_skl_callbacks", None) or hasattr(
            estimator, "_parent_callback_ctx"
        )
        if _HAS_CALLBACKS and watched:
            self.context = estimator._init_callback_context(max_subtasks=subtasks)
            self.context.call_on_fit_task_begin(estimator=estimator, X=X, y=y)

    def _state(self) -> dict[str, Any]:
        estimator = self.estimator
        return {
            "coefs_": list(estimator.coefs_),
            "intercepts_": list(estimator.intercepts_),
            "n_iter_": estimator.n_iter_,
        }

    def begin_epoch(self) -> None:
        if self.context is None:
            return
        self.epoch = self.context.subcontext(task_name="epoch")
        self.epoch.call_on_fit_task_begin(
            estimator=self.estimator, X=self.X, y=self.y, reconstruction_attributes=self._state
        )

    def end_epoch(self) -> bool:
        """The epoch's end hooks; True when a callback asks to stop."""
        if self.epoch is None:
            return False
        epoch, self.epoch = self.epoch, None
        return bool(
            epoch.call_on_fit_task_end(
                estimator=self.estimator,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self._state,
            )
        )

    def end(self) -> None:
        if self.context is not None:
            if self.epoch is not None:
                self.epoch.call_on_fit_task_end(estimator=self.estimator)
            self.context.call_on_fit_task_end(estimator=self.estimator, X=self.X, y=self.y)


class _BaseMLP(_CallbackSupport, BaseEstimator):
    """What the classifier and the regressor share: fitting, the solvers, the forward pass."""

    # -- parameters --

    def _check_hyperparameters(self) -> list[int]:
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        _check_options("activation", self.activation, ("identity", "logistic", "tanh", "relu"))
        _check_options("solver", self.solver, ("lbfgs", "sgd", "adam"))
        _check_number("alpha", self.alpha, low=0.0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            if isinstance(self.batch_size, str):
                raise ValueError(f"batch_size: must be 'auto' or an int, got {self.batch_size!r}")
            _check_number("batch_size", self.batch_size, low=1, integer=True)
        _check_options("learning_rate", self.learning_rate, ("constant", "invscaling", "adaptive"))
        _check_number("learning_rate_init", self.learning_rate_init, low=0.0, closed="neither")
        _check_number("power_t", self.power_t, low=0.0)
        _check_number("max_iter", self.max_iter, low=1, integer=True)
        _check_bool("shuffle", self.shuffle)
        state = self.random_state
        if not (state is None or _is_int(state) or isinstance(state, np.random.RandomState)):
            raise TypeError(
                "random_state: must be None, an int or a numpy.random.RandomState, "
                f"got {type(state).__name__}"
            )
        _check_number("tol", self.tol, low=0.0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            _check_number("verbose", self.verbose, low=0, integer=True)
        _check_bool("warm_start", self.warm_start)
        _check_number("momentum", self.momentum, low=0.0, high=1.0, closed="both")
        _check_bool("nesterovs_momentum", self.nesterovs_momentum)
        _check_bool("early_stopping", self.early_stopping)
        _check_number("validation_fraction", self.validation_fraction, low=0.0, high=1.0)
        _check_number("beta_1", self.beta_1, low=0.0, high=1.0)
        _check_number("beta_2", self.beta_2, low=0.0, high=1.0)
        _check_number("epsilon", self.epsilon, low=0.0, closed="neither")
        if not (_is_real(self.n_iter_no_change) and self.n_iter_no_change == np.inf):
            _check_number("n_iter_no_change", self.n_iter_no_change, low=1, integer=True)
        _check_number("max_fun", self.max_fun, low=1, integer=True)
        _check_options("compile", self.compile, _drivers.COMPILE_MODES)
        return hidden

    # -- X --

    def _validate_X(self, X: Any, *, reset: bool) -> tuple[Array, Namespace]:
        """X on its backend as a floating (n, d) array; NumPy data (and lists, DataFrames)
        go through scikit-learn's ``validate_data``, the other backends' arrays stay put."""
        if not _on_backend(X):
            with _named("X"):
                X = validate_data(
                    self,
                    X,
                    reset=reset,
                    dtype=(np.float64, np.float32),
                    accept_sparse=["csr", "csc"],
                )
            if _drivers.is_sparse(
                X
            ):  # SciPy sparse: rows taken a batch at a time, never densified
                return X.tocsr(), array_namespace(np.zeros(0))
            return X, array_namespace(X)
        if getattr(X, "layout", None) is not None and "strided" not in str(X.layout):
            raise TypeError(
                f"X: torch sparse tensors ({X.layout}) are not supported (torch lacks the "
                "products of a sparse batch that training needs on every layout); pass "
                "X.to_dense(), or a SciPy CSR/CSC matrix for sparse training on NumPy"
            )
        xp = array_namespace(X)
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array, got shape {tuple(X.shape)}")
        X = xp.astype(X, _float_dtype(xp, X.dtype), copy=False)
        if X.shape[0] == 0:
            raise ValueError(f"X: found array with 0 sample(s) (shape={tuple(X.shape)})")
        if X.shape[1] == 0:
            raise ValueError(f"X: found array with 0 feature(s) (shape={tuple(X.shape)})")
        check.check_finite(X, "X", xp=xp)
        X = check.folded(X, check.check_finite, name="X")  # Dask (predict): checked in the graph
        if reset:
            self.n_features_in_ = int(X.shape[1])
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X: has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if hasattr(self, "feature_names_in_"):
                warnings.warn(
                    f"X does not have valid feature names, but {type(self).__name__} was "
                    "fitted with feature names",
                    UserWarning,
                    stacklevel=3,
                )
        return X, xp

    def _validate_X_y(
        self, X: Any, y: Any, *, reset: bool, numeric: bool
    ) -> tuple[Array, Namespace, np.ndarray]:
        """X on its backend (see ``_validate_X``) and y on the host, checked as scikit-learn
        checks them (``numeric``: regression targets)."""
        X, xp = self._validate_X(X, reset=reset)
        if y is None:
            raise ValueError(
                f"y: {type(self).__name__} requires y to be passed, but the target y is None"
            )
        with _named("y"):
            y_host = check_array(
                _host_array(y, "y"),
                ensure_2d=False,
                dtype="numeric" if numeric else None,
                input_name="y",
            )
        if y_host.ndim > 2:
            raise ValueError(f"y: expected a 1-D or 2-D array, got shape {y_host.shape}")
        if y_host.shape[0] != X.shape[0]:
            raise ValueError(f"y: has {y_host.shape[0]} samples but X has {X.shape[0]}")
        if y_host.ndim == 2 and y_host.shape[1] == 1:
            _warn_column_vector()
            y_host = y_host.ravel()
        return X, xp, y_host

    def _sample_weight(
        self, sample_weight: Any, X: Array, xp: Namespace
    ) -> tuple[Array | None, np.ndarray | None]:
        """``sample_weight`` in X's namespace, dtype and device, and its host copy."""
        if sample_weight is None:
            return None, None
        n = X.shape[0]
        dtype = _numpy_dtype(xp, X.dtype)
        if _is_real(sample_weight):
            host = np.full(n, sample_weight, dtype=dtype)
        else:
            with _named("sample_weight"):
                host = check_array(
                    _host_array(sample_weight, "sample_weight"),
                    ensure_2d=False,
                    dtype=dtype,
                    input_name="sample_weight",
                )
            if host.ndim != 1:
                raise ValueError(
                    f"sample_weight: must be a 1-D array or a scalar, got shape {host.shape}"
                )
            if host.shape[0] != n:
                raise ValueError(
                    f"sample_weight: has {host.shape[0]} values but X has {n} samples"
                )
        if not np.any(host != 0):
            raise ValueError("sample_weight: must contain at least one non-zero number")
        return asarray(host, backend=xp, device=_place_of(X)), host

    # -- Dask data: checked lazily, chunk by chunk, as the chunks are read --

    def _validate_dask_X_y(self, X: Any, y: Any, *, reset: bool) -> tuple[Array, Array]:
        """``X`` and ``y`` of a fit on Dask data, both Dask arrays with the same row chunks
        (the one given in memory, if any, is cut into the other's chunks): ``X`` checked as
        :meth:`_validate_X` checks it (its values in the graph), each chunk whole samples."""
        da = optional_import("dask.array")

        if y is None:
            raise ValueError(
                f"y: {type(self).__name__} requires y to be passed, but the target y is None"
            )
        for name, array in (("X", X), ("y", y)):
            if is_dask_array(array):
                check_known_chunks(array, name)
        if not is_dask_array(X):
            X = _host_array(X, "X")
            if X.ndim != 2:
                raise ValueError(f"X: expected a 2-D array, got shape {X.shape}")
        if not is_dask_array(y):
            y = _host_array(y, "y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y: expected a 1-D or 2-D array, got shape {tuple(y.shape)}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y: has {y.shape[0]} samples but X has {X.shape[0]}")
        if not is_dask_array(X):
            X = da.from_array(X, chunks=(y.chunks[0], -1))
        if not is_dask_array(y):
            y = da.from_array(y, chunks=(X.chunks[0], *y.shape[1:]))
        X, _ = self._validate_X(X, reset=reset)
        check_chunks(X, y)
        if y.ndim == 2 and y.shape[1] == 1:
            _warn_column_vector()
            y = y[:, 0]
        return X, (y.rechunk({1: -1}) if y.ndim == 2 else y)

    def _dask_sample_weight(self, sample_weight: Any, X: Array) -> tuple[Array | None, Any]:
        """``sample_weight`` of a fit on Dask ``X``: a Dask array in X's dtype and row
        chunks whose values are checked as its chunks are read, and the test that one weight
        is non-zero: lazy for Dask weights, for the fit's first pass (True when checked)."""
        da = optional_import("dask.array")

        if sample_weight is None:
            return None, True
        n, dtype = X.shape[0], X.dtype
        if not is_dask_array(sample_weight):  # in memory: checked here, as for in-memory X
            host = self._sample_weight(sample_weight, X, _host_namespace())[1]
            assert host is not None
            return da.from_array(host, chunks=X.chunks[0]), True
        weight = sample_weight
        check_known_chunks(weight, "sample_weight")
        if weight.ndim != 1:
            raise ValueError(
                f"sample_weight: must be a 1-D array or a scalar, got shape {weight.shape}"
            )
        if weight.shape[0] != n:
            raise ValueError(f"sample_weight: has {weight.shape[0]} values but X has {n} samples")
        if weight.dtype.kind not in "biuf":
            raise TypeError(f"sample_weight: expected real weights, got dtype {weight.dtype}")
        check_row_chunks(weight, X, "sample_weight")
        weight = checked_finite(weight.astype(dtype), name="sample_weight")
        return weight, da.any(weight != 0)

    # -- fitting --

    @_with_callbacks
    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        validation: tuple[Any, Any, Any] = (None, None, None),
    ) -> Any:
        hidden = self._check_hyperparameters()
        # Dask data stream through the engine chunk by chunk; the validation rows are
        # computed into memory once (they are scored after every epoch).
        on_dask = is_dask_array(X) or is_dask_array(y)
        X_val, y_val, sample_weight_val = (
            to_numpy(v) if is_dask_array(v) else v for v in validation
        )
        if on_dask and self.early_stopping and not incremental and X_val is None:
            raise ValueError(
                "early_stopping: on Dask arrays no rows are held out of X (a random split "
                "would need the whole data set at once): give the validation rows yourself, "
                "fit(X, y, X_val=..., y_val=...), or set early_stopping=False"
            )
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        validate = self._validate_dask_data_for_fit if on_dask else self._validate_data_for_fit
        data = validate(X, y, sample_weight, incremental, first_pass)
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val, y_val: give both validation arrays, or neither")
        if sample_weight_val is not None and X_val is None:
            raise ValueError("sample_weight_val: given without X_val and y_val")
        self._validation_data = None
        if X_val is not None:
            if self.solver not in _STOCHASTIC_SOLVERS:
                raise ValueError("X_val: validation data need solver='sgd' or 'adam'")
            classes = getattr(self, "classes_", None)
            self._validation_data = self._validate_data_for_fit(
                X_val, y_val, sample_weight_val, True, False
            )
            if classes is not None:
                self.classes_ = classes
        n_features = data.X.shape[1]
        self.n_outputs_ = int(data.target.shape[1])
        layer_units = [n_features, *hidden, self.n_outputs_]
        rng = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, data, rng)
        subtasks = 1 if incremental else max(int(self.max_iter), 1)
        if self.solver == "lbfgs":  # scipy's callback opens one iteration it may never run
            subtasks += 1
        self._progress = _Progress(self, X, y, subtasks)
        try:
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(data, rng, incremental)
            else:
                self._fit_lbfgs(data)
            self._progress.end()
        finally:
            del self._progress
        xp = data.xp
        if not all(check.all_finite(a, xp=xp) for a in (*self.coefs_, *self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _initialize(self, layer_units: list[int], data: _Data, rng: np.random.RandomState) -> None:
        """Fresh attributes and Glorot-uniform weights drawn as scikit-learn draws them:
        on the host, layer by layer, the weights then the intercepts, from
        ``U(-b, b)`` with ``b = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for the logistic
        activation and 6 otherwise; float64 draws cast to the data's dtype."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        factor = 2.0 if self.activation == "logistic" else 6.0
        xp, where = data.xp, _place_of(data.X)
        dtype = _numpy_dtype(xp, data.X.dtype)
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in itertools.pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W: np.ndarray = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
            b: np.ndarray = rng.uniform(-bound, bound, fan_out).astype(dtype)
            self.coefs_.append(asarray(W, backend=xp, device=where))
            self.intercepts_.append(asarray(b, backend=xp, device=where))
        self._best_coefs, self._best_intercepts = list(self.coefs_), list(self.intercepts_)
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            # scikit-learn's types: a list or None, a float or None
            self.best_loss_: Any = None if self.early_stopping else np.inf
            if self.early_stopping or getattr(self, "_validation_data", None) is not None:
                self.validation_scores_: Any = []
                self.validation_loss_curve_: list[float] = []
                self.best_validation_score_: Any = -np.inf
            else:
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _layers(self) -> Layers:
        return tuple(Layer(W, b) for W, b in zip(self.coefs_, self.intercepts_))

    def _set_layers(self, layers: Layers) -> None:
        self.coefs_ = [layer.W for layer in layers]
        self.intercepts_ = [layer.b for layer in layers]

    def _new_optimizer(self) -> Any:
        if self.solver == "sgd":
            return SGD(
                lr=float(self.learning_rate_init),
                momentum=float(self.momentum),
                nesterov=bool(self.nesterovs_momentum),
            )
        return Adam(
            lr=float(self.learning_rate_init),
            beta1=float(self.beta_1),
            beta2=float(self.beta_2),
            eps=float(self.epsilon),
        )

    def _fit_stochastic(self, data: _Data, rng: np.random.RandomState, incremental: bool) -> None:
        """scikit-learn's sgd and adam solvers: its policy over xpnet's training engine.

        The policy: the host RNG's epoch orders (the previous order shuffled again), the
        rate of each epoch (``invscaling``, ``adaptive``), the loss as scikit-learn reports
        it, its stopping rules and attributes. The epochs run in :mod:`xpnet._engine`, as
        :func:`xpnet.train`'s do: on JAX each epoch is one compiled call, in shapes padded
        to a few sizes so that cross-validation folds share one compilation. On Dask the
        chunks stream to NumPy steps in this process (:class:`xpnet._dask.DaskEpoch`; one
        map-reduce per epoch for a batch of every row), the weights stay on the host, and a
        shuffled epoch visits the chunks, then the rows of each, in an order drawn from
        ``random_state`` (scikit-learn's own order for data in one chunk).
        """
        xp, layers = data.xp, self._layers()
        if not incremental or not hasattr(self, "_optimizer"):
            note = self.__dict__.pop("_resume_note", None)
            if incremental and note is not None:
                warnings.warn(note, UserWarning, stacklevel=4)
            optimizer = self._new_optimizer()
            # scikit-learn's optimizer object: the update rule, its state, the current rate
            self._optimizer = [optimizer, optimizer.init(layers), float(self.learning_rate_init)]
        optimizer = self._optimizer[0]
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        train_idx, val_idx = self._split(data, rng)
        X, target, weights = data.X, data.target, data.sample_weight
        if train_idx is not None:  # the early-stopping split: the training rows, once
            idx = asarray(train_idx, backend=xp, device=_place_of(X))
            X, target = _drivers.take_rows(X, idx, xp=xp), _drivers.take_rows(target, idx, xp=xp)
            if weights is not None:
                weights = _drivers.take_rows(weights, idx, xp=xp)
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        step = Step(
            dataclasses.replace(optimizer, lr=0.0),
            self.activation,
            _CORE_LOSS[self.out_activation_],
            float(self.alpha),
            report=self.out_activation_,
        )
        chunked = is_dask_array(X)
        if chunked:
            engine = Engine(step, array_namespace(X))
        else:
            engine = Engine(step, xp, compile=self.compile, fixed_shapes=True)
        positions = np.arange(n_samples)
        # Dask data in several chunks: the chunks, then the rows of each, in orders drawn
        # from random_state (xpnet.train's); an order of every row would not scale.
        orders = None
        if chunked and self.shuffle and len(X.chunks[0]) > 1:
            orders = chunk_orders(X.chunks[0], seed=int(rng.randint(2**31 - 1)), shuffle=True)

        def order(_: int) -> Any:
            nonlocal positions
            self._progress.begin_epoch()
            if not self.shuffle:
                return None
            if orders is not None:
                return next(orders)
            permutation = np.arange(n_samples)  # scikit-learn shuffles the previous order
            rng.shuffle(permutation)
            positions = positions[permutation]
            if chunked:  # one chunk: scikit-learn's order of its rows
                return ChunkOrder(X.chunks[0], np.zeros(1, dtype=np.int64), rows_of_one=positions)
            return positions

        steps = -(-n_samples // batch_size)
        stopped = False

        def after_epoch(result: EpochResult) -> bool:
            nonlocal stopped
            layers, state = result.carry
            self._set_layers(layers)
            self._optimizer[1] = state
            self.n_iter_ += 1
            self.loss_ = _host_float(result.loss_sum) / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement_count(data, val_idx)
            _report_epoch(self, self.loss_)
            if self._progress.end_epoch():
                return True
            lr = self._optimizer[2]
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                message = (
                    f"{what} did not improve more than tol={self.tol:f} for "
                    f"{self.n_iter_no_change} consecutive epochs."
                )
                stopped, lr = self._trigger_stopping(message, lr)
                self._optimizer[2] = lr
                if stopped:
                    return True
                self._no_improvement_count = 0
            self._optimizer[2] = lr
            return incremental

        self.n_iter_ = 0
        try:
            engine.run(
                (layers, self._optimizer[1]),
                X,
                target,
                epochs=self.max_iter,
                size=batch_size,
                order=order,
                lrs=lambda _: [self._optimizer[2]] * steps,
                on_epoch=after_epoch,
                weights=weights,
            )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if self.early_stopping:
            self.coefs_, self.intercepts_ = list(self._best_coefs), list(self._best_intercepts)

    def _trigger_stopping(self, message: str, lr: float) -> tuple[bool, float]:
        """scikit-learn's rule: stop, except that sgd with the adaptive schedule divides the
        rate by 5 instead, until it falls to 1e-6."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True, lr
        if lr <= 1e-6:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True, lr
        lr /= 5.0
        if self.verbose:
            print(message + f" Setting learning rate to {lr:f}")
        return False, lr

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped",
                stacklevel=4,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _split(
        self, data: _Data, rng: np.random.RandomState
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The early-stopping split of the sample indices, drawn by scikit-learn's own
        ``train_test_split`` (stratified for single-output classification)."""
        if not self.early_stopping or getattr(self, "_validation_data", None) is not None:
            return None, None
        n = data.X.shape[0]
        stratify = data.host_target if self._stratify() else None
        train_idx, val_idx = train_test_split(
            np.arange(n),
            random_state=rng,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val_idx.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        return train_idx, val_idx

    def _update_no_improvement_count(self, data: _Data, val_idx: np.ndarray | None) -> None:
        """After an epoch: the validation curves (held-out rows or the user's own), then
        scikit-learn's stopping rule (on the validation score with ``early_stopping``, on
        the training loss without)."""
        external = getattr(self, "_validation_data", None)
        if external is not None or val_idx is not None:
            if external is not None:
                score, val_loss = self._validation_score(external, None)
            else:
                assert val_idx is not None
                score, val_loss = self._validation_score(data, val_idx)
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(val_loss)
            if self.verbose:
                print(f"Validation score: {score:f}")
        if not self.early_stopping:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last
            return
        score = self.validation_scores_[-1]
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_coefs, self._best_intercepts = list(self.coefs_), list(self.intercepts_)

    def _validation_score(self, data: _Data, val_idx: np.ndarray | None) -> tuple[float, float]:
        """Score (accuracy or R^2, scikit-learn's functions) and reported loss of the
        current weights on the rows ``val_idx`` of ``data`` (all of them when None)."""
        xp = data.xp
        X_val, target, weight = data.X, data.target, data.sample_weight
        host_target, host_weight = data.host_target, data.host_weight
        assert host_target is not None  # validation rows are in memory, never Dask
        if val_idx is not None:
            idx = asarray(val_idx, backend=xp, device=_place_of(data.X))
            X_val = _drivers.take_rows(X_val, idx, xp=xp)
            target = _drivers.take_rows(target, idx, xp=xp)
            if weight is not None:
                weight = _drivers.take_rows(weight, idx, xp=xp)
            host_target = host_target[val_idx]
            host_weight = None if host_weight is None else host_weight[val_idx]
        evaluate = _evaluation(self.activation, self.out_activation_, float(self.alpha), xp)
        output, val_loss = evaluate(self._layers(), X_val, target, weight)
        score = self._host_score(to_numpy(output), host_target, host_weight)
        return score, _host_float(val_loss)

    def _fit_lbfgs(self, data: _Data) -> None:
        """scipy's L-BFGS-B on host float64 vectors; the loss and gradient at each point
        are computed on the backend (the weights go there, the gradient comes back); on
        Dask, one map-reduce over the chunks and one ``dask.compute`` per evaluation."""
        xp, where = data.xp, _place_of(data.X)
        shapes = [(tuple(W.shape), tuple(b.shape)) for W, b in zip(self.coefs_, self.intercepts_)]
        dtype = _numpy_dtype(xp, data.X.dtype)
        sizes = [int(np.prod(s)) for s, _ in shapes] + [s[0] for _, s in shapes]
        bounds = np.cumsum([0, *sizes])
        if is_dask_array(data.X):  # each evaluation one map-reduce over the chunks
            on_dask = _objective(
                self.activation, self.out_activation_, float(self.alpha), array_namespace(data.X)
            )

            def objective(layers: Layers, *args: Any) -> tuple[Array, Layers]:
                result: tuple[Array, Layers] = to_host_tree(on_dask(from_host_tree(layers), *args))
                return result

        else:
            objective = _objective(self.activation, self.out_activation_, float(self.alpha), xp)

        def unpack(packed: np.ndarray) -> Layers:
            parts = [packed[a:b] for a, b in itertools.pairwise(bounds)]
            n_layers = len(shapes)
            return tuple(
                Layer(
                    asarray(parts[i].reshape(W_shape).astype(dtype), backend=xp, device=where),
                    asarray(parts[n_layers + i].astype(dtype), backend=xp, device=where),
                )
                for i, (W_shape, _) in enumerate(shapes)
            )

        def loss_and_grad(packed: np.ndarray) -> tuple[float, np.ndarray]:
            layers = unpack(packed)
            loss, grads = objective(layers, data.X, data.target, data.sample_weight)
            return _host_float(loss), _pack(grads)

        iterations = itertools.count(1)

        def each_iteration(intermediate_result: scipy.optimize.OptimizeResult) -> None:
            self.n_iter_ = next(iterations)
            _report_epoch(self, float(intermediate_result.fun))
            self._set_layers(unpack(intermediate_result.x))
            if self._progress.end_epoch():
                raise StopIteration  # scipy ends the minimization there
            self._progress.begin_epoch()

        self._progress.begin_epoch()
        result = scipy.optimize.minimize(
            loss_and_grad,
            _pack(self._layers()),
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
            callback=each_iteration,
        )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if self.n_iter_ == self.max_iter:
                message += (
                    "\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={self.max_iter})."
                )
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        self.loss_ = float(result.fun)
        self._set_layers(unpack(result.x))

    # -- state for files (xpnet.io): what prediction and exact resume need --

    #: Fitted attributes that are plain numbers, strings or lists (JSON in a model file).
    _PLAIN_FITTED = (
        "n_features_in_",
        "n_iter_",
        "t_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "loss_",
        "best_loss_",
        "loss_curve_",
        "validation_scores_",
        "validation_loss_curve_",
        "best_validation_score_",
    )

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Array]]:
        """What a model file holds: ``(document, arrays)``. The document has the fitted
        plain attributes and, after a stochastic fit, ``"training"``: the optimizer's rate
        and the stopping rule's count; the arrays are the weights and the optimizer's state
        (velocities, or Adam's step and moments), so that training can go on exactly."""
        check_is_fitted(self)
        fitted = {name: getattr(self, name) for name in self._PLAIN_FITTED if hasattr(self, name)}
        arrays: dict[str, Array] = {}
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"coefs.{i}"], arrays[f"intercepts.{i}"] = W, b
        document: dict[str, Any] = {"fitted": fitted}
        if getattr(self, "_optimizer", None) is not None:
            _, state, lr = self._optimizer
            trees: dict[str, Any] = {}
            if isinstance(state, AdamState):
                arrays["optimizer.t"] = state.t
                trees = {"m": state.m, "s": state.s}
            elif state.velocity:
                trees = {"velocity": state.velocity}
            for name, tree in trees.items():
                for i, (W, b) in enumerate(tree):
                    arrays[f"optimizer.{name}.{i}.W"], arrays[f"optimizer.{name}.{i}.b"] = W, b
            document["training"] = {
                "solver": self.solver,
                "lr": float(lr),
                "no_improvement_count": int(self._no_improvement_count),
            }
        return document, arrays

    def _set_state(self, document: dict[str, Any], arrays: dict[str, Array]) -> None:
        """The inverse of :meth:`_get_state` (arrays already on their backend)."""
        for name, value in document["fitted"].items():
            setattr(self, name, value)
        n = self.n_layers_ - 1
        self.coefs_ = [arrays[f"coefs.{i}"] for i in range(n)]
        self.intercepts_ = [arrays[f"intercepts.{i}"] for i in range(n)]
        self._best_coefs, self._best_intercepts = list(self.coefs_), list(self.intercepts_)
        self._no_improvement_count = 0
        training = document.get("training")
        if training is None or training.get("solver") != self.solver:
            # predicts; a partial_fit starts a new optimizer state, and says so
            self._resume_note = (
                "this model was loaded from a file without its optimizer state (written by "
                "an older xpnet, or by a solver that keeps none): partial_fit starts a new "
                f"{self.solver} state, so training does not continue exactly where it stopped"
            )
            return

        def tree(name: str) -> Layers:
            return tuple(
                Layer(arrays[f"optimizer.{name}.{i}.W"], arrays[f"optimizer.{name}.{i}.b"])
                for i in range(n)
            )

        optimizer = self._new_optimizer()
        if isinstance(optimizer, Adam):
            state: Any = AdamState(arrays["optimizer.t"], tree("m"), tree("s"))
        else:
            state = SGDState(tree("velocity") if optimizer.momentum else ())
        self._optimizer = [optimizer, state, float(training["lr"])]
        self._no_improvement_count = int(training["no_improvement_count"])

    # -- prediction --

    def _output(self, X: Array, layers: Layers, xp: Namespace) -> Array:
        """The network's output ``p``: softmax, logistic, identity or exp of the logits.

        On JAX the rows are padded to one of a few sizes (:func:`xpnet._drivers.row_bucket`)
        so that predicting on data sets of similar sizes reuses one compilation."""
        network = _network_output(self.activation, self.out_activation_, xp)
        n = X.shape[0]
        if not is_jax_namespace(xp) or n == 0 or _drivers.row_bucket(n) == n:
            return network(layers, X)
        output = network(layers, _drivers.pad_rows(X, _drivers.row_bucket(n), xp=xp))
        view = host_view(output)  # on the CPU, sliced without a compilation per size
        if view is not None:
            return _drivers.placed_like(view[:n], output, xp=xp)
        return output[:n, ...]

    def _predict_output(self, X: Any, method: str) -> tuple[Array, Namespace]:
        """Validated X and the output of the fitted network on it, in X's namespace."""
        check_is_fitted(self)
        X, xp = self._validate_X(X, reset=False)
        layers = self._layers()
        model_xp = array_namespace(self.coefs_[0])
        same_place = namespace_name(model_xp) == namespace_name(xp) and device(
            self.coefs_[0]
        ) == _place_of(X)
        if not same_place:
            if get_config().get("array_api_dispatch", False):
                raise ValueError(
                    f"Inputs passed to {type(self).__name__}.{method}() must use the same "
                    "namespace and the same device as those passed to fit(): the model was "
                    f"fitted on {namespace_name(model_xp)} ({device(self.coefs_[0])}), X is "
                    f"{namespace_name(xp)} ({_place_of(X)})."
                )
            # The estimator follows its input: the weights move to X's backend and device
            # (in float32 where that backend has no float64: JAX with x64 off).
            dtype = "float32" if is_jax_namespace(xp) and not jax_x64_enabled() else None
            layers = tuple(
                Layer(*(asarray(a, backend=xp, device=_place_of(X), dtype=dtype) for a in layer))
                for layer in layers
            )
        if _drivers.is_sparse(X):
            X = X.astype(_numpy_dtype(xp, layers[0].W.dtype), copy=False)
        else:
            X = xp.astype(X, layers[0].W.dtype, copy=False)
        return self._output(X, layers, xp), xp

    # -- scikit-learn's tags --

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


def _pack(layers: Layers) -> np.ndarray:
    """Weights then intercepts, each raveled, in one float64 host vector (scikit-learn's)."""
    arrays = [to_numpy(layer.W).ravel() for layer in layers]
    arrays += [to_numpy(layer.b) for layer in layers]
    return np.concatenate(arrays).astype(np.float64)


def _stand_in(values: np.ndarray, y: Array) -> np.ndarray:
    """A few rows with the labels of Dask ``y`` (its distinct ``values``; 2-D: one row per
    value) whose scikit-learn target type is ``y``'s: what the label checks and the label
    binarizer are given in place of every label."""
    return values if y.ndim == 1 else np.repeat(values[:, None], y.shape[1], axis=1)


def _binarized(labels: np.ndarray, *, binarizer: LabelBinarizer, dtype: Any) -> np.ndarray:
    """The core's target rows of one chunk of labels (one-hot, or 0/1 indicators)."""
    result: np.ndarray = binarizer.transform(labels).astype(bool).astype(dtype)
    return result


def _target_rows(y: np.ndarray, *, dtype: Any) -> np.ndarray:
    """The core's target rows of one chunk of regression targets, checked finite."""
    rows = y.reshape(y.shape[0], -1).astype(dtype)
    check.check_finite(rows, "y", xp=_host_namespace())
    return rows


def _class_weights(labels: np.ndarray, *, classes: np.ndarray, weights: np.ndarray) -> Any:
    """The weight of each label's class (``classes`` sorted, as ``np.unique`` sorts)."""
    return weights[np.searchsorted(classes, labels)]


def _report_epoch(estimator: _BaseMLP, loss: float) -> None:
    """Call the private epoch hook (``python -m xpnet fit``'s progress bar), if one is set."""
    hook = getattr(estimator, "_epoch_callback", None)
    if hook is not None:
        hook(estimator.n_iter_, loss)


def _check_solver(estimator: _BaseMLP) -> bool:
    if estimator.solver not in _STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} "
            "is not stochastic."
        )
    return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's, on every array backend.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` (same parameters,
    defaults, methods and fitted attributes; see its documentation for each
    parameter): it trains on NumPy, PyTorch, JAX or array-api-strict inputs, keeps
    the arrays on their device, and gives scikit-learn's numbers for the same data
    and ``random_state``. Binary problems have one logistic output unit, multiclass
    ones a softmax, multilabel ones (an indicator ``y``) a logistic unit per label;
    the hidden layers compute ``h = g(h_prev W + b)``, the loss is the log-loss plus
    ``alpha / (2 n) sum ||W||^2``.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation ``g`` of the hidden layers.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        ``lbfgs`` runs :func:`scipy.optimize.minimize` on host float64 vectors, with
        the loss and gradient computed on the backend.
    alpha : float, default=1e-4
        Strength of the L2 penalty.
    batch_size : int or "auto", default="auto"
        Minibatch size of sgd and adam; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of sgd's rate.
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs (sgd, adam) or iterations (lbfgs).
    shuffle : bool, default=True
    random_state : None, int or numpy.random.RandomState, default=None
    tol : float, default=1e-4
    verbose : bool or int, default=False
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes, with LogisticRegression's meaning: the fit equals a fit with
        ``sample_weight = compute_sample_weight(class_weight, y)`` (times any
        ``sample_weight`` given). scikit-learn's MLP has no such parameter.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's constants.
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Loss evaluations of lbfgs at most.
    compile : {"auto", "none", "jit", "epoch"}, default="auto"
        How sgd and adam run their epochs, as for :func:`xpnet.train`. ``"auto"``: each
        epoch one compiled call on JAX (in padded shapes, so that cross-validation folds
        share one compilation), eager elsewhere; ``"jit"``: the step under ``jax.jit`` or
        ``torch.compile``; ``"none"``: eager everywhere. On torch the compiled step is
        opt-in: on a CPU it did not pay (a 17 s compilation; 60000 x 784 adam epochs
        within 5 % of eager, digits no faster, 2026-12-03), so try it on a GPU, where each
        eager operation costs a kernel launch. The numbers do not depend on it beyond
        rounding. scikit-learn's MLP has no such parameter.

    Attributes
    ----------
    classes_ : array of shape (n_classes,)
        NumPy for string labels, else in the input's library and on its device.
    coefs_, intercepts_ : list of arrays
        ``W`` (fan_in, fan_out) and ``b`` (fan_out,) of each layer, in the input's
        library, on its device, in its floating dtype.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_ :
        As scikit-learn's (Python floats).
    validation_loss_curve_ : list of float
        With ``early_stopping``: the loss on the held-out samples after each epoch.
    n_iter_, t_, n_layers_, n_outputs_, out_activation_, n_features_in_,
    feature_names_in_ :
        As scikit-learn's.

    Notes
    -----
    **Dask arrays** (row chunks of whole samples; ``y`` and ``sample_weight`` Dask with
    ``X``'s row chunks, or in memory): ``fit`` and ``partial_fit`` stream the chunks through
    the model, each read once per epoch, and keep ``coefs_`` and ``intercepts_`` on the host
    (NumPy); ``classes_`` comes from one pass over ``y``. With ``shuffle=False`` the fit
    equals the in-memory fit on the same rows; with ``shuffle=True`` each epoch visits the
    chunks, then the rows of each chunk, in an order drawn from ``random_state`` (as
    :func:`xpnet.train`), not scikit-learn's permutation of all rows (data in one chunk are
    shuffled in scikit-learn's order). ``early_stopping`` needs ``X_val``, ``y_val`` there;
    ``lbfgs`` runs full batch, one map-reduce over the chunks per evaluation.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> from xpnet import MLPClassifier
    >>> X = xp.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 5)
    >>> y = xp.asarray([0, 1, 1, 0] * 5)
    >>> clf = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> type(clf.predict(X)) is type(X), clf.coefs_[0].shape
    (True, (2, 8))

    On Dask arrays, chunk by chunk:

    >>> import dask.array as da
    >>> import numpy as np
    >>> X = da.from_array(np.asarray(X), chunks=(6, 2))
    >>> y = da.from_array(np.asarray(y), chunks=6)
    >>> clf = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> type(clf.coefs_[0]).__name__, clf.predict(X).chunks
    ('ndarray', ((6, 6, 6, 2),))
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        class_weight: Any = None,
        compile: str = "auto",
    ) -> None:
        self.class_weight = class_weight
        self.compile = compile
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> MLPClassifier:
        """Fit the model to ``X`` (n_samples, n_features) and labels ``y``.

        ``y``: class labels (n_samples,) of any kind, or a label indicator matrix
        (n_samples, n_classes) for multilabel problems. ``sample_weight`` (n_samples,)
        weighs each sample's loss. ``X_val``, ``y_val`` (and ``sample_weight_val``):
        validation rows of the user's own, HistGradientBoosting's names and meaning: after
        each epoch ``validation_scores_`` (accuracy) and ``validation_loss_curve_`` record
        the model on them, and with ``early_stopping=True`` the stopping rule uses them
        instead of holding out ``validation_fraction`` (on Dask ``X`` they are required
        for early stopping; Dask validation arrays are computed into memory once).
        ``X``, ``y``, ``sample_weight`` may be Dask arrays: see the class's notes.
        Returns ``self``.
        """
        return self._fit(
            X, y, sample_weight, incremental=False, validation=(X_val, y_val, sample_weight_val)
        )

    @available_if(_check_solver)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is required on the first
        call. Only for the stochastic solvers (sgd, adam). On a Dask array: one epoch over
        its chunks (on one chunk, the same as on its NumPy values), as dask-ml's
        ``Incremental`` calls it block by block."""
        if self._partial_fit_first_call(classes):
            self._label_binarizer = LabelBinarizer()
            if is_dask_array(y):  # the kind of labels, from their distinct values (1-D: one kind)
                y_host = _stand_in(distinct_values(y)[0], y) if y.ndim == 2 else np.zeros(0)
            else:
                y_host = _host_array(y, "y")
            if type_of_target(y_host).startswith("multilabel"):
                self._label_binarizer.fit(y_host)
            else:
                self._label_binarizer.fit(_host_array(classes, "classes"))
        return self._fit(X, y, sample_weight, incremental=True)

    def _partial_fit_first_call(self, classes: Any) -> bool:
        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        given = unique_labels(_host_array(classes, "classes"))
        if known is not None:
            if not np.array_equal(_host_array(known, "classes_"), given):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {known!r}"
                )
            return False
        self.classes_ = given
        return True

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _stratify(self) -> bool:
        return self.n_outputs_ == 1

    def _validate_data_for_fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, reset: bool
    ) -> _Data:
        on_backend = _on_backend(X)
        X, xp, y_host = self._validate_X_y(X, y, reset=reset, numeric=False)
        self._fit_labels(y_host, incremental)
        binarized = self._label_binarizer.transform(y_host).astype(bool)
        if self.class_weight is not None:
            # LogisticRegression's meaning: the fit with these sample weights
            with _named("class_weight"):
                class_weight = compute_sample_weight(self.class_weight, y_host)
            if sample_weight is not None:
                given = self._sample_weight(sample_weight, X, xp)[1]
                class_weight = class_weight * given
            sample_weight = class_weight
        weight, host_weight = self._sample_weight(sample_weight, X, xp)
        where = _place_of(X)
        # The core's target matrix: one-hot rows (softmax) or the 0/1 indicators (logistic).
        target = asarray(binarized.astype(_numpy_dtype(xp, X.dtype)), backend=xp, device=where)
        classes = self._label_binarizer.classes_
        numeric = classes.dtype.kind in "biuf"
        self.classes_ = (
            asarray(classes, backend=xp, device=where) if numeric and on_backend else classes
        )
        return _Data(X, target, weight, binarized, host_weight, xp)

    def _validate_dask_data_for_fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, reset: bool
    ) -> _Data:
        """Dask data: one pass over ``y`` (and the weights) for the distinct labels and
        their counts; the target rows and the class weights are then made chunk by chunk,
        by the label binarizer, as the chunks are read."""
        X, y = self._validate_dask_X_y(X, y, reset=reset)
        given, nonzero = self._dask_sample_weight(sample_weight, X)
        values, counts, nonzero = distinct_values(y, nonzero)
        _check_nonzero(nonzero)
        with _named("y"):
            labels = check_array(_stand_in(values, y), ensure_2d=False, dtype=None, input_name="y")
        self._fit_labels(labels, incremental)
        binarizer = self._label_binarizer
        dtype = X.dtype
        width = binarizer.transform(labels[:1]).shape[1]
        encode = functools.partial(_binarized, binarizer=binarizer, dtype=dtype)
        target = map_rows(y, encode, width=width, dtype=dtype)
        weight = given
        if self.class_weight is not None:
            if y.ndim == 2:
                raise ValueError(
                    "class_weight: on Dask arrays only for single-label y; pass the weights "
                    "as sample_weight, or fit on in-memory arrays"
                )
            # compute_sample_weight's weights, from the label counts (the same numbers)
            with _named("class_weight"):
                per_class = compute_class_weight(
                    self.class_weight, classes=values, y=values, sample_weight=counts
                )
            look_up = functools.partial(_class_weights, classes=values, weights=per_class)
            class_weight = map_rows(y, look_up, width=None, dtype=np.float64)
            weight = (class_weight if given is None else class_weight * given).astype(dtype)
        self.classes_ = binarizer.classes_  # the model lives on the host
        return _Data(X, target, weight, None, None, _host_namespace())

    def _fit_labels(self, y: np.ndarray, incremental: bool) -> None:
        """scikit-learn's rules: a new label binarizer on a fresh fit; with warm_start the
        same classes; with partial_fit no class outside the first call's ``classes``."""
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            return
        classes = unique_labels(y)
        known = self._label_binarizer.classes_
        if self.warm_start:
            if set(classes) != set(known):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {known}, `y` has {classes}"
                )
        elif len(np.setdiff1d(classes, known, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {known}. "
                f"'y' has {classes}."
            )

    def _label_indices(self, output: Array, xp: Namespace) -> Array:
        """Class indices (or the 0/1 indicator matrix for multilabel) of the outputs."""
        if self.out_activation_ == "softmax":
            return xp.argmax(output, axis=1)
        return xp.astype(output > 0.5, xp.int64)

    def _labels(self, output: Array, xp: Namespace) -> Any:
        """scikit-learn's ``LabelBinarizer.inverse_transform`` of the outputs: in the
        outputs' library and device, except non-numeric labels (NumPy)."""
        view = host_view(output)  # a JAX array on the CPU: decoded without compilations
        if view is not None:
            labels = self._labels(view, array_namespace(view))
            if self._label_binarizer.classes_.dtype.kind not in "biuf":
                return labels
            return _drivers.placed_like(labels, output, xp=xp)
        indices = self._label_indices(output, xp)
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return indices
        if self.out_activation_ == "logistic":
            indices = indices[:, 0]
        classes = self._label_binarizer.classes_
        if len(classes) == 1:
            indices = xp.zeros_like(indices)
        if classes.dtype.kind not in "biuf":
            return classes[to_numpy(indices)]
        return xp.take(asarray(classes, backend=xp, device=device(output)), indices, axis=0)

    def _host_score(
        self, output: np.ndarray, binarized: np.ndarray, weight: np.ndarray | None
    ) -> float:
        y_true = self._label_binarizer.inverse_transform(binarized)
        xp = array_namespace(output)
        y_pred = to_numpy(self._labels(output, xp))
        return float(accuracy_score(y_true, y_pred, sample_weight=weight))

    def predict(self, X: Any) -> Any:
        """Predicted labels (n_samples,), or the indicator matrix for multilabel; in X's
        library and on its device (NumPy for string labels)."""
        output, xp = self._predict_output(X, "predict")
        return self._labels(output, xp)

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities (n_samples, n_classes), in the order of ``classes_``."""
        output, xp = self._predict_output(X, "predict_proba")
        if self.n_outputs_ == 1:
            return xp.concat([1.0 - output, output], axis=1)
        return output

    def predict_log_proba(self, X: Any) -> Array:
        """``log(predict_proba(X))``."""
        output, xp = self._predict_output(X, "predict_log_proba")
        if self.n_outputs_ == 1:
            output = xp.concat([1.0 - output, output], axis=1)
        return xp.log(output)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy (scikit-learn's ``accuracy_score``, on the host)."""
        y_pred = _host_array(self.predict(X), "y_pred")
        y_true, weight = _score_inputs(y, sample_weight, n=y_pred.shape[0])
        return float(accuracy_score(y_true, y_pred, sample_weight=weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's, on every array backend.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`; the parameters and
    attributes are those of :class:`MLPClassifier` plus ``loss``:
    ``"squared_error"`` (identity output, half the squared error averaged over the
    outputs) or ``"poisson"`` (exp output, half the Poisson deviance). It fits on Dask
    arrays as :class:`MLPClassifier` does (see its notes).

    Examples
    --------
    >>> import array_api_strict as xp
    >>> from xpnet import MLPRegressor
    >>> X = xp.reshape(xp.linspace(-1.0, 1.0, 20), (20, 1))
    >>> y = 2.0 * X[:, 0] + 1.0
    >>> reg = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> reg.predict(X).shape, reg.score(X, y) > 0.99
    ((20,), True)
    """

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        compile: str = "auto",
    ) -> None:
        self.compile = compile
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _check_hyperparameters(self) -> list[int]:
        _check_options("loss", self.loss, ("squared_error", "poisson"))
        return super()._check_hyperparameters()

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> MLPRegressor:
        """Fit the model to ``X`` (n_samples, n_features) and targets ``y`` (n_samples,)
        or (n_samples, n_outputs); ``sample_weight`` (n_samples,). ``X_val``, ``y_val``
        (and ``sample_weight_val``): validation rows of the user's own, as for
        :meth:`MLPClassifier.fit` (the score is R^2). Dask arrays: chunk by chunk, as
        :meth:`MLPClassifier.fit`. Returns ``self``."""
        return self._fit(
            X, y, sample_weight, incremental=False, validation=(X_val, y_val, sample_weight_val)
        )

    @available_if(_check_solver)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X``, ``y`` (stochastic solvers only); on a Dask array, one
        epoch over its chunks."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _stratify(self) -> bool:
        return False

    def _validate_data_for_fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, reset: bool
    ) -> _Data:
        X, xp, y_host = self._validate_X_y(X, y, reset=reset, numeric=True)
        y_host = y_host.reshape(y_host.shape[0], -1)
        weight, host_weight = self._sample_weight(sample_weight, X, xp)
        dtype = _numpy_dtype(xp, X.dtype)
        target = asarray(y_host.astype(dtype), backend=xp, device=_place_of(X))
        return _Data(X, target, weight, y_host, host_weight, xp)

    def _validate_dask_data_for_fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, reset: bool
    ) -> _Data:
        """Dask data: the targets' values checked in the graph, chunk by chunk."""
        X, y = self._validate_dask_X_y(X, y, reset=reset)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y: regression targets must be numbers, got dtype {y.dtype}")
        weight, nonzero = self._dask_sample_weight(sample_weight, X)
        _check_nonzero(nonzero)
        rows = functools.partial(_target_rows, dtype=X.dtype)
        target = map_rows(y, rows, width=1 if y.ndim == 1 else y.shape[1], dtype=X.dtype)
        return _Data(X, target, weight, None, None, _host_namespace())

    def _host_score(
        self, output: np.ndarray, y_true: np.ndarray, weight: np.ndarray | None
    ) -> float:
        y_pred = output.ravel() if output.shape[1] == 1 else output
        if not np.isfinite(y_pred).all():
            return float("nan")
        return float(r2_score(y_true, y_pred, sample_weight=weight))

    def predict(self, X: Any) -> Array:
        """Predictions (n_samples,) or (n_samples, n_outputs), in X's library and device."""
        output, xp = self._predict_output(X, "predict")
        return output[:, 0] if output.shape[1] == 1 else output

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R^2 (scikit-learn's ``r2_score``, on the host)."""
        y_pred = _host_array(self.predict(X), "y_pred")
        y_true, weight = _score_inputs(y, sample_weight, n=y_pred.shape[0])
        return float(r2_score(y_true, y_pred, sample_weight=weight))
