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
and device (a pytree), and ``step`` is pure, so ``jax.jit(opt.step)`` works. Training with
them runs in the engine (:mod:`xpnet._engine`), which :func:`xpnet.train` and the estimators
share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace, device
from ._rng import epoch_orders
from ._typing import Array, Namespace, Params, layer_arrays, named_leaves, tree_map, tree_map_many

__all__ = [
    "SGD",
    "Adam",
    "AdamState",
    "SGDState",
    "constant_lr",
    "inverse_time_lr",
    "minibatches",
    "sgd_step",
]

Schedule = Callable[[int], float]


# --- parameters as trees: Params, a tuple of Layer, and states that mirror them ---------------


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
    p_arrays, g_arrays = layer_arrays(params), layer_arrays(grads)
    if p_arrays is None or g_arrays is None:
        return None
    signature = check.host_signature([*p_arrays, *g_arrays])
    return None if signature is None else (type(params), other, len(p_arrays), *signature)


def _check_pair_structure(params: Any, grads: Any, other: str) -> Namespace:
    p_arrays, p_names = named_leaves(params, "params")
    g_arrays, g_names = named_leaves(grads, other)
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
    if type(params) is Params and not donate:  # the lecture's step: no function per array
        return Params(*[p - lr * g for p, g in zip(params, grads)])
    if donate:
        return tree_map(lambda p, g: _minus(p, lr * g, True), params, grads)
    return tree_map(lambda p, g: p - lr * g, params, grads)


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
        pair = _pair_key(params, grads, "grads")
        last = self.__dict__.get("_last_step")
        if pair is not None and last is not None and last[0] is state and last[1] == pair:
            xp = last[2]  # the state this optimizer's last step returned, for these params
        else:
            xp = _check_pair(params, grads)
            self._check_state(params, state)
        rate = self.lr if lr is None else lr
        _check_lr(rate)
        new_params, new_state = self._step(params, grads, state, rate, xp=xp)
        if pair is not None:
            # The new state mirrors params of this signature: the next step, on params and
            # grads of the same signature with this very state, need not check it again.
            # Kept for host arrays only (a reference, not a copy; left out of pickles).
            object.__setattr__(self, "_last_step", (new_state, pair, xp))
        return new_params, new_state

    def __getstate__(self) -> dict[str, Any]:
        """The fields alone: the last step's state is no part of an optimizer's value."""
        return {k: v for k, v in self.__dict__.items() if k != "_last_step"}

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

    return tree_map(zeros, params)


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

        new_velocity = tree_map(lambda v, g: velocity(v, g, donate), state.velocity, grads)
        if self.nesterov:  # the step mu v' - lr g: the velocity rule once more, a new array
            update = tree_map(lambda v, g: velocity(v, g, False), new_velocity, grads)
            new_params = tree_map(lambda p, u: _plus(p, u, donate), params, update)
        else:  # the step is the velocity itself, which the new state keeps
            new_params = tree_map(lambda p, v: _add(p, v, donate), params, new_velocity)
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
        first = named_leaves(params)[0][0]
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
        first = named_leaves(params)[0][0]
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
        t, neg_rate = self._count(state, lr, xp=xp)

        # Augmented operators finish each array as soon as it is made (and, donated, write
        # into the state and the parameters): a new array per moment and two per parameter
        # instead of one per operation. On NumPy and torch every large temporary costs an
        # allocation and page faults, more than the arithmetic itself.
        def update(p: Array, g: Array, m: Array, s: Array) -> tuple[Array, Array, Array]:
            m = _minus(m, g, donate)  # b1 m + (1 - b1) g, as b1 (m - g) + g
            m *= b1
            m += g
            squares = _times(g, g, donate)  # a donated gradient is not needed after this
            s = _minus(s, squares, donate)  # b2 s + (1 - b2) g^2, as b2 (s - g^2) + g^2
            s *= b2
            s += squares
            root = xp.sqrt(s)  # p - rate m / (sqrt(s) + eps)
            root += eps
            step = m * neg_rate
            step /= root
            return _plus(p, step, donate), m, s

        # one pass over the leaves: each parameter with its gradient and moments
        new_params, m, s = tree_map_many(update, params, grads, state.m, state.s)
        return new_params, AdamState(t, m, s)

    def _count(self, state: AdamState, lr: Any, *, xp: Namespace) -> tuple[Array, Array]:
        """``(t + 1, -rate)``: the step count after this step and minus its rate, the bias
        correction folded in: ``lr sqrt(1 - beta2^t) / (1 - beta1^t)``."""
        t = state.t + 1.0
        return t, -(lr * xp.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t))


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


def as_schedule(lr: float | Schedule) -> Schedule:
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
