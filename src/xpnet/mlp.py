"""The lecture's one-hidden-layer network: forward, hand-derived backward, prediction.

``h = relu(X W1 + b1)``, ``z = h W2 + b2``, ``J = mean_i L(z_i, y_i)`` with
cross-entropy ``L``. The four backward formulas of the slides, summed over the
batch and divided by ``n``::

    dJ/dz  = (p - e_y) / n                      (p = softmax(z))
    dJ/db2 = sum_i dJ/dz_i                      dJ/dW2 = h^T dJ/dz
    dJ/dh  = (dJ/dz W2^T) * g'(h)               (g' = relu_grad)
    dJ/db1 = sum_i dJ/dh_i                      dJ/dW1 = X^T dJ/dh
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace
from ._rng import draw_init
from .backends import asarray, default_float_dtype, namespace, resolve_dtype
from .functional import _log_softmax, _one_hot, _relu, _softmax

__all__ = [
    "Params",
    "backward",
    "forward",
    "forward_rowwise",
    "init_params",
    "loss_and_grad",
    "predict",
    "predict_proba",
]

Array = Any
Namespace = Any


class Params(NamedTuple):
    """The network's parameters (or their gradients): an immutable tuple of four arrays.

    ``W1`` has shape ``(d, H)``, ``b1`` ``(H,)``, ``W2`` ``(H, K)``, ``b2`` ``(K,)``.
    Being a NamedTuple, it is a pytree that ``jax.jit`` and ``jax.grad`` accept
    as it is.
    """

    W1: Array
    b1: Array
    W2: Array
    b2: Array


_PARAM_NAMES = ("params.W1", "params.b1", "params.W2", "params.b2")


def init_params(
    input_dim: int,
    hidden_dim: int,
    output_dim: int,
    *,
    xp: Namespace | str | None = None,
    seed: int = 0,
    dtype: Any = None,
    device: Any = None,
    init: str = "he",
) -> Params:
    """Initial weights, drawn once on the host so every backend gets the same numbers.

    Parameters
    ----------
    input_dim, hidden_dim, output_dim : int
        ``d`` features, ``H`` hidden units, ``K >= 2`` classes.
    xp : namespace or str, optional
        Backend of the result (a namespace or a name such as ``"torch"``);
        default NumPy.
    seed : int
        Seed of the draw. The same seed gives the same weights on every backend.
    dtype : str or dtype, optional
        Default: the backend's default floating dtype (float32 for torch).
    device : optional
        Device of the result, e.g. ``"cuda"``.
    init : {"he", "lecture"}
        ``"he"``: ``W1 ~ N(0, 2/d)``, ``W2 ~ N(0, 1/H)``, zero biases (suits ReLU
        networks of any input size). ``"lecture"``: the slides' ``np.random.seed(seed)``
        and ``randn`` draws, reproduced exactly.

    Examples
    --------
    >>> import xpnet
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict", init="lecture")
    >>> params.W1.shape, params.b2.shape
    ((2, 10), (3,))
    >>> float(params.W1[0, 0])  # np.random.seed(0); np.random.randn(2, 10)[0, 0]
    1.764052345967664
    """
    for value, name in ((input_dim, "input_dim"), (hidden_dim, "hidden_dim")):
        check.check_positive_int(value, name)
    check.check_num_classes(output_dim, "output_dim")
    target = namespace(xp if xp is not None else "numpy")
    resolved = resolve_dtype(target, dtype) or default_float_dtype(target)
    arrays = draw_init(input_dim, hidden_dim, output_dim, seed=seed, init=init)
    return Params(*(asarray(a, backend=target, dtype=resolved, device=device) for a in arrays))


def _check_model(X: Array, params: Params, y: Array | None = None) -> Namespace:
    """Check shapes, dtypes, devices and backends of a call; return its namespace."""
    if not isinstance(params, tuple) or len(params) != 4:
        raise TypeError(f"params: expected Params(W1, b1, W2, b2), got {type(params).__name__}")
    arrays: tuple[Array, ...] = (X, *params)
    names: tuple[str, ...] = ("X", *_PARAM_NAMES)
    if y is not None:
        arrays, names = (*arrays, y), (*names, "y")
    xp = array_namespace(*arrays, names=names)
    check.check_floating(X, "X", ndim=2, xp=xp)
    W1, b1, W2, b2 = params
    expected = {
        "params.W1": (X.shape[1], None),
        "params.b1": (W1.shape[-1],),
        "params.W2": (W1.shape[-1], None),
        "params.b2": (W2.shape[-1],),
    }
    for name, array in zip(_PARAM_NAMES, params):
        check.check_floating(array, name, ndim=len(expected[name]), xp=xp)
        if any(e is not None and e != s for e, s in zip(expected[name], array.shape)):
            shape = tuple("?" if e is None else e for e in expected[name])
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(array.shape)}")
        if array.dtype != X.dtype:
            raise TypeError(
                f"{name}: dtype {array.dtype} differs from X's {X.dtype}; "
                "cast the data or the parameters so they agree"
            )
    check.check_num_classes(int(W2.shape[1]), "params.W2.shape[1]")
    check.check_same_device(arrays, names)
    if y is not None:
        check.check_nonempty(X, "X")
        check.check_labels(y, "y", n=X.shape[0], num_classes=W2.shape[1], xp=xp)
    return xp


# --- forward ------------------------------------------------------------------------------


def forward(X: Array, params: Params, /) -> tuple[Array, Array]:
    """The vectorized forward pass: ``h = relu(X W1 + b1)``, ``z = h W2 + b2``.

    Returns
    -------
    h : array, shape (n, H)
        Hidden activations (after the ReLU).
    z : array, shape (n, K)
        Logits.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> h, z = xpnet.forward(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> h.shape, z.shape
    ((150, 10), (150, 3))
    """
    xp = _check_model(X, params)
    return _forward(X, params, xp=xp)


def _forward(X: Array, params: Params, *, xp: Namespace) -> tuple[Array, Array]:
    W1, b1, W2, b2 = params
    h = _relu(X @ W1 + b1, xp=xp)
    return h, h @ W2 + b2


def forward_rowwise(X: Array, params: Params, /) -> tuple[Array, Array]:
    """The lecture's non-vectorized forward: one sample at a time, same values as :func:`forward`.

    Kept to show (and time) what vectorization buys; the rows are stacked at the
    end instead of written into preallocated arrays, which JAX would not allow.

    Examples
    --------
    >>> import xpnet
    >>> X, _ = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict")
    >>> h, z = xpnet.forward_rowwise(X, params)
    >>> h.shape, z.shape
    ((150, 10), (150, 3))
    """
    xp = _check_model(X, params)
    W1, b1, W2, b2 = params
    if X.shape[0] == 0:
        return _forward(X, params, xp=xp)
    hidden_rows, logit_rows = [], []
    for i in range(X.shape[0]):
        h_i = _relu(X[i, :] @ W1 + b1, xp=xp)
        hidden_rows.append(h_i)
        logit_rows.append(h_i @ W2 + b2)
    return xp.stack(hidden_rows), xp.stack(logit_rows)


# --- backward -----------------------------------------------------------------------------


def _loss_sum_grad_logits(
    X: Array, y: Array, params: Params, *, xp: Namespace, e_y: Array | None = None
) -> tuple[Array, Params, Array]:
    """Summed loss, hand-derived gradients of the *mean* loss, and logits: one forward pass.

    The loss is returned as a sum (``n J``) so that a training step can accumulate an
    epoch's loss without dividing and multiplying by ``n`` again. ``e_y``, the one-hot rows
    of ``y``, may be passed in when a caller reuses them (full-batch training).
    """
    W1, b1, W2, b2 = params
    n = X.shape[0]
    h, z = _forward(X, params, xp=xp)
    log_p = _log_softmax(z, axis=1, xp=xp)
    if e_y is None:
        e_y = _one_hot(y, z.shape[1], dtype=z.dtype, xp=xp)
    dz = (xp.exp(log_p) - e_y) / n  # dJ/dz = (p - e_y) / n
    dh = (dz @ W2.T) * xp.astype(h > 0, h.dtype)  # (dJ/dz W2^T) * g'(h)
    grads = Params(X.T @ dh, xp.sum(dh, axis=0), h.T @ dz, xp.sum(dz, axis=0))
    return -xp.sum(e_y * log_p), grads, z


def backward(X: Array, y: Array, params: Params, /) -> Params:
    """Hand-derived gradients of the mean cross-entropy, as ``Params(dW1, db1, dW2, db2)``.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict")
    >>> grads = xpnet.backward(X, y, params)
    >>> grads.W1.shape == params.W1.shape
    True
    """
    return loss_and_grad(X, y, params)[1]


def loss_and_grad(X: Array, y: Array, params: Params, /) -> tuple[Array, Params]:
    """The mean loss (0-D array) and its hand-derived gradients, from one forward pass.

    Pure and jit-able: ``jax.jit(xpnet.loss_and_grad)`` works (label checks that
    need values are skipped for traced arrays).

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict", seed=0)
    >>> loss, grads = xpnet.loss_and_grad(X, y, params)
    >>> loss.shape
    ()
    """
    xp = _check_model(X, params, y)
    y = check.fold_label_check(y, "y", num_classes=params[2].shape[1])
    loss_sum, grads, _ = _loss_sum_grad_logits(X, y, params, xp=xp)
    return loss_sum / X.shape[0], grads


# --- prediction ---------------------------------------------------------------------------


def predict_proba(X: Array, params: Params, /) -> Array:
    """Class probabilities ``softmax(z)``, shape ``(n, K)``; rows sum to 1.

    Examples
    --------
    >>> import xpnet
    >>> X, _ = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> probs = xpnet.predict_proba(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> probs.shape
    (150, 3)
    """
    xp = _check_model(X, params)
    check.check_finite(X, "X", xp=xp)
    return _softmax(_forward(X, params, xp=xp)[1], axis=1, xp=xp)


def predict(X: Array, params: Params, /) -> Array:
    """Predicted class labels ``argmax_k z_k``, shape ``(n,)``.

    Examples
    --------
    >>> import xpnet
    >>> X, _ = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> labels = xpnet.predict(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> labels.shape
    (150,)
    """
    xp = _check_model(X, params)
    check.check_finite(X, "X", xp=xp)
    return xp.argmax(_forward(X, params, xp=xp)[1], axis=1)
