"""The array kernels that several modules share: the math of :mod:`xpnet.functional`'s
public functions without their checks, taking the namespace as ``xp=``.

:mod:`xpnet.functional` checks a call and runs these; :mod:`xpnet.losses` and the engine run
them directly, inside training steps that have checked their inputs once.
"""

from __future__ import annotations

from typing import Any

from ._compat import HOST_ONLY_TYPES, device
from ._typing import Array, Namespace

__all__ = [
    "classes",
    "log_softmax",
    "logistic",
    "one_hot",
    "one_hot_mask",
    "summed_loss",
    "summed_loss_and_delta",
]


def logistic(a: Array, *, xp: Namespace) -> Array:
    # 1 / (1 + exp(-a)) overflows exp for a << 0. As exp(-log(1 + e^-a)) with the stable
    # logaddexp(0, -a) = log(1 + e^-a) it never does, and it stays one smooth expression,
    # so autodiff oracles differentiate it correctly everywhere (no branch, no |a| kink).
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def log_softmax(z: Array, *, axis: int = -1, xp: Namespace) -> Array:
    if 0 in z.shape:  # no rows: nothing to normalize (Dask cannot take the max of none)
        return xp.zeros_like(z)
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def one_hot(y: Array, num_classes: int, *, dtype: Any, xp: Namespace) -> Array:
    return xp.astype(one_hot_mask(y, num_classes, xp=xp), dtype)


def one_hot_mask(y: Array, num_classes: int, *, xp: Namespace) -> Array:
    """``y[..., None] == arange(K)``: the one-hot rows as booleans."""
    return y[..., None] == classes(y, num_classes, xp=xp)


#: ``arange(K)`` for host labels, by ``(type, dtype, K)``: made once, never handed out.
_HOST_CLASSES: dict[tuple[Any, Any, int], Array] = {}


def classes(y: Array, num_classes: int, *, xp: Namespace) -> Array:
    """``arange(K)`` in the dtype and on the device of the labels ``y``."""
    if type(y) not in HOST_ONLY_TYPES:
        return xp.arange(num_classes, dtype=y.dtype, device=device(y))
    key = (type(y), y.dtype, num_classes)
    classes = _HOST_CLASSES.get(key)
    if classes is None:
        if len(_HOST_CLASSES) > 64:
            _HOST_CLASSES.clear()
        classes = _HOST_CLASSES[key] = xp.arange(num_classes, dtype=y.dtype)
    return classes


# --- a loss's sum and dJ/dz, for the network and xpnet.losses ---------------------------


def summed_loss(
    z: Array, target: Array, loss: Any, *, weights: Array | None, xp: Namespace
) -> tuple[Array, Any]:
    """``(sum_i w_i L_i, n_w)`` of an :class:`xpnet.losses.Loss`: the loss alone, no gradient."""
    total, _ = loss.evaluate(z, target, weights, xp=xp)
    return total, (z.shape[0] if weights is None else xp.sum(weights))


def summed_loss_and_delta(
    z: Array, target: Array, loss: Any, *, weights: Array | None, xp: Namespace
) -> tuple[Array, Array, Array, Any]:
    """``(sum_i w_i L_i, dJ/dz, output, n_w)``: the weighted summed loss, the gradient of the
    *mean* loss ``sum_i w_i L_i / n_w`` with respect to ``z``, the output, and ``n_w``
    (``n``, or ``sum w``)."""
    total, out = loss.evaluate(z, target, weights, xp=xp)
    delta = out - target  # made here: scaled in place, no second temporary
    if weights is None:
        n_w: Any = z.shape[0]
        delta /= n_w
        return total, delta, out, n_w
    n_w = xp.sum(weights)
    delta *= weights[:, None] / n_w
    return total, delta, out, n_w
