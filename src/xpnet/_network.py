"""The network's kernels: the checks of a call, the forward pass and the hand-derived
backward pass, without the public functions' argument handling.

:mod:`xpnet.mlp` (the public functions), the engine (:mod:`xpnet._engine`), the faces
(:func:`xpnet.train`, the estimators) and :mod:`xpnet.gradcheck` all run these, so the
math exists once; see :mod:`xpnet.mlp` for the formulas and the in-place rule they follow.
A name here without an underscore is shared across modules; with one, it is this
module's own.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _validation as check
from ._compat import array_namespace
from ._kernels import column_sums, summed_loss, summed_loss_and_delta
from ._typing import Array, Layer, Layers, Model, Namespace, Params, layer_arrays, named_leaves
from .functional import Activation, get_activation
from .losses import Loss, get_loss, label_matrix, sample_weights, target_matrix

__all__ = [
    "NO_TARGETS",
    "Backprop",
    "Checked",
    "as_activation",
    "check_model",
    "forward_layers",
    "l2_half",
    "loss_sum_and_grad",
    "mean_loss",
    "mean_loss_and_grad",
]


# --- the checks of a call ---------------------------------------------------------------------


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


class Checked(NamedTuple):
    xp: Namespace
    layers: Layers
    activation: Activation
    loss: Loss
    target: Array | None
    weights: Array | None


#: ``check_model``'s ``y`` when the call has no targets (``None`` is a malformed ``y``).
NO_TARGETS: Any = object()


def check_model(
    X: Array,
    params: Model,
    y: Any = NO_TARGETS,
    *,
    activation: Any = "relu",
    loss: Any = "cross_entropy",
    alpha: Any = 0.0,
    sample_weight: Array | None = None,
) -> Checked:
    """Check a call's arrays (backends, shapes, dtypes, devices) and options; with ``y``,
    also the targets for ``loss`` (returned as an ``(n, K)`` matrix) and the weights.

    The structural checks' verdict (labels' kind, rank and length included) is remembered
    for host arrays (see :class:`xpnet._validation.Verdicts`); the targets' and weights'
    values are checked on every call.
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
    elif layer_arrays(params) is not None:  # a tuple of Layer: used as it is
        layers = params
    else:  # plain tuples: Layers rebuilt from the (checked) leaves
        arrays = named_leaves(params)[0]
        layers = tuple(Layer(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2))
    target = weights = None
    if y is not NO_TARGETS:
        n, k = X.shape[0], layers[-1].W.shape[1]
        if spec.labels:  # their kind, rank and length are part of the structure checked
            target = label_matrix(y, k, dtype=X.dtype, xp=xp)
        else:
            target = target_matrix(y, spec, n=n, num_outputs=k, dtype=X.dtype, xp=xp)
        if sample_weight is not None:
            weights = sample_weights(sample_weight, n=n, dtype=X.dtype, xp=xp)
    return Checked(xp, layers, act, spec, target, weights)


#: ``_check_structure``'s verdicts by :func:`_structure_key`.
_MODEL_VERDICTS = check.Verdicts()


def _structure_key(
    X: Array, params: Model, y: Any, activation: Any, loss: Any, alpha: Any, sample_weight: Any
) -> tuple[Any, ...] | None:
    """What the structural checks of :func:`check_model` depend on, for host arrays in
    ``Params`` or a tuple of ``Layer`` with options of the usual types; else ``None``."""
    if not (type(activation) is str and type(loss) is str and type(alpha) in (float, int)):
        return None
    arrays = layer_arrays(params)
    if arrays is None:
        return None
    others = [X] if y is NO_TARGETS else [X, y]
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
    """The structural checks of :func:`check_model`: ``(xp, activation, loss)``."""
    act = get_activation(activation)
    spec = get_loss(loss)
    check.check_real(alpha, "alpha", low=0.0)
    arrays, names = named_leaves(params)
    if len(arrays) != 4 and not isinstance(params[0], tuple):
        raise TypeError(
            "params: expected Params(W1, b1, W2, b2) or a tuple of Layer(W, b), "
            f"got a tuple of {len(arrays)} arrays"
        )
    all_arrays, all_names = [X, *arrays], ["X", *names]
    if y is not NO_TARGETS:
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
    if y is not NO_TARGETS:
        check.check_nonempty(X, "X")
        if spec.labels:  # the labels' structure; their values are checked on every call
            classes = int(arrays[-2].shape[1])
            check.check_labels(y, "y", n=X.shape[0], num_classes=classes, xp=xp, values=False)
    elif sample_weight is not None:
        raise ValueError("sample_weight: given without targets y")
    return xp, act, spec


def forward_layers(
    X: Array, layers: Layers, *, activation: Activation | str, xp: Namespace
) -> tuple[tuple[Array, ...], Array]:
    """``(hidden activations, logits)``; no checks."""
    g = as_activation(activation)
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


def as_activation(activation: Activation | str) -> Activation:
    return activation if isinstance(activation, Activation) else get_activation(activation)


class Backprop(NamedTuple):
    loss_sum: Array  # sum_i w_i L_i + alpha / 2 sum_l ||W_l||^2; the mean loss is loss_sum / n_w
    grads: Layers  # of the mean loss
    z: Array  # the logits
    output: Array  # softmax, logistic, identity or exp of z
    n_w: Any  # n, or the sum of the sample weights


def loss_sum_and_grad(
    X: Array,
    target: Array,
    layers: Layers,
    *,
    xp: Namespace,
    activation: Activation | str = "relu",
    loss: Loss | str = "cross_entropy",
    alpha: float = 0.0,
    weights: Array | None = None,
) -> Backprop:
    """The hand-derived backward pass, from one forward pass; no checks.

    ``target`` is the ``(n, K)`` matrix (one-hot rows for cross-entropy); see
    :class:`Backprop` for what comes back.
    """
    g = as_activation(activation)
    spec = loss if isinstance(loss, Loss) else get_loss(loss)
    hidden, z = forward_layers(X, layers, activation=g, xp=xp)
    loss_sum, delta, out, n_w = summed_loss_and_delta(z, target, spec, weights=weights, xp=xp)
    inputs = (X, *hidden)  # h_0 = X, h_1, ..., h_{L-1}
    grads: list[Layer] = []
    # l counts from 0 here, the docstring's layers from 1: layers[l] is the docstring's layer
    # l + 1 (W_{l+1}, b_{l+1}), inputs[l] = h_l its input, and delta = dJ/da_{l+1} on entry.
    for l in range(len(layers) - 1, -1, -1):  # from the output back
        W = layers[l].W
        dW = inputs[l].T @ delta  # h_l^T dJ/da_{l+1}
        if alpha:
            dW += (alpha / n_w) * W
        grads.append(Layer(dW, column_sums(delta, xp=xp)))
        if l:  # dJ/da_l = (dJ/da_{l+1} W_{l+1}^T) * g'(a_l), with g' read from h_l = g(a_l)
            delta = delta @ W.T
            delta *= g.grad(inputs[l], xp=xp)
    if alpha:
        loss_sum = loss_sum + l2_half(layers, alpha, xp=xp)
    return Backprop(loss_sum, tuple(reversed(grads)), z, out, n_w)


def l2_half(layers: Layers, alpha: float, *, xp: Namespace) -> Array:
    """``alpha / 2 sum_l ||W_l||^2``: the L2 penalty (weights, not biases), before ``/ n_w``.

    Each ``||W||^2`` is the inner product of ``W`` with itself: one pass, no temporary.
    """
    return (alpha / 2.0) * sum(_flat(W, xp=xp) @ _flat(W, xp=xp) for W, _ in layers)


def _flat(a: Array, *, xp: Namespace) -> Array:
    return xp.reshape(a, (-1,))


def mean_loss(
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
    z = forward_layers(X, layers, activation=activation, xp=xp)[1]
    loss_sum, n_w = summed_loss(z, target, spec, weights=weights, xp=xp)
    if alpha:
        loss_sum = loss_sum + l2_half(layers, alpha, xp=xp)
    return loss_sum / n_w


def mean_loss_and_grad(
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
    result = loss_sum_and_grad(
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
