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
from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace, device
from ._rng import draw_layers
from ._typing import Array, Namespace
from .backends import asarray, default_float_dtype, namespace, resolve_dtype
from .functional import Activation, get_activation
from .losses import (
    Loss,
    _loss_sum,
    _loss_sum_and_delta,
    get_loss,
    output,
    sample_weights,
    target_matrix,
)

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


class Layer(NamedTuple):
    """One affine layer ``a = h_in W + b``: ``W`` ``(fan_in, fan_out)``, ``b`` ``(fan_out,)``.

    A network is a tuple of layers (one layer is softmax regression); like :class:`Params`
    it is a pytree that ``jax.jit`` and ``jax.grad`` accept as it is.
    """

    W: Array
    b: Array


Layers = tuple[Layer, ...]
Model = Any  # Params or a tuple of Layer


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


# --- the two forms of parameters ----------------------------------------------------------


def _like(layers: Layers, params: Model) -> Model:
    """``layers`` in the form of ``params`` (Params or a tuple of Layer)."""
    if isinstance(params, Params):
        (W1, b1), (W2, b2) = layers
        return Params(W1, b1, W2, b2)
    return tuple(layers)


def _leaves(params: Model, name: str = "params") -> tuple[list[Array], list[str]]:
    """The arrays of ``params`` (either form) and their names, with a clear error for
    anything that is neither form."""
    if isinstance(params, Params):
        return list(params), [f"{name}.{field}" for field in Params._fields]
    if not isinstance(params, tuple) or not params:
        raise TypeError(
            f"{name}: expected Params(W1, b1, W2, b2) or a non-empty tuple of Layer(W, b), "
            f"got {type(params).__name__}"
        )
    if not any(isinstance(p, tuple) for p in params):
        # a plain tuple of arrays: the lecture's four without the NamedTuple (other lengths
        # are reported by the caller, which knows what it expected)
        if len(params) == 4:
            return list(params), [f"{name}.{field}" for field in Params._fields]
        return list(params), [f"{name}[{i}]" for i in range(len(params))]
    arrays, names = [], []
    for i, layer in enumerate(params):
        if not isinstance(layer, tuple) or len(layer) != 2:
            raise TypeError(f"{name}[{i}]: expected Layer(W, b), got {type(layer).__name__}")
        arrays += [layer[0], layer[1]]
        names += [f"{name}[{i}].W", f"{name}[{i}].b"]
    return arrays, names


def _check_shapes(X: Array, arrays: list[Array], names: list[str], *, xp: Namespace) -> None:
    """Each ``W`` is 2-D and chains on from the previous layer, each ``b`` matches its ``W``,
    every dtype is ``X``'s."""
    fan_in = X.shape[1]
    for i in range(0, len(arrays), 2):
        W, b = arrays[i], arrays[i + 1]
        check.check_floating(W, names[i], ndim=2, xp=xp)
        check.check_floating(b, names[i + 1], ndim=1, xp=xp)
        if W.shape[0] != fan_in:
            raise ValueError(
                f"{names[i]}: expected shape ({fan_in}, ?) to chain on from "
                f"{'X' if i == 0 else names[i - 2]}, got {tuple(W.shape)}"
            )
        if b.shape[0] != W.shape[1]:
            raise ValueError(
                f"{names[i + 1]}: expected shape ({W.shape[1]},), got {tuple(b.shape)}"
            )
        for name, array in ((names[i], W), (names[i + 1], b)):
            if array.dtype != X.dtype:
                raise TypeError(
                    f"{name}: dtype {array.dtype} differs from X's {X.dtype}; "
                    "cast the data or the parameters so they agree"
                )
        fan_in = W.shape[1]


class _Checked(NamedTuple):
    xp: Namespace
    layers: Layers
    activation: Activation
    loss: Loss
    target: Array | None
    weights: Array | None


#: ``_check_model``'s ``y`` when the call has no targets (``None`` is a malformed ``y``).
_NO_TARGETS: Any = object()


def _check_model(
    X: Array,
    params: Model,
    y: Any = _NO_TARGETS,
    *,
    activation: Any = "relu",
    loss: Any = "cross_entropy",
    alpha: Any = 0.0,
    sample_weight: Array | None = None,
) -> _Checked:
    """Check a call's arrays (backends, shapes, dtypes, devices) and options; with ``y``,
    also the targets for ``loss`` (returned as an ``(n, K)`` matrix) and the weights.

    The structural checks' verdict is remembered for host arrays (see
    :class:`xpnet._validation.Verdicts`); the targets' and weights' values are checked on
    every call.
    """
    key = _structure_key(X, params, y, activation, loss, alpha, sample_weight)
    verdict = _MODEL_VERDICTS.get(key)
    if verdict is None:
        verdict = _MODEL_VERDICTS.put(
            key, _check_structure(X, params, y, activation, loss, alpha, sample_weight)
        )
    xp, act, spec = verdict
    if type(params) is Params:
        layers: Layers = (Layer(params[0], params[1]), Layer(params[2], params[3]))
    elif _layer_arrays(params) is not None:  # a tuple of Layer: used as it is
        layers = params
    else:  # plain tuples: Layers rebuilt from the (checked) leaves
        arrays = _leaves(params)[0]
        layers = tuple(Layer(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2))
    target = weights = None
    if y is not _NO_TARGETS:
        n, k = X.shape[0], layers[-1].W.shape[1]
        target = target_matrix(y, spec, n=n, num_outputs=k, dtype=X.dtype, xp=xp)
        weights = sample_weights(sample_weight, n=n, dtype=X.dtype, xp=xp)
    return _Checked(xp, layers, act, spec, target, weights)


#: ``_check_structure``'s verdicts by :func:`_structure_key`.
_MODEL_VERDICTS = check.Verdicts()


def _layer_arrays(params: Any) -> Any:
    """The arrays of ``Params`` or of a tuple of ``Layer``, in order; ``None`` for anything
    else (plain tuples, malformed parameters), which the full checks handle."""
    if type(params) is Params:
        return params
    if type(params) is tuple and params and all(type(layer) is Layer for layer in params):
        return [a for layer in params for a in layer]
    return None


def _structure_key(
    X: Array, params: Model, y: Any, activation: Any, loss: Any, alpha: Any, sample_weight: Any
) -> tuple[Any, ...] | None:
    """What the structural checks of :func:`_check_model` depend on, for host arrays in
    ``Params`` or a tuple of ``Layer`` with options of the usual types; else ``None``."""
    if not (type(activation) is str and type(loss) is str and type(alpha) in (float, int)):
        return None
    arrays = _layer_arrays(params)
    if arrays is None:
        return None
    others = [X] if y is _NO_TARGETS else [X, y]
    if sample_weight is not None:
        others.append(sample_weight)
    signature = check.host_signature([*others, *arrays])
    if signature is None:
        return None
    return (type(params), activation, loss, alpha, len(others), *signature)


def _check_structure(
    X: Array,
    params: Model,
    y: Any,
    activation: Any,
    loss: Any,
    alpha: Any,
    sample_weight: Array | None,
) -> tuple[Namespace, Activation, Loss]:
    """The structural checks of :func:`_check_model`: ``(xp, activation, loss)``."""
    act = get_activation(activation)
    spec = get_loss(loss)
    check.check_real(alpha, "alpha", low=0.0)
    arrays, names = _leaves(params)
    if len(arrays) != 4 and not isinstance(params[0], tuple):
        raise TypeError(
            "params: expected Params(W1, b1, W2, b2) or a tuple of Layer(W, b), "
            f"got a tuple of {len(arrays)} arrays"
        )
    all_arrays, all_names = [X, *arrays], ["X", *names]
    if y is not _NO_TARGETS:
        all_arrays.append(y)
        all_names.append("y")
    if sample_weight is not None:
        all_arrays.append(sample_weight)
        all_names.append("sample_weight")
    xp = array_namespace(*all_arrays, names=tuple(all_names))
    check.check_floating(X, "X", ndim=2, xp=xp)
    _check_shapes(X, arrays, names, xp=xp)
    if spec.labels:
        check.check_num_classes(int(arrays[-2].shape[1]), f"{names[-2]}.shape[1]")
    check.check_same_device(all_arrays, all_names)
    if y is not _NO_TARGETS:
        check.check_nonempty(X, "X")
    elif sample_weight is not None:
        raise ValueError("sample_weight: given without targets y")
    return xp, act, spec


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
    checked = _check_model(X, params, activation=activation)
    hidden, z = _forward(X, checked.layers, activation=checked.activation, xp=checked.xp)
    if isinstance(params, Params) or not isinstance(params[0], tuple):
        return hidden[0], z
    return hidden, z


def _forward(
    X: Array, layers: Layers, *, activation: Activation | str, xp: Namespace
) -> tuple[tuple[Array, ...], Array]:
    """``(hidden activations, logits)``; no checks."""
    g = _activation(activation)
    hidden: list[Array] = []
    h = X
    for W, b in layers[:-1]:
        a = h @ W
        a += b  # on the product just made, which nobody else holds (see above)
        h = g.forward(a, xp=xp)
        hidden.append(h)
    W, b = layers[-1]
    z = h @ W
    z += b
    return tuple(hidden), z


def _activation(activation: Activation | str) -> Activation:
    return activation if isinstance(activation, Activation) else get_activation(activation)


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
    checked = _check_model(X, params, activation=activation)
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


class _Backprop(NamedTuple):
    loss_sum: Array  # sum_i w_i L_i + alpha / 2 sum_l ||W_l||^2; the mean loss is loss_sum / n_w
    grads: Layers  # of the mean loss
    z: Array  # the logits
    output: Array  # softmax, logistic, identity or exp of z
    n_w: Any  # n, or the sum of the sample weights


def _loss_sum_and_grad(
    X: Array,
    target: Array,
    layers: Layers,
    *,
    xp: Namespace,
    activation: Activation | str = "relu",
    loss: Loss | str = "cross_entropy",
    alpha: float = 0.0,
    weights: Array | None = None,
) -> _Backprop:
    """The hand-derived backward pass, from one forward pass; no checks.

    ``target`` is the ``(n, K)`` matrix (one-hot rows for cross-entropy); see
    :class:`_Backprop` for what comes back.
    """
    g = _activation(activation)
    spec = loss if isinstance(loss, Loss) else get_loss(loss)
    hidden, z = _forward(X, layers, activation=g, xp=xp)
    loss_sum, delta, out, n_w = _loss_sum_and_delta(z, target, spec, weights=weights, xp=xp)
    inputs = (X, *hidden)  # h_0 = X, h_1, ..., h_{L-1}
    grads: list[Layer] = []
    # l counts from 0 here, the docstring's layers from 1: layers[l] is the docstring's layer
    # l + 1 (W_{l+1}, b_{l+1}), inputs[l] = h_l its input, and delta = dJ/da_{l+1} on entry.
    for l in range(len(layers) - 1, -1, -1):  # from the output back
        W = layers[l].W
        dW = inputs[l].T @ delta  # h_l^T dJ/da_{l+1}
        if alpha:
            dW += (alpha / n_w) * W
        grads.append(Layer(dW, xp.sum(delta, axis=0)))
        if l:  # dJ/da_l = (dJ/da_{l+1} W_{l+1}^T) * g'(a_l), with g' read from h_l = g(a_l)
            delta = delta @ W.T
            delta *= g.grad(inputs[l], xp=xp)
    if alpha:
        loss_sum = loss_sum + _l2_half(layers, alpha, xp=xp)
    return _Backprop(loss_sum, tuple(reversed(grads)), z, out, n_w)


def _l2_half(layers: Layers, alpha: float, *, xp: Namespace) -> Array:
    """``alpha / 2 sum_l ||W_l||^2``: the L2 penalty (weights, not biases), before ``/ n_w``.

    Each ``||W||^2`` is the inner product of ``W`` with itself: one pass, no temporary.
    """
    return (alpha / 2.0) * sum(_flat(W, xp=xp) @ _flat(W, xp=xp) for W, _ in layers)


def _flat(a: Array, *, xp: Namespace) -> Array:
    return xp.reshape(a, (-1,))


def _mean_loss(
    X: Array,
    target: Array,
    layers: Layers,
    *,
    xp: Namespace,
    activation: Activation | str = "relu",
    loss: Loss | str = "cross_entropy",
    alpha: float = 0.0,
    weights: Array | None = None,
) -> Array:
    """The mean loss alone (forward pass, no backward): what autograd and finite differences
    differentiate in :mod:`xpnet.gradcheck`; no checks."""
    spec = loss if isinstance(loss, Loss) else get_loss(loss)
    z = _forward(X, layers, activation=activation, xp=xp)[1]
    loss_sum, n_w = _loss_sum(z, target, spec, weights=weights, xp=xp)
    if alpha:
        loss_sum = loss_sum + _l2_half(layers, alpha, xp=xp)
    return loss_sum / n_w


def _loss_and_grad(
    X: Array,
    target: Array,
    layers: Layers,
    *,
    xp: Namespace,
    activation: Activation | str = "relu",
    loss: Loss | str = "cross_entropy",
    alpha: float = 0.0,
    sample_weight: Array | None = None,
) -> tuple[Array, Layers, Array]:
    """``(mean loss, grads, output)``; no checks. For cross-entropy, ``target`` may be the
    integer labels (one-hot here) or the one-hot matrix."""
    spec = loss if isinstance(loss, Loss) else get_loss(loss)
    if target.ndim == 1:
        target = target_matrix(
            target, spec, n=X.shape[0], num_outputs=layers[-1].W.shape[1], dtype=X.dtype, xp=xp
        )
    result = _loss_sum_and_grad(
        X,
        target,
        layers,
        xp=xp,
        activation=activation,
        loss=spec,
        alpha=alpha,
        weights=sample_weight,
    )
    return result.loss_sum / result.n_w, result.grads, result.output


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
    checked = _check_model(
        X, params, y, activation=activation, loss=loss, alpha=alpha, sample_weight=sample_weight
    )
    result = _loss_sum_and_grad(
        X,
        checked.target,
        checked.layers,
        xp=checked.xp,
        activation=checked.activation,
        loss=checked.loss,
        alpha=float(alpha),
        weights=checked.weights,
    )
    return result.loss_sum / result.n_w, _like(result.grads, params)


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
    checked = _check_model(X, params, activation=activation, loss=loss)
    if checked.loss.output_name not in ("softmax", "logistic"):
        raise ValueError(
            f"loss: predict_proba needs a classification loss, got {checked.loss.name!r}"
        )
    xp = checked.xp
    check.check_finite(X, "X", xp=xp)
    X = check.folded(X, check.check_finite, name="X")  # Dask: checked in the graph
    z = _forward(X, checked.layers, activation=checked.activation, xp=xp)[1]
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
    checked = _check_model(X, params, activation=activation, loss=loss)
    xp = checked.xp
    check.check_finite(X, "X", xp=xp)
    X = check.folded(X, check.check_finite, name="X")  # Dask: checked in the graph
    z = _forward(X, checked.layers, activation=checked.activation, xp=xp)[1]
    return _predictions(z, checked.loss, xp=xp)


def _predictions(z: Array, loss: Loss, *, xp: Namespace) -> Array:
    if loss.name == "cross_entropy":
        return xp.argmax(z, axis=1)
    if loss.name == "binary_cross_entropy":
        labels = xp.__array_namespace_info__().default_dtypes(device=device(z))["integral"]
        return xp.astype(z > 0, labels)
    return output(z, loss, xp=xp)
