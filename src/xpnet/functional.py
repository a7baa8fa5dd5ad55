"""The lecture's building blocks: ReLU, softmax, cross-entropy and their derivatives.

Written once against the Array API standard: the namespace comes from the inputs.
Public functions check their inputs and resolve ``xp``; the kernels (the ``_name``
helpers here, and :mod:`xpnet._kernels` for those other modules share) take ``xp`` as a
keyword and do only the math, so a training step can call them without paying for the
checks again.

The elementwise math checks kinds, never values: a NaN in the input propagates to
the output as it does in NumPy (``relu(nan)`` is ``nan``, a row of ``softmax``
holding a NaN is all NaN). The training and prediction functions refuse
non-finite inputs instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from . import _kernels as kernels
from . import _validation as check
from ._compat import array_namespace, device
from ._typing import Array, Namespace
from .backends import default_float_dtype, resolve_dtype

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "cross_entropy",
    "cross_entropy_grad",
    "get_activation",
    "log_softmax",
    "logistic",
    "one_hot",
    "relu",
    "relu_grad",
    "softmax",
]


# --- ReLU: h = relu(a) = max(0, a), relu'(a) = 1[a > 0] = 1[h > 0] -------------------------


def relu(x: Array, /) -> Array:
    """Rectified linear unit, elementwise ``max(0, x)`` (a pairwise op, not a reduction).

    ``x`` is a real floating array of any shape; NaN propagates (``relu(nan)`` is NaN).

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.relu(xp.asarray([-1.0, 0.0, 2.0]))
    Array([0., 0., 2.], dtype=array_api_strict.float64)
    """
    xp = array_namespace(x, names=("x",))
    check.check_floating(x, "x", xp=xp)
    return _relu(x, xp=xp)


def _relu(x: Array, *, xp: Namespace) -> Array:
    return xp.maximum(x, 0.0)  # a pairwise maximum against 0, not the reduction max


def relu_grad(x: Array, /) -> Array:
    """Derivative of ReLU, ``1.0 * (x > 0)``, in the dtype of ``x`` (0 at the kink).

    ``x`` may be the pre-activation or the activation ``relu(x)``: both are
    positive at the same places. A real floating array of any shape; NaN gives 0
    (``nan > 0`` is false).

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.relu_grad(xp.asarray([-1.0, 0.0, 2.0]))
    Array([0., 0., 1.], dtype=array_api_strict.float64)
    """
    xp = array_namespace(x, names=("x",))
    check.check_floating(x, "x", xp=xp)
    return _relu_from_output(x, xp=xp)  # positive where relu(x) is: one rule for both


# --- the hidden activations h = g(a), each with its derivative g'(a) beside it ---------------
#
# The derivative is written in terms of the activation's *output* h = g(a) (as scikit-learn
# does): backpropagation then needs only the h it kept from the forward pass, not a.


def _relu_from_output(h: Array, *, xp: Namespace) -> Array:
    return xp.astype(h > 0, h.dtype)  # relu'(a) = 1[a > 0] = 1[h > 0]; a mask multiply, not where


def _tanh(a: Array, *, xp: Namespace) -> Array:
    return xp.tanh(a)


def _tanh_from_output(h: Array, *, xp: Namespace) -> Array:
    return 1.0 - h * h  # tanh'(a) = 1 - tanh(a)^2


def _logistic_from_output(h: Array, *, xp: Namespace) -> Array:
    return h * (1.0 - h)  # sigma'(a) = sigma(a) (1 - sigma(a))


def _identity(a: Array, *, xp: Namespace) -> Array:
    return a


def _identity_from_output(h: Array, *, xp: Namespace) -> Array:
    return xp.ones_like(h)


class Activation(NamedTuple):
    """A hidden-layer activation ``h = forward(a)`` and its derivative ``grad(h) = g'(a)``."""

    name: str
    forward: Callable[..., Array]
    grad: Callable[..., Array]


#: scikit-learn's set of hidden activations, by name.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _relu_from_output),
    "tanh": Activation("tanh", _tanh, _tanh_from_output),
    "logistic": Activation("logistic", kernels.logistic, _logistic_from_output),
    "identity": Activation("identity", _identity, _identity_from_output),
}


def get_activation(name: Any) -> Activation:
    """The :class:`Activation` called ``name`` (``"relu"``, ``"tanh"``, ``"logistic"``,
    ``"identity"``).

    Examples
    --------
    >>> import array_api_strict as xp
    >>> from xpnet.functional import get_activation
    >>> tanh = get_activation("tanh")
    >>> h = tanh.forward(xp.asarray([0.0, 1.0]), xp=xp)
    >>> tanh.grad(h, xp=xp)  # 1 - tanh(a)^2
    Array([1.        , 0.41997434], dtype=array_api_strict.float64)
    """
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name, got {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation: unknown activation {name!r}; use one of {sorted(ACTIVATIONS)}"
        ) from None


def logistic(x: Array, /) -> Array:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, without overflow at +-1000.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.logistic(xp.asarray([-1000.0, 0.0, 1000.0]))
    Array([0. , 0.5, 1. ], dtype=array_api_strict.float64)
    """
    xp = array_namespace(x, names=("x",))
    check.check_floating(x, "x", xp=xp)
    return kernels.logistic(x, xp=xp)


# --- softmax and log-softmax, shifted by the row max ------------------------------------


def softmax(z: Array, /, *, axis: int = -1) -> Array:
    """``p = exp(z) / sum(exp(z))`` along ``axis``, stable for huge logits.

    Subtracting the max first changes nothing mathematically (softmax is
    shift-invariant) but keeps ``exp`` from overflowing.

    ``z`` is a real floating array of at least one dimension, and ``axis`` one of
    its axes of non-zero length (softmax over nothing raises ``ValueError`` on
    every backend). A NaN in ``z`` makes its whole slice along ``axis`` NaN.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.softmax(xp.asarray([[1000.0, 1000.0]]))
    Array([[0.5, 0.5]], dtype=array_api_strict.float64)
    """
    xp = array_namespace(z, names=("z",))
    check.check_floating(z, "z", xp=xp)
    axis = check.check_axis(axis, "axis", x=z, x_name="z")
    if 0 in tuple(z.shape):  # no slices at all: nothing to reduce (Dask's max would raise)
        return z + 0.0
    return _softmax(z, axis=axis, xp=xp)


def _softmax(z: Array, *, axis: int = -1, xp: Namespace) -> Array:
    if 0 in z.shape:  # no rows: nothing to normalize (Dask cannot take the max of none)
        return xp.zeros_like(z)
    exp = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return exp / xp.sum(exp, axis=axis, keepdims=True)


def log_softmax(z: Array, /, *, axis: int = -1) -> Array:
    """``log(softmax(z))`` computed as ``z - max - log(sum(exp(z - max)))``: never ``log(0)``.

    Same arguments as :func:`softmax`; a NaN in ``z`` makes its slice NaN.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.log_softmax(xp.asarray([[0.0, -1000.0]]))
    Array([[    0., -1000.]], dtype=array_api_strict.float64)
    """
    xp = array_namespace(z, names=("z",))
    check.check_floating(z, "z", xp=xp)
    axis = check.check_axis(axis, "axis", x=z, x_name="z")
    if 0 in tuple(z.shape):  # no slices at all: nothing to reduce (Dask's max would raise)
        return z + 0.0
    return kernels.log_softmax(z, axis=axis, xp=xp)


# --- one-hot: e_y by a broadcasting comparison, never eye[y] ----------------------------


def one_hot(y: Array, num_classes: int, /, *, dtype: Any = None) -> Array:
    """Rows ``e_y``: 1 at each label's position, 0 elsewhere, shape ``y.shape + (K,)``.

    Built as ``y[..., None] == arange(K)`` (broadcasting), which every backend has,
    instead of indexing an identity matrix with an integer array.

    Parameters
    ----------
    y : array of int
        Class labels in ``[0, num_classes)``, of any shape (a 0-D array is one label).
    num_classes : int
        ``K``, the number of classes.
    dtype : str or dtype, optional
        Output dtype; default: the namespace's default floating dtype.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> xpnet.one_hot(xp.asarray([0, 2]), 3)
    Array([[1., 0., 0.],
           [0., 0., 1.]], dtype=array_api_strict.float64)
    """
    xp = array_namespace(y, names=("y",))
    num_classes = check.check_num_classes(num_classes, "num_classes")
    check.check_integer_labels(y, "y", xp=xp)
    check.check_label_values(y, "y", num_classes=num_classes, xp=xp)
    y = check.folded(y, check.check_label_values, name="y", num_classes=num_classes)
    target = resolve_dtype(xp, dtype) or default_float_dtype(xp, device(y))
    return kernels.one_hot(y, num_classes, dtype=target, xp=xp)


# --- cross-entropy L(z, y) = -log softmax(z)_y and dJ/dz = (p - e_y) / n ------------------


def _check_logits_labels(z: Array, y: Array) -> Namespace:
    xp = array_namespace(z, y, names=("z", "y"))
    check.check_floating(z, "z", ndim=2, xp=xp)
    check.check_nonempty(z, "z")
    check.check_num_classes(z.shape[1], "z.shape[1]")
    check.check_same_device([z, y], ["z", "y"])  # before the label values are read
    check.check_labels(y, "y", n=z.shape[0], num_classes=z.shape[1], xp=xp)
    return xp


def cross_entropy(z: Array, y: Array, /) -> Array:
    """Mean cross-entropy ``J = (1/n) sum_i -log softmax(z_i)_{y_i}`` as a 0-D array.

    Parameters
    ----------
    z : array of shape (n, K)
        Logits.
    y : array of int of shape (n,)
        Labels in ``[0, K)``.

    Returns
    -------
    array of shape ()
        The mean loss, in the dtype and on the device of ``z``.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> z = xp.asarray([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> float(xpnet.cross_entropy(z, xp.asarray([0, 1])))  # doctest: +ELLIPSIS
    0.6690...
    """
    xp = _check_logits_labels(z, y)
    y = check.folded(y, check.check_label_values, name="y", num_classes=z.shape[1])
    return _cross_entropy(z, y, xp=xp)


def _cross_entropy(z: Array, y: Array, *, xp: Namespace) -> Array:
    picked = xp.where(
        y[:, None] == xp.arange(z.shape[1], dtype=y.dtype, device=device(y)),
        kernels.log_softmax(z, axis=1, xp=xp),
        0.0,
    )
    return -xp.sum(picked) / z.shape[0]


def cross_entropy_grad(z: Array, y: Array, /) -> Array:
    """Gradient of the *mean* cross-entropy with respect to the logits: ``(p - e_y) / n``.

    This is exactly what ``torch.autograd`` or ``jax.grad`` return for
    :func:`cross_entropy`; each row sums to 0.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> z = xp.asarray([[0.0, 0.0], [0.0, 0.0]])
    >>> xpnet.cross_entropy_grad(z, xp.asarray([0, 1]))
    Array([[-0.25,  0.25],
           [ 0.25, -0.25]], dtype=array_api_strict.float64)
    """
    xp = _check_logits_labels(z, y)
    y = check.folded(y, check.check_label_values, name="y", num_classes=z.shape[1])
    return _cross_entropy_grad(z, y, xp=xp)


def _cross_entropy_grad(z: Array, y: Array, *, xp: Namespace) -> Array:
    e_y = kernels.one_hot(y, z.shape[1], dtype=z.dtype, xp=xp)
    return (_softmax(z, axis=1, xp=xp) - e_y) / z.shape[0]
