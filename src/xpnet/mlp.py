"""The network: the lecture's one hidden layer, and any depth with the same four formulas.

The lecture's network, in the notation used throughout the docs::

    a = X W1 + b1,   h = relu(a),   z = h W2 + b2,   J = mean_i L(z_i, y_i)

(the slides call the pre-activation ``h`` and the activation ``g(h)``; here ``a`` is the
pre-activation and ``h = g(a)`` the activation). Its four backward formulas, summed over the
batch and divided by ``n``::

    dJ/dz  = (p - e_y) / n                      (p = softmax(z))
    dJ/db2 = sum_i dJ/dz_i                      dJ/dW2 = h^T dJ/dz
    dJ/da  = (dJ/dz W2^T) * relu'(a)            (relu'(a) = 1[h > 0])
    dJ/db1 = sum_i dJ/da_i                      dJ/dW1 = X^T dJ/da

A deeper network is a tuple of :class:`Layer` s; its backward pass is the same formulas in
a loop from the last layer to the first (``h_0 = X``, ``h_l = g(h_{l-1} W_l + b_l)``)::

    delta_L = dJ/dz = (output - target) / n
    dJ/dW_l = h_{l-1}^T delta_l + alpha W_l / n,    dJ/db_l = sum_i delta_l
    delta_{l-1} = (delta_l W_l^T) * g'(a_{l-1})

The lecture's :class:`Params` and every function here accept either form, and return
gradients in the form they were given.

Pure functions, with one refinement of the design's "nothing is written in place": nothing
the caller can see is. An array a function has just made itself (a matrix product, a
difference) may be finished with an augmented operator (``a += b``, ``delta /= n``) before
anyone else holds it. The standard defines these operators; NumPy, torch and
array-api-strict then write into the new array instead of making one more, and JAX, Dask
and ndonnx, whose arrays have no in-place operators, rebind the name to a new array, so the
same line is right everywhere. On the large workloads each temporary saved is one less
allocation and page-faulting pass over memory (the Adam step of :mod:`xpnet.optim` makes
three new arrays per parameter instead of twelve).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _validation as check
from ._compat import device
from ._network import check_model, forward_layers, loss_sum_and_grad
from ._rng import draw_layers
from ._typing import Array, Layer, Layers, Model, Namespace, Params, like
from .backends import asarray, default_float_dtype, namespace, resolve_dtype
from .losses import Loss, output

__all__ = [
    "Layer",
    "Params",
    "backward",
    "forward",
    "forward_rowwise",
    "init_layers",
    "init_params",
    "loss_and_grad",
    "predict",
    "predict_proba",
]


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
    init : {"he", "lecture", "glorot"}
        ``"he"``: ``W1 ~ N(0, 2/d)``, ``W2 ~ N(0, 1/H)``, zero biases (suits ReLU
        networks of any input size). ``"lecture"``: the slides' ``np.random.seed(seed)``
        and ``randn`` draws, reproduced exactly. ``"glorot"``: as :func:`init_layers`.

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
    (W1, b1), (W2, b2) = init_layers(
        (input_dim, hidden_dim, output_dim),
        xp=xp,
        seed=seed,
        dtype=dtype,
        device=device,
        init=init,
    )
    return Params(W1, b1, W2, b2)


def init_layers(
    sizes: Any,
    *,
    xp: Namespace | str | None = None,
    seed: int = 0,
    dtype: Any = None,
    device: Any = None,
    init: str = "he",
) -> Layers:
    """Initial weights of a network of any depth, drawn once on the host (same on every backend).

    Parameters
    ----------
    sizes : sequence of int
        ``(d, H1, ..., HL, K)``: the input width, each hidden width, the output width.
        Two entries give one layer (softmax regression).
    xp, seed, dtype, device
        As for :func:`init_params`.
    init : {"he", "glorot", "lecture"}
        ``"he"``: ``W_l ~ N(0, 2 / fan_in)`` for the hidden layers, ``N(0, 1 / fan_in)`` for
        the output layer, zero biases (for ``sizes = (d, H, K)`` exactly :func:`init_params`'
        draws). ``"glorot"``: weights and biases uniform in ``+-sqrt(6 / (fan_in + fan_out))``,
        drawn as scikit-learn draws them (``RandomState(seed)``, layer by layer, weights then
        biases). ``"lecture"``: ``randn`` draws of ``RandomState(seed)``, weights then biases.

    Examples
    --------
    >>> import xpnet
    >>> layers = xpnet.init_layers((4, 16, 8, 3), xp="array_api_strict", init="glorot")
    >>> [tuple(layer.W.shape) for layer in layers]
    [(4, 16), (16, 8), (8, 3)]
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        # an array of sizes is refused on every backend alike (torch's would hold tensors)
        raise TypeError(
            f"sizes: expected a sequence of ints (a tuple or list), got {type(sizes).__name__}"
        )
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least (inputs, outputs), got {tuple(sizes)}")
    for i, size in enumerate(sizes):
        check.check_positive_int(size, f"sizes[{i}]")
    check.check_seed(seed)
    backend = xp if xp is not None else "numpy"  # a name keeps its registered hooks
    target = _namespace_of(backend, "xp")
    resolved = resolve_dtype(target, dtype) or default_float_dtype(target)
    arrays = draw_layers(tuple(sizes), seed=seed, init=init)
    return tuple(
        Layer(*(asarray(a, backend=backend, dtype=resolved, device=device) for a in pair))
        for pair in arrays
    )


def _namespace_of(backend: Any, name: str) -> Namespace:
    """:func:`xpnet.namespace` of an argument called ``name`` (``xp`` here), so its errors
    start with that name rather than ``backend``."""
    try:
        return namespace(backend)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if message.startswith("backend:"):
            raise type(exc)(f"{name}:{message[len('backend:') :]}") from None
        raise


# --- forward ------------------------------------------------------------------------------


def forward(X: Array, params: Model, /, *, activation: str = "relu") -> tuple[Any, Array]:
    """The vectorized forward pass: ``h_l = g(h_{l-1} W_l + b_l)`` (``h_0 = X``), then the
    logits ``z = h_{L-1} W_L + b_L`` of the last layer.

    For the lecture's :class:`Params`: ``h = relu(X W1 + b1)``, ``z = h W2 + b2``.

    Returns
    -------
    hidden : array of shape (n, H), or a tuple of them
        The hidden activations: one array for :class:`Params`, a tuple (one per hidden
        layer) for a tuple of :class:`Layer`.
    z : array, shape (n, K)
        Logits (before the output function: softmax, logistic, ...).

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> h, z = xpnet.forward(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> h.shape, z.shape
    ((150, 10), (150, 3))
    >>> hidden, z = xpnet.forward(X, xpnet.init_layers((2, 8, 4, 3), xp="array_api_strict"))
    >>> [h.shape for h in hidden], z.shape
    ([(150, 8), (150, 4)], (150, 3))
    """
    checked = check_model(X, params, activation=activation)
    hidden, z = forward_layers(X, checked.layers, activation=checked.activation, xp=checked.xp)
    if isinstance(params, Params) or not isinstance(params[0], tuple):
        return hidden[0], z
    return hidden, z


def forward_rowwise(X: Array, params: Model, /, *, activation: str = "relu") -> tuple[Any, Array]:
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
    checked = check_model(X, params, activation=activation)
    xp, layers, g = checked.xp, checked.layers, checked.activation
    if X.shape[0] == 0:
        return forward(X, params, activation=activation)
    hidden_rows: list[list[Array]] = [[] for _ in layers[:-1]]
    logit_rows = []
    for i in range(X.shape[0]):
        h_i = X[i, :]
        for rows, (W, b) in zip(hidden_rows, layers[:-1]):
            h_i = g.forward(h_i @ W + b, xp=xp)
            rows.append(h_i)
        logit_rows.append(h_i @ layers[-1].W + layers[-1].b)
    hidden = tuple(xp.stack(rows) for rows in hidden_rows)
    z = xp.stack(logit_rows)
    if isinstance(params, Params) or not isinstance(params[0], tuple):
        return hidden[0], z
    return hidden, z


# --- backward -----------------------------------------------------------------------------


def loss_and_grad(
    X: Array,
    y: Array,
    params: Model,
    /,
    *,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    sample_weight: Array | None = None,
) -> tuple[Array, Model]:
    """The mean loss (0-D array) and its hand-derived gradients, from one forward pass.

    Parameters
    ----------
    X : array of shape (n, d)
    y : array
        Integer labels ``(n,)`` for ``"cross_entropy"``; ``(n, K)`` targets for the other
        losses (0/1 for ``"binary_cross_entropy"``, real for ``"squared_error"``, ``>= 0``
        for ``"poisson"``).
    params : Params or tuple of Layer
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation.
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error", "poisson"}
    alpha : float
        L2 penalty: the loss gains ``alpha / (2 n) sum_l ||W_l||^2`` (weights, not biases).
    sample_weight : array of shape (n,), optional
        Each sample's loss is weighted and ``n`` becomes ``sum(sample_weight)``, in the loss
        and in the L2 term alike (scikit-learn's convention).

    Returns
    -------
    loss : array of shape ()
    grads : Params or tuple of Layer
        In the form of ``params``.

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
    >>> layers = xpnet.init_layers((2, 16, 16, 3), xp="array_api_strict")
    >>> loss, grads = xpnet.loss_and_grad(X, y, layers, activation="tanh", alpha=1e-4)
    >>> len(grads), grads[0].W.shape
    (3, (2, 16))
    """
    checked = check_model(
        X, params, y, activation=activation, loss=loss, alpha=alpha, sample_weight=sample_weight
    )
    result = loss_sum_and_grad(
        X,
        checked.target,
        checked.layers,
        xp=checked.xp,
        activation=checked.activation,
        loss=checked.loss,
        alpha=float(alpha),
        weights=checked.weights,
    )
    return result.loss_sum / result.n_w, like(result.grads, params)


def backward(
    X: Array,
    y: Array,
    params: Model,
    /,
    *,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    sample_weight: Array | None = None,
) -> Model:
    """The hand-derived gradients of the mean loss, in the form of ``params``
    (``Params(dW1, db1, dW2, db2)`` for the lecture's network); see :func:`loss_and_grad`.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict")
    >>> grads = xpnet.backward(X, y, params)
    >>> grads.W1.shape == params.W1.shape
    True
    """
    return loss_and_grad(
        X, y, params, activation=activation, loss=loss, alpha=alpha, sample_weight=sample_weight
    )[1]


# --- prediction ---------------------------------------------------------------------------


def predict_proba(
    X: Array, params: Model, /, *, activation: str = "relu", loss: str = "cross_entropy"
) -> Array:
    """Class probabilities: ``softmax(z)`` (rows sum to 1) for cross-entropy, the logistic
    ``sigma(z)`` of each output for binary cross-entropy; shape ``(n, K)``.

    Examples
    --------
    >>> import xpnet
    >>> X, _ = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> probs = xpnet.predict_proba(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> probs.shape
    (150, 3)
    """
    checked = check_model(X, params, activation=activation, loss=loss)
    if checked.loss.output_name not in ("softmax", "logistic"):
        raise ValueError(
            f"loss: predict_proba needs a classification loss, got {checked.loss.name!r}"
        )
    xp = checked.xp
    check.check_finite(X, "X", xp=xp)
    X = check.folded(X, check.check_finite, name="X")  # Dask: checked in the graph
    z = forward_layers(X, checked.layers, activation=checked.activation, xp=xp)[1]
    return output(z, checked.loss, xp=xp)


def predict(
    X: Array, params: Model, /, *, activation: str = "relu", loss: str = "cross_entropy"
) -> Array:
    """Predictions: class labels ``argmax_k z_k`` ``(n,)`` for cross-entropy, 0/1 indicators
    ``z > 0`` ``(n, K)`` for binary cross-entropy, the output (``z``, or ``exp(z)`` for
    Poisson) for regression.

    Examples
    --------
    >>> import xpnet
    >>> X, _ = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> labels = xpnet.predict(X, xpnet.init_params(2, 10, 3, xp="array_api_strict"))
    >>> labels.shape
    (150,)
    """
    checked = check_model(X, params, activation=activation, loss=loss)
    xp = checked.xp
    check.check_finite(X, "X", xp=xp)
    X = check.folded(X, check.check_finite, name="X")  # Dask: checked in the graph
    z = forward_layers(X, checked.layers, activation=checked.activation, xp=xp)[1]
    return _predictions(z, checked.loss, xp=xp)


def _predictions(z: Array, loss: Loss, *, xp: Namespace) -> Array:
    if loss.name == "cross_entropy":
        return xp.argmax(z, axis=1)
    if loss.name == "binary_cross_entropy":
        labels = xp.__array_namespace_info__().default_dtypes(device=device(z))["integral"]
        return xp.astype(z > 0, labels)
    return output(z, loss, xp=xp)
