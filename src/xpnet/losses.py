"""The canonical output losses: each pairs an output function with the loss whose gradient
with respect to the logits ``z`` is simply ``(output - target) / n``.

============================  ===============  ===================================  ==========
loss                          output(z)        per-sample loss L(z, t)              targets
============================  ===============  ===================================  ==========
``"cross_entropy"``           softmax          ``-sum_k t_k log softmax(z)_k``      labels
``"binary_cross_entropy"``    logistic         ``sum_k softplus(z_k) - t_k z_k``    0..1
``"squared_error"``           identity         ``sum_k (z_k - t_k)^2 / 2``          real
``"poisson"``                 exp              ``sum_k exp(z_k) - t_k z_k``         >= 0
============================  ===============  ===================================  ==========

Each loss is the negative log-likelihood of its output's distribution with the canonical
link, which is why ``dL/dz = output - t`` for all four (the derivation is in the docs, page
"Deeper networks and optimizers"). The mean over a batch divides by ``n`` (or, with sample
weights ``w``, weights each sample and divides by ``sum w``), so ``dJ/dz = w (output - t) /
sum w``. Written stably: ``log_softmax`` shifted by the row max, ``softplus(z) =
logaddexp(0, z)``, never ``log(0)``. Poisson's loss itself grows like ``exp(z)``: it is
finite while ``exp(z)`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace, is_dask_array
from ._kernels import (
    log_softmax,
    logistic,
    one_hot,
    one_hot_mask,
    row_sums,
    summed_loss,
    summed_loss_and_delta,
    total,
)
from ._typing import Array, Namespace

__all__ = ["LOSSES", "Loss", "loss_grad", "loss_value"]


# --- each loss: its (weighted) sum and its output, from one pass over z ----------------------


def _total(terms: Array, weights: Array | None, *, xp: Namespace) -> Array:
    """``sum_i w_i sum_k terms_ik``: one reduction of the whole matrix without weights, the
    weights' inner product with the row sums with them."""
    if weights is None:
        return total(terms, xp=xp)
    return xp.sum(weights * row_sums(terms, xp=xp)[:, 0])


def _cross_entropy(
    z: Array, target: Array, weights: Array | None, *, xp: Namespace
) -> tuple[Array, Array]:
    log_p = log_softmax(z, axis=1, xp=xp)
    return -_total(target * log_p, weights, xp=xp), xp.exp(log_p)


def _softmax(z: Array, *, xp: Namespace) -> Array:
    return xp.exp(log_softmax(z, axis=1, xp=xp))


def _binary_cross_entropy(
    z: Array, target: Array, weights: Array | None, *, xp: Namespace
) -> tuple[Array, Array]:
    # -t log sigma(z) - (1 - t) log(1 - sigma(z)) = softplus(z) - t z, and
    # softplus(z) = logaddexp(0, z) neither overflows nor takes log(0).
    softplus = xp.logaddexp(xp.zeros_like(z), z)
    return _total(softplus - target * z, weights, xp=xp), logistic(z, xp=xp)


def _squared_error(
    z: Array, target: Array, weights: Array | None, *, xp: Namespace
) -> tuple[Array, Array]:
    diff = z - target
    return _total(diff * diff, weights, xp=xp) / 2.0, z


def _identity(z: Array, *, xp: Namespace) -> Array:
    return z


def _poisson(
    z: Array, target: Array, weights: Array | None, *, xp: Namespace
) -> tuple[Array, Array]:
    # The negative log-likelihood of Poisson(exp(z)) without the log(t!) term, which does
    # not depend on z.
    mean = xp.exp(z)
    return _total(mean - target * z, weights, xp=xp), mean


def _exp(z: Array, *, xp: Namespace) -> Array:
    return xp.exp(z)


class Loss(NamedTuple):
    """An output loss: ``evaluate(z, target, weights, *, xp) -> (sum_i w_i L_i, output)``
    (``weights`` None: all ones) and ``output(z, *, xp)``, the output function alone.

    ``target`` is an ``(n, K)`` floating array (one-hot rows for cross-entropy), and the
    gradient of the summed loss with respect to ``z`` is ``output - target``.
    """

    name: str
    evaluate: Callable[..., tuple[Array, Array]]
    output_name: str
    labels: bool  # True: the targets are integer class labels (one-hot inside)
    output: Callable[..., Array]


#: The canonical losses, by name.
LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss("cross_entropy", _cross_entropy, "softmax", True, _softmax),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", _binary_cross_entropy, "logistic", False, logistic
    ),
    "squared_error": Loss("squared_error", _squared_error, "identity", False, _identity),
    "poisson": Loss("poisson", _poisson, "exp", False, _exp),
}


def get_loss(name: Any) -> Loss:
    """The :class:`Loss` called ``name``; a clear error for anything else."""
    if not isinstance(name, str):
        raise TypeError(f"loss: expected a name, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss: unknown loss {name!r}; use one of {sorted(LOSSES)}") from None


def output(z: Array, loss: Loss, *, xp: Namespace) -> Array:
    """The output function of ``loss`` applied to the logits."""
    if 0 in tuple(z.shape):  # no rows: nothing to reduce (Dask's max of nothing raises)
        return z + 0.0
    return loss.output(z, xp=xp)


# --- targets: checked once at the public boundary, then an (n, K) floating matrix ----------------


def target_matrix(
    y: Array, loss: Loss, *, n: int, num_outputs: int, dtype: Any, xp: Namespace, name: str = "y"
) -> Array:
    """Check ``y`` for ``loss`` and return the ``(n, K)`` target matrix in ``dtype``.

    Cross-entropy takes integer labels in ``[0, K)`` (one-hot here); the other losses take
    ``(n, K)`` arrays (``(n,)`` when ``K == 1``) of real numbers: in ``[0, 1]`` for binary
    cross-entropy, ``>= 0`` for Poisson. Integer or boolean targets are cast to ``dtype``.
    """
    if loss.labels:
        check.check_labels(y, name, n=n, num_classes=num_outputs, xp=xp, values=False)
        return label_matrix(y, num_outputs, dtype=dtype, xp=xp, name=name)
    check.check_array(y, name)
    if y.ndim == 1 and num_outputs == 1:
        y = xp.reshape(y, (-1, 1))
    if y.ndim != 2 or y.shape[0] != n or y.shape[1] != num_outputs:
        raise ValueError(
            f"{name}: {loss.name} needs targets of shape ({n}, {num_outputs}), "
            f"got {tuple(y.shape)}"
        )
    if xp.isdtype(y.dtype, ("integral", "bool")):
        y = xp.astype(y, dtype)
    elif not xp.isdtype(y.dtype, "real floating"):
        raise TypeError(f"{name}: expected real targets, got dtype {y.dtype}")
    elif y.dtype != dtype:
        raise TypeError(f"{name}: dtype {y.dtype} differs from the logits' {dtype}")
    check.check_finite(y, name, xp=xp)
    y = check.folded(y, check.check_finite, name=name)  # Dask: checked in the graph
    if loss.name == "binary_cross_entropy":
        bounds: dict[str, Any] = {"low": 0.0, "high": 1.0, "what": "targets"}
    elif loss.name == "poisson":
        bounds = {"low": 0.0, "high": None, "what": "Poisson targets"}
    else:
        return y
    check.check_value_range(y, name, **bounds, xp=xp)
    return check.folded(y, check.check_value_range, name=name, **bounds)


def label_matrix(
    y: Array, num_classes: int, *, dtype: Any, xp: Namespace, name: str = "y"
) -> Array:
    """The one-hot rows of labels ``y`` whose kind, rank and length are checked (see
    :func:`xpnet._validation.check_labels`), in ``dtype``; the values are checked here, on
    every call: one count over the one-hot matrix (in the graph on Dask)."""
    if is_dask_array(y):  # no values yet: checked in the graph, chunk by chunk
        y = check.folded(y, check.check_label_values, name=name, num_classes=num_classes)
        return one_hot(y, num_classes, dtype=dtype, xp=xp)
    hot = one_hot_mask(y, num_classes, xp=xp)
    check.check_one_hot_rows(hot, y, name, num_classes=num_classes, xp=xp)
    return xp.astype(hot, dtype)


def sample_weights(
    sample_weight: Array | None, *, n: int, dtype: Any, xp: Namespace
) -> Array | None:
    """Check ``sample_weight`` (1-D, length ``n``, finite, ``>= 0``, positive sum)."""
    if sample_weight is None:
        return None
    w = sample_weight
    check.check_array(w, "sample_weight")
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"sample_weight: expected shape ({n},) like the samples, got {tuple(w.shape)}"
        )
    if xp.isdtype(w.dtype, ("integral", "bool")):
        w = xp.astype(w, dtype)
    elif not xp.isdtype(w.dtype, "real floating"):
        raise TypeError(f"sample_weight: expected real weights, got dtype {w.dtype}")
    elif w.dtype != dtype:
        w = xp.astype(w, dtype)
    check.check_finite(w, "sample_weight", xp=xp)
    check.check_value_range(w, "sample_weight", low=0.0, high=None, what="weights", xp=xp)
    check.check_positive_total(w, "sample_weight", xp=xp)
    if is_dask_array(w):  # the same checks, in the graph
        from ._dask import checked_positive_total

        w = check.folded(w, check.check_finite, name="sample_weight")
        w = check.folded(
            w, check.check_value_range, name="sample_weight", low=0.0, high=None, what="weights"
        )
        w = checked_positive_total(w, name="sample_weight")
    return w


def _check_logits(z: Array, y: Array, sample_weight: Array | None, loss: Any) -> tuple:
    spec = get_loss(loss)
    # sample_weight=None means "no weights"; z and y must be arrays (None included).
    arrays, names = [z, y], ["z", "y"]
    if sample_weight is not None:
        arrays.append(sample_weight)
        names.append("sample_weight")
    xp = array_namespace(*arrays, names=tuple(names))
    check.check_floating(z, "z", ndim=2, xp=xp)
    check.check_nonempty(z, "z")
    n, k = z.shape
    if spec.labels:
        check.check_num_classes(int(k), "z.shape[1]")
    check.check_same_device(arrays, names)
    target = target_matrix(y, spec, n=n, num_outputs=k, dtype=z.dtype, xp=xp)
    weights = sample_weights(sample_weight, n=n, dtype=z.dtype, xp=xp)
    return spec, target, weights, xp


def loss_value(
    z: Array, y: Array, /, *, loss: str = "cross_entropy", sample_weight: Array | None = None
) -> Array:
    """The mean loss ``J = sum_i w_i L(z_i, y_i) / sum_i w_i`` of logits ``z``, a 0-D array.

    Parameters
    ----------
    z : array of shape (n, K)
        Logits.
    y : array
        Targets: integer labels ``(n,)`` for ``"cross_entropy"``, else ``(n, K)``.
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error", "poisson"}
    sample_weight : array of shape (n,), optional
        Non-negative weights; default all ones (the plain mean).

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> z = xp.asarray([[0.0], [2.0]])
    >>> xpnet.loss_value(z, xp.asarray([[1.0], [1.0]]), loss="squared_error")  # (1 + 1) / 2 / 2
    Array(0.5, dtype=array_api_strict.float64)
    """
    spec, target, weights, xp = _check_logits(z, y, sample_weight, loss)
    total, n_w = summed_loss(z, target, spec, weights=weights, xp=xp)
    return total / n_w


def loss_grad(
    z: Array, y: Array, /, *, loss: str = "cross_entropy", sample_weight: Array | None = None
) -> Array:
    """``dJ/dz = w (output(z) - target) / sum w``: the gradient of :func:`loss_value`.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> z = xp.asarray([[0.0], [0.0]])
    >>> xpnet.loss_grad(z, xp.asarray([[1.0], [0.0]]), loss="binary_cross_entropy")
    Array([[-0.25],
           [ 0.25]], dtype=array_api_strict.float64)
    """
    spec, target, weights, xp = _check_logits(z, y, sample_weight, loss)
    return summed_loss_and_delta(z, target, spec, weights=weights, xp=xp)[1]
