"""Optimizers and training: ``theta <- theta - eta_t g`` (the lecture's SGD), momentum,
Nesterov and Adam, full-batch, minibatch or one sample.

The update rules are scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``),
so that :class:`xpnet.MLPClassifier` gives its numbers; with ``v`` the velocity, ``mu`` the
momentum and ``g`` the gradient::

    SGD:       theta <- theta - lr g                          (momentum 0: the lecture's step)
    momentum:  v <- mu v - lr g;   theta <- theta + v
    Nesterov:  v <- mu v - lr g;   theta <- theta + mu v - lr g
    Adam:      m <- b1 m + (1 - b1) g;   s <- b2 s + (1 - b2) g^2;   t <- t + 1
               theta <- theta - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps)

Constant-rate momentum equals ``torch.optim.SGD(momentum=mu)`` (whose buffer is ``-v / lr``);
Adam equals ``torch.optim.Adam`` and ``optax.adam`` when ``eps = 0`` (they add ``eps`` to the
*bias-corrected* ``sqrt(s / (1 - b2^t))``, scikit-learn to the uncorrected one).

Optimizers are immutable; their state is a NamedTuple of arrays on the parameters' backend
and device (a pytree), and ``step`` is pure, so ``jax.jit(opt.step)`` works. The training
step is generic Array-API code; only how it is driven (``jax.jit`` on JAX) differs per
backend, in :mod:`xpnet._drivers`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace, device, is_dask_array
from ._dask import check_chunks, check_known_chunks, chunk_orders
from ._drivers import epoch_runner, read_back
from ._rng import epoch_orders
from ._sharding import data_parallel, replicate, sharded_step
from .functional import _one_hot
from .losses import LOSSES
from .mlp import Params, _check_model, _layer_arrays, _leaves, _like, _loss_sum_and_grad

__all__ = [
    "SGD",
    "Adam",
    "AdamState",
    "History",
    "SGDState",
    "constant_lr",
    "inverse_time_lr",
    "minibatches",
    "sgd_step",
    "train",
]

Array = Any
Namespace = Any
Schedule = Callable[[int], float]


# --- parameters as trees: Params, a tuple of Layer, and states that mirror them ---------------


def _tree_map(fn: Callable[..., Array], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf to trees of one structure (Params, Layer, tuples)."""
    if type(tree) is Params:  # the lecture's four arrays: no recursion
        return Params(*[fn(*leaves) for leaves in zip(tree, *rest)])
    if isinstance(tree, tuple):
        mapped = [_tree_map(fn, *items) for items in zip(tree, *rest)]
        return type(tree)(*mapped) if hasattr(tree, "_fields") else tuple(mapped)
    return fn(tree, *rest)


def _check_pair(params: Any, grads: Any, other: str = "grads") -> Namespace:
    """``params`` and ``grads`` (or a state part) are trees of one structure whose arrays
    agree in backend, shape, dtype and device; return their namespace (the verdict is
    remembered for host arrays, see :class:`xpnet._validation.Verdicts`)."""
    key = _pair_key(params, grads, other)
    xp = _PAIR_VERDICTS.get(key)
    if xp is None:
        xp = _PAIR_VERDICTS.put(key, _check_pair_structure(params, grads, other))
    return xp


_PAIR_VERDICTS = check.Verdicts()


def _pair_key(params: Any, grads: Any, other: str) -> tuple[Any, ...] | None:
    if type(params) is not type(grads):
        return None
    p_arrays, g_arrays = _layer_arrays(params), _layer_arrays(grads)
    if p_arrays is None or g_arrays is None:
        return None
    signature = check.host_signature([*p_arrays, *g_arrays])
    return None if signature is None else (type(params), other, len(p_arrays), *signature)


def _check_pair_structure(params: Any, grads: Any, other: str) -> Namespace:
    p_arrays, p_names = _leaves(params, "params")
    g_arrays, g_names = _leaves(grads, other)
    if len(p_arrays) != len(g_arrays):
        raise ValueError(f"{other}: has {len(g_arrays)} arrays but params has {len(p_arrays)}")
    xp = array_namespace(*p_arrays, *g_arrays, names=(*p_names, *g_names))
    for p_name, g_name, p, g in zip(p_names, g_names, p_arrays, g_arrays):
        check.check_floating(p, p_name, xp=xp)  # g: an array (array_namespace), p's dtype below
        if tuple(p.shape) != tuple(g.shape):
            raise ValueError(f"{g_name}: shape {tuple(g.shape)} differs from {tuple(p.shape)}")
        if g.dtype != p.dtype:
            raise TypeError(f"{g_name}: dtype {g.dtype} differs from {p_name}'s {p.dtype}")
    check.check_same_device([*p_arrays, *g_arrays], [*p_names, *g_names])
    return xp


def _check_lr(lr: Any, name: str = "lr") -> None:
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) or hasattr(lr, "shape")):
        raise TypeError(f"{name}: expected a number or a 0-D array, got {type(lr).__name__}")
    if isinstance(lr, (int, float)) and not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"{name}: the learning rate must be finite and >= 0, got {lr}")
    if hasattr(lr, "shape") and tuple(lr.shape) != ():
        raise ValueError(f"{name}: expected a 0-D array, got shape {tuple(lr.shape)}")


def sgd_step(params: Any, grads: Any, lr: float | Array, /) -> Any:
    """One SGD update, ``theta - lr * g`` for every array, as new parameters of the same form.

    Nothing is written in place: the old parameters stay as they were.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> params = xpnet.Params(*(xp.ones(2) for _ in range(4)))
    >>> xpnet.sgd_step(params, params, 0.5).W1
    Array([0.5, 0.5], dtype=array_api_strict.float64)
    """
    _check_pair(params, grads)
    _check_lr(lr)
    return _sgd_step(params, grads, lr)


def _sgd_step(params: Any, grads: Any, lr: float | Array, *, donate: bool = False) -> Any:
    if donate:
        return _tree_map(lambda p, g: _minus(p, lr * g, True), params, grads)
    return _tree_map(lambda p, g: p - lr * g, params, grads)


# --- donation: a driver that owns the arrays lets the step write into them -------------------
#
# The optimizers are pure: ``step`` returns new arrays and leaves its arguments as they were.
# A driver that made the parameters, the gradients and the state itself and drops them after
# the step (the eager loops of ``train`` and of the estimators, from the second step of an
# epoch on, when nobody else has seen them) may *donate* them, as
# ``jax.jit(donate_argnums=...)`` does: the step then writes its results (and its scratch work,
# in the gradients) into them with augmented operators instead of allocating new arrays.
# The arithmetic is the same operation for operation, so the results are identical; only
# where they are written differs. JAX's and Dask's arrays have no in-place operators:
# there the same lines make new arrays, as without donation.


def _minus(a: Array, b: Array, donate: bool) -> Array:
    """``a - b``, written into ``a`` when it is donated."""
    if donate:
        a -= b
        return a
    return a - b


def _add(a: Array, b: Array, donate: bool) -> Array:
    """``a + b``, written into ``a`` when it is donated."""
    if donate:
        a += b
        return a
    return a + b


def _plus(a: Array, temporary: Array, donate: bool) -> Array:
    """``a + temporary``, written into ``a`` when it is donated, else into ``temporary``
    (an array the caller has just made and holds alone)."""
    if donate:
        a += temporary
        return a
    temporary += a
    return temporary


# --- the optimizers ----------------------------------------------------------------------------


class SGDState(NamedTuple):
    """The state of :class:`SGD`: the velocity (same form as the parameters), or ``()``
    without momentum."""

    velocity: Any


class AdamState(NamedTuple):
    """The state of :class:`Adam`: the step count ``t`` (a 0-D array) and the first and
    second moment estimates ``m``, ``s`` (same form as the parameters)."""

    t: Array
    m: Any
    s: Any


class _Optimizer:
    lr: float

    def init(self, params: Any, /) -> Any:
        """The initial state for ``params``: zeros of their backend, dtype and device."""
        _check_pair(params, params)
        return self._init(params)

    def step(
        self, params: Any, grads: Any, state: Any, /, *, lr: float | Array | None = None
    ) -> tuple[Any, Any]:
        """One update: ``(new params, new state)``; ``lr`` overrides ``self.lr`` for this
        step (a float or a 0-D array, so a schedule does not recompile a jitted step)."""
        xp = _check_pair(params, grads)
        self._check_state(params, state)
        rate = self.lr if lr is None else lr
        _check_lr(rate)
        return self._step(params, grads, state, rate, xp=xp)

    def _init(self, params: Any) -> Any:
        raise NotImplementedError

    def _check_state(self, params: Any, state: Any) -> None:
        raise NotImplementedError

    def _step(
        self, params: Any, grads: Any, state: Any, lr: Any, *, xp: Namespace, donate: bool = False
    ) -> Any:
        """The update without checks; ``donate``: ``params``, ``grads`` and ``state`` may be
        written into (see :func:`_minus`)."""
        raise NotImplementedError


def _zeros_like(params: Any) -> Any:
    def zeros(p: Array) -> Array:
        return array_namespace(p).zeros_like(p)

    return _tree_map(zeros, params)


@dataclass(frozen=True)
class SGD(_Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, scikit-learn's rule.

    Parameters
    ----------
    lr : float
        The learning rate (``learning_rate_init`` in scikit-learn).
    momentum : float in [0, 1)
        ``mu``; 0 is the lecture's plain step and keeps no state.
    nesterov : bool
        Nesterov's momentum (needs ``momentum > 0`` to differ).

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> opt = xpnet.optim.SGD(0.1, momentum=0.9)
    >>> params = (xpnet.Layer(xp.ones((2, 1)), xp.zeros(1)),)
    >>> state = opt.init(params)
    >>> params, state = opt.step(params, params, state)   # g = params, v = -0.1 g
    >>> params[0].W
    Array([[0.9],
           [0.9]], dtype=array_api_strict.float64)
    """

    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check.check_real(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"nesterov: expected a bool, got {type(self.nesterov).__name__}")

    def _init(self, params: Any) -> SGDState:
        return SGDState(_zeros_like(params) if self.momentum else ())

    def _check_state(self, params: Any, state: Any) -> None:
        if not isinstance(state, SGDState):
            raise TypeError(
                f"state: expected an SGDState (opt.init(params)), got {type(state).__name__}"
            )
        if self.momentum:
            _check_pair(params, state.velocity, "state.velocity")
        elif state.velocity != ():
            raise ValueError("state: a velocity was given but momentum is 0")

    def _step(
        self,
        params: Any,
        grads: Any,
        state: SGDState,
        lr: Any,
        *,
        xp: Namespace = None,
        donate: bool = False,
    ) -> tuple[Any, SGDState]:
        mu = self.momentum
        if not mu:
            return _sgd_step(params, grads, lr, donate=donate), state

        def velocity(v: Array, g: Array, into: bool) -> Array:  # mu v - lr g
            new = _times(v, mu, into)
            new -= lr * g
            return new

        new_velocity = _tree_map(lambda v, g: velocity(v, g, donate), state.velocity, grads)
        if self.nesterov:  # the step mu v' - lr g: the velocity rule once more, a new array
            update = _tree_map(lambda v, g: velocity(v, g, False), new_velocity, grads)
            new_params = _tree_map(lambda p, u: _plus(p, u, donate), params, update)
        else:  # the step is the velocity itself, which the new state keeps
            new_params = _tree_map(lambda p, v: _add(p, v, donate), params, new_velocity)
        return new_params, SGDState(new_velocity)


def _times(a: Array, c: Any, donate: bool) -> Array:
    """``c * a``, written into ``a`` when it is donated."""
    if donate:
        a *= c
        return a
    return c * a


@dataclass(frozen=True)
class Adam(_Optimizer):
    """Adam (Kingma and Ba), scikit-learn's rule: ``eps`` is added to the uncorrected
    ``sqrt(s)`` and the bias correction folded into the rate.

    Parameters
    ----------
    lr : float
        The learning rate.
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float >= 0
        Added to ``sqrt(s)`` for numerical stability.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> opt = xpnet.optim.Adam(0.1)
    >>> params = (xpnet.Layer(xp.ones((2, 1)), xp.zeros(1)),)
    >>> params, state = opt.step(params, params, opt.init(params))
    >>> params[0].W  # the first step moves each weight by about lr
    Array([[0.9],
           [0.9]], dtype=array_api_strict.float64)
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        check.check_real(self.beta1, "beta1", low=0.0, high=1.0, high_open=True)
        check.check_real(self.beta2, "beta2", low=0.0, high=1.0, high_open=True)
        check.check_real(self.eps, "eps", low=0.0)

    def _init(self, params: Any) -> AdamState:
        first = _leaves(params)[0][0]
        xp = array_namespace(first)
        t = xp.zeros((), dtype=first.dtype, device=device(first))
        return AdamState(t, _zeros_like(params), _zeros_like(params))

    def _check_state(self, params: Any, state: Any) -> None:
        if not isinstance(state, AdamState):
            raise TypeError(
                f"state: expected an AdamState (opt.init(params)), got {type(state).__name__}"
            )
        _check_pair(params, state.m, "state.m")
        _check_pair(params, state.s, "state.s")
        first = _leaves(params)[0][0]
        check.check_array(state.t, "state.t")
        if tuple(state.t.shape) != () or state.t.dtype != first.dtype:
            raise TypeError(
                f"state.t: expected a 0-D array of dtype {first.dtype}, got shape "
                f"{tuple(state.t.shape)} and dtype {state.t.dtype}"
            )
        array_namespace(first, state.t, names=("params", "state.t"))
        check.check_same_device([first, state.t], ["params", "state.t"])

    def _step(
        self,
        params: Any,
        grads: Any,
        state: AdamState,
        lr: Any,
        *,
        xp: Namespace,
        donate: bool = False,
    ) -> tuple[Any, AdamState]:
        b1, b2, eps = self.beta1, self.beta2, self.eps
        t = state.t + 1.0
        neg_rate = -(lr * xp.sqrt(1.0 - b2**t) / (1.0 - b1**t))

        # Augmented operators finish each array as soon as it is made (and, donated, write
        # into the state and the parameters): a new array per moment and two per parameter
        # instead of one per operation. On NumPy and torch every large temporary costs an
        # allocation and page faults, more than the arithmetic itself.
        def first(m: Array, g: Array) -> Array:  # b1 m + (1 - b1) g, as b1 (m - g) + g
            new = _minus(m, g, donate)
            new *= b1
            new += g
            return new

        def second(s: Array, g: Array) -> Array:  # b2 s + (1 - b2) g^2, as b2 (s - g^2) + g^2
            squares = _times(g, g, donate)  # a donated gradient is not needed after this
            new = _minus(s, squares, donate)
            new *= b2
            new += squares
            return new

        def update(p: Array, m: Array, s: Array) -> Array:  # p - rate m / (sqrt(s) + eps)
            root = xp.sqrt(s)
            root += eps
            step = m * neg_rate
            step /= root
            return _plus(p, step, donate)

        m = _tree_map(first, state.m, grads)
        s = _tree_map(second, state.s, grads)
        return _tree_map(update, params, m, s), AdamState(t, m, s)


Optimizer = SGD | Adam


# --- learning-rate schedules ----------------------------------------------------------------


@dataclass(frozen=True)
class constant_lr:
    """``eta_t = lr`` for every step ``t``.

    Examples
    --------
    >>> from xpnet.optim import constant_lr
    >>> constant_lr(0.1)(1000)
    0.1
    """

    lr: float

    def __post_init__(self) -> None:
        check.check_real(self.lr, "lr", low=0.0)

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class inverse_time_lr:
    """The decreasing schedule ``eta_t = lr / (1 + decay * t)``, ``t = 0, 1, 2, ...`` steps.

    Its steps sum to infinity while their squares do not, the classic condition
    under which SGD converges.

    Examples
    --------
    >>> from xpnet.optim import inverse_time_lr
    >>> schedule = inverse_time_lr(0.5, decay=1.0)
    >>> schedule(0), schedule(1), schedule(3)
    (0.5, 0.25, 0.125)
    """

    lr: float
    decay: float = 0.01

    def __post_init__(self) -> None:
        check.check_real(self.lr, "lr", low=0.0)
        check.check_real(self.decay, "decay", low=0.0)

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.decay * t)


def _as_schedule(lr: float | Schedule) -> Schedule:
    if callable(lr):
        schedule = lr

        def checked(t: int) -> float:
            rate = schedule(t)
            _check_lr(rate)  # a schedule that returns junk is named, not met deep in a step
            return rate

        return checked
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise TypeError(f"lr: expected a number or a schedule t -> eta_t, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr: the learning rate must be finite and >= 0, got {lr}")
    return constant_lr(float(lr))


# --- minibatches ---------------------------------------------------------------------------


def minibatches(
    n: int, batch_size: int | None = None, *, seed: int = 0, shuffle: bool = True
) -> Iterator[list[Any]]:
    """The sample indices of each epoch's minibatches, as NumPy arrays, epoch after epoch.

    Drawn on the host from ``seed``, so every backend sees the same order. The
    last batch of an epoch may be smaller. ``batch_size=None`` is full-batch.

    Examples
    --------
    >>> from xpnet.optim import minibatches
    >>> epochs = minibatches(5, 2, shuffle=False)
    >>> [b.tolist() for b in next(epochs)]
    [[0, 1], [2, 3], [4]]
    """
    n = check.check_positive_int(n, "n")
    size = n if batch_size is None else check.check_positive_int(batch_size, "batch_size")
    check.check_seed(seed)
    check.check_bool(shuffle, "shuffle")
    return _minibatches(n, size, seed=seed, shuffle=shuffle)  # checked now, not at next()


def _minibatches(n: int, size: int, *, seed: int, shuffle: bool) -> Iterator[list[Any]]:
    for order in epoch_orders(n, seed=seed, shuffle=shuffle):
        yield [order[start : start + size] for start in range(0, n, size)]


# --- training ------------------------------------------------------------------------------


@dataclass
class History:
    """What :func:`train` saw, one entry per epoch.

    ``loss`` and ``accuracy`` are the means over the epoch's minibatches, each
    measured before its update (as scikit-learn's ``loss_curve_``); ``lr`` is the
    last learning rate of the epoch; ``seconds`` the wall time of the epoch (where a
    compiled driver runs several full-batch epochs in one call, their mean).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)


@dataclass(frozen=True)
class _TrainStep:
    """One optimizer step on a batch, the generic function every driver runs:
    ``step((layers, state), X, y, lr, *, xp, e_y=None) -> ((layers, state), loss_sum, hits)``.

    Hashable by value (the optimizer's own ``lr`` is zeroed: the rate comes in per step), so
    the compiled drivers reuse their compilations across ``train`` calls. ``y`` is the labels
    (cross-entropy) or the target rows; ``e_y`` the one-hot rows when a driver keeps them.
    """

    optimizer: Any
    activation: str = "relu"
    loss: str = "cross_entropy"
    alpha: float = 0.0

    def __call__(
        self,
        carry: Any,
        X: Array,
        y: Array,
        lr: Any,
        *,
        xp: Namespace,
        e_y: Array | None = None,
        donate: bool = False,
    ) -> tuple[Any, Array, Array]:
        layers, state = carry
        spec = LOSSES[self.loss]
        target = e_y
        if target is None:
            target = _one_hot(y, layers[-1].W.shape[1], dtype=X.dtype, xp=xp) if spec.labels else y
        result = _loss_sum_and_grad(
            X, target, layers, xp=xp, activation=self.activation, loss=spec, alpha=self.alpha
        )
        layers, state = self.optimizer._step(
            layers, grads=result.grads, state=state, lr=lr, xp=xp, donate=donate
        )
        return (layers, state), result.loss_sum, _hits(result.z, y, self.loss, xp=xp)

    def targets(self, carry: Any, X: Array, y: Array, *, xp: Namespace) -> Array | None:
        """The one-hot rows of all of ``y`` for cross-entropy (built once per ``train``), or
        None when there is nothing to hoist or it would outgrow the data."""
        if not LOSSES[self.loss].labels:
            return None
        n, d = X.shape
        k = carry[0][-1].W.shape[1]
        if n * k > max(n * d, 1 << 20):
            return None
        return _one_hot(y, k, dtype=X.dtype, xp=xp)


def _hits(z: Array, y: Array, loss: str, *, xp: Namespace) -> Array:
    """Correct predictions in the batch: the label (cross-entropy), every output of the row
    (binary cross-entropy: exact-match, as scikit-learn's multilabel accuracy); regression
    has none (a count over no rows, 0 in the same integer dtype)."""
    if loss == "cross_entropy":
        return xp.count_nonzero(xp.argmax(z, axis=1) == y)
    if loss == "binary_cross_entropy":
        return xp.count_nonzero(xp.all((z > 0) == (y > 0.5), axis=1))
    return xp.count_nonzero(z[:0, 0] > 0)


def train(
    X: Array,
    y: Array,
    params: Any,
    /,
    *,
    epochs: int = 100,
    lr: float | Schedule | None = None,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    progress: bool = False,
    callback: Callable[[int, Any, dict[str, float]], bool | None] | None = None,
    compile: str = "auto",
    optimizer: Optimizer | None = None,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    devices: Any = None,
) -> tuple[Any, History]:
    """Train the network; return the final parameters and the per-epoch history.

    With none of ``optimizer``, ``activation``, ``loss``, ``alpha`` given, this is the
    lecture's SGD on the cross-entropy of a ReLU network.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs, floating, finite.
    y : array
        Labels in ``[0, K)`` (cross-entropy), or ``(n, K)`` targets for the other losses.
    params : Params or tuple of Layer
        Initial parameters (see :func:`init_params`, :func:`init_layers`); never modified.
        The result has the same form.
    epochs : int
        Passes over the data.
    lr : float or callable, optional
        A constant learning rate, or a schedule ``t -> eta_t`` over steps
        (e.g. :class:`inverse_time_lr`). Default: the optimizer's ``lr`` (0.1 for the
        default plain SGD).
    batch_size : int, optional
        ``None``: full-batch gradient descent; ``1``: single-sample SGD; ``m``:
        minibatches of ``m`` samples (the last one may be smaller).
    shuffle : bool
        Draw a new sample order every epoch (from ``seed``, the same on every backend).
    seed : int
        Seed of the minibatch order.
    progress : bool
        Show a progress bar with the running loss and accuracy.
    callback : callable, optional
        ``callback(epoch, params, record)`` after each epoch; ``record`` holds
        ``loss``, ``accuracy``, ``lr``; returning True stops training.
    compile : {"auto", "none", "jit", "epoch"}
        How the generic step is driven; every mode gives the same results.
        ``"auto"``: the fastest for the backend (``"epoch"`` on JAX, eager elsewhere);
        ``"none"``: eagerly, one Python call per minibatch; ``"jit"``: each step
        compiled (``jax.jit`` on JAX, ``torch.compile`` on torch); ``"epoch"``: the
        whole epoch compiled into one ``jax.jit``-ed ``lax.scan`` over the minibatches,
        and full-batch epochs many at a time in one compiled loop (JAX; eager elsewhere).
    optimizer : SGD or Adam, optional
        The update rule; default ``SGD(lr)`` without momentum.
    activation, loss, alpha
        As for :func:`loss_and_grad`. For regression losses ``History.accuracy`` stays
        empty.
    devices : sequence of jax devices, int or jax.sharding.Mesh, optional
        JAX data parallelism: the samples of every batch split over these devices (the
        first ``N`` of ``jax.devices()`` for an int), the parameters replicated, the
        gradients all-reduced by XLA; the samples and the batch size must divide evenly.
        Data already sharded over several devices trains there without ``devices``.

    Notes
    -----
    On Dask arrays (row chunks holding whole samples), full-batch training runs each epoch
    as one map-reduce over the chunks and one ``persist``; with a ``batch_size`` the chunks
    are streamed to this process in a seeded order (chunks, then rows within a chunk)
    while the next one is computed. See the "Scaling out" guide.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict", seed=0)
    >>> params, history = xpnet.train(X, y, params, epochs=50, lr=0.5)
    >>> history.loss[-1] < history.loss[0]
    True
    """
    # the options first: their checks read no data, so a call with a bad option and bad
    # data fails on the option on every backend (Dask reads values only when computing)
    check.check_positive_int(epochs, "epochs", allow_zero=True)
    if batch_size is not None:
        check.check_positive_int(batch_size, "batch_size")
    check.check_seed(seed)
    check.check_bool(shuffle, "shuffle")
    check.check_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
    if lr is not None:
        schedule = _as_schedule(lr)
    if optimizer is None:
        optimizer = SGD(0.1 if lr is None or callable(lr) else lr)
    elif not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(
            f"optimizer: expected xpnet.optim.SGD or Adam, got {type(optimizer).__name__}"
        )
    if lr is None:
        schedule = _as_schedule(optimizer.lr)
    for name, array in (("X", X), ("y", y)):
        if is_dask_array(array):  # before the shape checks, which need the sizes
            check_known_chunks(array, name)
    X, y, params, devices = data_parallel(
        X, y, params, devices=devices, batch_size=batch_size, compile=compile
    )
    checked = _check_model(X, params, y, activation=activation, loss=loss, alpha=alpha)
    xp = checked.xp
    if is_dask_array(X):
        check_chunks(X, y)
    check.check_finite(X, "X", xp=xp)
    step = _TrainStep(
        dataclasses.replace(optimizer, lr=0.0),
        checked.activation.name,
        checked.loss.name,
        float(alpha),
    )
    run_epoch = epoch_runner(sharded_step(step, devices), xp, compile)
    classifier = checked.loss.output_name in ("softmax", "logistic")
    labels = y if checked.loss.labels else checked.target
    user_params = params
    params = replicate((checked.layers, optimizer._init(checked.layers)), devices)
    n = X.shape[0]
    size = n if batch_size is None or batch_size >= n else batch_size
    steps = -(-n // size)
    # Same draws as `minibatches`: one permutation per epoch, only when there is an order.
    orders: Iterator[Any] | None = None
    if shuffle and size < n:
        orders = epoch_orders(n, seed=seed, shuffle=True)
        if is_dask_array(X):  # streamed chunk by chunk: an order of chunks, then of rows
            orders = chunk_orders(X.chunks[0], seed=seed, shuffle=True)
    history = History()
    bar = _progress_bar(epochs, progress)
    # Unless a callback or the progress bar needs each epoch's numbers at once, the epoch
    # sums stay on the device and are read back together at the end: one transfer instead
    # of two per epoch (each a synchronisation on asynchronous backends such as JAX).
    pending: list[tuple[Array, Array]] | None = [] if callback is None and bar is None else None
    t = 0
    chunked = getattr(run_epoch, "full_batch_epochs", None)
    if chunked is not None and pending is not None and orders is None and size >= n:
        # Full batch, nobody watching each epoch, a compiling driver (JAX): many epochs per
        # compiled call. Each epoch is still one step on the whole batch, as below.
        chunk = run_epoch.full_batch_chunk  # type: ignore[attr-defined]
        for first in range(0, epochs, chunk):
            start = time.perf_counter()
            lrs = [schedule(t + i) for i in range(min(chunk, epochs - first))]
            params, loss_sums, hit_counts = chunked(params, X, labels, lrs)
            t += len(lrs)
            history.loss += [v / n for v in loss_sums]
            if classifier:
                history.accuracy += [v / n for v in hit_counts]
            history.lr += [float(v) for v in lrs]
            history.seconds += [(time.perf_counter() - start) / len(lrs)] * len(lrs)
        return _like(params[0], user_params), history
    loop_start = time.perf_counter()
    for epoch in range(epochs):
        start = time.perf_counter()
        order = None if orders is None else next(orders)
        lrs = [schedule(t + i) for i in range(steps)]
        params, loss_sum, hits = run_epoch(params, X, labels, order, size, lrs)
        t += steps
        history.lr.append(float(lrs[-1]))
        if pending is not None:
            pending.append((loss_sum, hits))
            history.seconds.append(time.perf_counter())  # a time stamp, made durations below
            continue
        record = {"loss": float(loss_sum) / n, "lr": history.lr[-1]}
        history.loss.append(record["loss"])
        if classifier:
            record["accuracy"] = float(hits) / n
            history.accuracy.append(record["accuracy"])
        history.seconds.append(time.perf_counter() - start)
        if bar is not None:
            shown = {"loss": f"{record['loss']:.4f}"}
            if classifier:
                shown["acc"] = f"{record['accuracy']:.3f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(1)
        if callback is not None and callback(epoch, _like(params[0], user_params), record):
            break
    if bar is not None:
        bar.close()
    if pending:
        loss_sums, hit_counts = (read_back(xp, column) for column in zip(*pending))
        history.loss = [v / n for v in loss_sums]
        history.accuracy = [v / n for v in hit_counts] if classifier else []
        history.seconds = _epoch_durations(
            loop_start,
            history.seconds,
            time.perf_counter(),
            pipelined=getattr(run_epoch, "pipelined", False),
        )
    return _like(params[0], user_params), history


def _epoch_durations(
    loop_start: float, returned: list[float], done: float, *, pipelined: bool
) -> list[float]:
    """Wall time of each epoch from the times its driver returned and the final read-back.

    A pipelined driver (JAX) returns from epoch ``k + 1`` once epoch ``k`` has finished, so
    epoch ``k`` ended when call ``k + 1`` returned, and the last one when the read-back did.
    """
    ends = [*returned[1:], done] if pipelined else [*returned[:-1], done]
    return [end - begin for begin, end in zip([loop_start, *ends[:-1]], ends)]


def _progress_bar(epochs: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="train", unit="epoch")
