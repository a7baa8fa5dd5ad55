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
    "column_sums",
    "log_softmax",
    "logistic",
    "one_hot",
    "one_hot_mask",
    "row_max",
    "row_sums",
    "summed_loss",
    "summed_loss_and_delta",
    "total",
]


def logistic(a: Array, *, xp: Namespace) -> Array:
    # 1 / (1 + exp(-a)) overflows exp for a << 0. As exp(-log(1 + e^-a)) with the stable
    # logaddexp(0, -a) = log(1 + e^-a) it never does, and it stays one smooth expression,
    # so autodiff oracles differentiate it correctly everywhere (no branch, no |a| kink).
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def log_softmax(z: Array, *, axis: int = -1, xp: Namespace) -> Array:
    if 0 in z.shape:  # no rows: nothing to normalize (Dask cannot take the max of none)
        return xp.zeros_like(z)
    if z.ndim == 2 and axis in (1, -1):  # a batch of logits: the row reductions below
        shifted = z - row_max(z, xp=xp)
        return shifted - xp.log(row_sums(xp.exp(shifted), xp=xp))
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


# --- the reductions of a batch's matrices -----------------------------------------------------
#
# NumPy reduces along an axis with one strided loop per output element, and calls through
# Python wrappers (``np.sum`` -> ``_wrapreduction`` -> ``ufunc.reduce``): on the lecture's
# logits (150 x 3) a row max takes 6.8 us, a row or column sum 3.5-4 us, against 0.7 us for
# the same sum as a matrix product with a vector of ones (one BLAS call) and 1.7 us for the
# max as a running ``maximum`` over the columns; on a 256 x 256 float32 gradient the column
# sum takes 8.8 us and the product 2.9 us (measured on the 2-core machine of the benchmarks).
# So for host arrays these reductions are written with ``@`` and ``maximum``, both in the
# standard; the ones are made once per (type, dtype, length) and never handed out. Other
# backends reduce in one kernel (or trace), and keep the namespace's ``sum`` and ``max``.
# The products sum in another order than ``xp.sum``: the results agree to rounding.

#: Longest vector of ones kept per (type, dtype): longer sums use ``xp.sum``.
_MAX_ONES = 1 << 16
#: ``ones(n)`` for host arrays, by ``(type, dtype, n)``.
_HOST_ONES: dict[tuple[Any, Any, int], Array] = {}


def _host_ones(x: Array, n: int, *, xp: Namespace) -> Array | None:
    """A vector of ``n`` ones in the type and dtype of host array ``x``; ``None`` for other
    arrays and for vectors longer than ``_MAX_ONES``."""
    key = (type(x), x.dtype, n)
    ones = _HOST_ONES.get(key)
    if ones is None:  # kept only for host arrays, so a key found is one of a host array
        if type(x) not in HOST_ONLY_TYPES or n > _MAX_ONES:
            return None
        if len(_HOST_ONES) > 64:
            _HOST_ONES.clear()
        ones = _HOST_ONES[key] = xp.ones(n, dtype=x.dtype)
    return ones


def column_sums(x: Array, *, xp: Namespace) -> Array:
    """``sum(x, axis=0)`` of a matrix: shape ``(K,)``."""
    ones = _host_ones(x, x.shape[0], xp=xp)
    return xp.sum(x, axis=0) if ones is None else ones @ x


def row_sums(x: Array, *, xp: Namespace) -> Array:
    """``sum(x, axis=1, keepdims=True)`` of a matrix: shape ``(n, 1)``."""
    ones = _host_ones(x, x.shape[1], xp=xp)
    return xp.sum(x, axis=1, keepdims=True) if ones is None else (x @ ones)[:, None]


def total(x: Array, *, xp: Namespace) -> Array:
    """``sum(x)`` of a matrix: a 0-D array."""
    n, k = x.shape
    across, down = _host_ones(x, k, xp=xp), _host_ones(x, n, xp=xp)
    if across is None or down is None:
        return xp.sum(x)
    return down @ (x @ across)  # the row sums, then their sum


def row_max(x: Array, *, xp: Namespace) -> Array:
    """``max(x, axis=1, keepdims=True)`` of a matrix with at least one column: ``(n, 1)``.

    For host arrays of a few columns and many rows (logits), the running maximum over the
    columns, which NaN propagates through as through ``max``."""
    n, k = x.shape
    if type(x) not in HOST_ONLY_TYPES or not (k <= 24 and n >= 8 * k):
        return xp.max(x, axis=1, keepdims=True)
    largest = x[:, 0]
    for j in range(1, k):
        largest = xp.maximum(largest, x[:, j])
    return largest[:, None]


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
