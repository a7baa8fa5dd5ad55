"""Check the hand-derived gradients: central finite differences and autograd oracles.

``numerical_grad`` works on every backend. ``autograd_grad`` asks the backend's
own automatic differentiation (``torch.autograd``, ``jax.grad``) to differentiate
the same mean loss, so the manual :func:`xpnet.backward` can be compared with it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _network
from . import _validation as check
from ._compat import device, is_jax_namespace, is_torch_namespace, namespace_name
from ._network import check_model
from ._optional import optional_import
from ._typing import Array, Layer, Model, like, named_leaves
from .backends import to_numpy

__all__ = ["autograd_grad", "max_relative_error", "mean_loss", "numerical_grad"]


def _rebuild(params: Model, arrays: list[Array]) -> Model:
    """Arrays (in the order of ``named_leaves``) back in the form of ``params``."""
    layers = tuple(Layer(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2))
    return (
        like(layers, params)
        if isinstance(params[0], tuple) or hasattr(params, "_fields")
        else tuple(arrays)
    )


def mean_loss(X: Array, y: Array, params: Model, /, **options: Any) -> Array:
    """The mean loss of the network on ``(X, y)``, as a 0-D array (forward pass only).

    ``options``: ``activation``, ``loss``, ``alpha``, ``sample_weight``, as for
    :func:`xpnet.loss_and_grad`.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict")
    >>> xpnet.gradcheck.mean_loss(X, y, params).shape
    ()
    """
    checked = check_model(X, params, y, **options)
    return _network.mean_loss(
        X,
        checked.target,
        checked.layers,
        xp=checked.xp,
        activation=checked.activation,
        loss=checked.loss,
        alpha=float(options.get("alpha", 0.0)),
        weights=checked.weights,
    )


def numerical_grad(
    X: Array, y: Array, params: Model, /, *, eps: float = 1e-6, **options: Any
) -> Model:
    """Central finite differences ``(J(theta + eps e_k) - J(theta - eps e_k)) / (2 eps)``.

    Two loss evaluations per parameter entry: meant for small networks. Use
    float64; the error is ``O(eps^2)`` away from the ReLU kink. ``eps`` is a finite
    number > 0; ``options`` as for :func:`mean_loss`.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.make_blobs(20, 2, 3, backend="array_api_strict", dtype="float64")
    >>> params = xpnet.init_params(2, 4, 3, xp="array_api_strict", dtype="float64")
    >>> numeric, manual = xpnet.numerical_grad(X, y, params), xpnet.backward(X, y, params)
    >>> xpnet.max_relative_error(numeric, manual) < 1e-6
    True
    """
    checked = check_model(X, params, y, **options)
    eps = check.check_real(eps, "eps", low=0.0, strict=True)
    xp, dev = checked.xp, device(X)
    arrays = named_leaves(params)[0]
    alpha = float(options.get("alpha", 0.0))

    def loss_at(candidate: list[Array]) -> Array:
        layers = tuple(Layer(candidate[i], candidate[i + 1]) for i in range(0, len(candidate), 2))
        return _network.mean_loss(
            X,
            checked.target,
            layers,
            xp=xp,
            activation=checked.activation,
            loss=checked.loss,
            alpha=alpha,
            weights=checked.weights,
        )

    grads = []
    for i, p in enumerate(arrays):
        count = 1
        for s in p.shape:
            count *= s
        entries = []
        positions = xp.arange(count, device=dev)
        for k in range(count):
            bump = eps * xp.reshape(xp.astype(positions == k, p.dtype), p.shape)
            plus = [q + bump if j == i else q for j, q in enumerate(arrays)]
            minus = [q - bump if j == i else q for j, q in enumerate(arrays)]
            entries.append((loss_at(plus) - loss_at(minus)) / (2 * eps))
        grads.append(xp.reshape(xp.stack(entries), p.shape))
    return _rebuild(params, grads)


def autograd_grad(X: Array, y: Array, params: Model, /, **options: Any) -> Model:
    """Gradients of the mean loss by the backend's autodiff: ``torch.autograd`` or ``jax.grad``.

    Raises ``TypeError`` for backends without automatic differentiation
    (NumPy, array-api-strict); use :func:`numerical_grad` there. ``options`` as for
    :func:`mean_loss`.
    """
    checked = check_model(X, params, y, **options)
    xp = checked.xp
    arrays = named_leaves(params)[0]
    if is_torch_namespace(xp):
        torch = optional_import("torch")

        leaves = [p.detach().clone().requires_grad_(True) for p in arrays]
        loss = mean_loss(X, y, _rebuild(params, leaves), **options)
        return _rebuild(params, list(torch.autograd.grad(loss, leaves)))
    if is_jax_namespace(xp):
        jax = optional_import("jax")

        return jax.grad(lambda p: mean_loss(X, y, p, **options))(params)
    raise TypeError(
        f"params: {namespace_name(xp)} has no automatic differentiation; "
        "use xpnet.numerical_grad, or move the arrays to torch or jax"
    )


def max_relative_error(a: Model, b: Model, /, *, floor: float = 1e-8) -> float:
    """``max |a - b| / max(|a|, |b|, floor)`` over every entry of two gradient sets.

    ``a`` and ``b`` are parameters or gradients of one network (two :class:`Params`, two
    tuples of :class:`Layer`, or two lists of arrays), with arrays of equal shapes, of any
    backends: each pair is compared on the host in float64. ``floor`` (a finite number
    > 0) keeps entries near zero from dividing by zero. A NaN anywhere gives NaN.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> a = xpnet.Params(*(xp.ones(2) for _ in range(4)))
    >>> xpnet.max_relative_error(a, a)
    0.0
    """
    pairs = _host_pairs(a, b)
    floor = check.check_real(floor, "floor", low=0.0, strict=True)
    worst = 0.0
    for p_host, q_host in pairs:
        if p_host.size == 0:
            continue
        scale = np.maximum(np.maximum(np.abs(p_host), np.abs(q_host)), floor)
        error = float(np.max(np.abs(p_host - q_host) / scale))
        if math.isnan(error):
            return math.nan  # Python's max would drop it, and a broken gradient would pass
        worst = max(worst, error)
    return worst


def _flat(tree: Any, name: str) -> tuple[list[Array], list[str]]:
    """The arrays of ``tree`` (a list of arrays, Params or a tuple of Layer) and their names."""
    if isinstance(tree, list):
        return list(tree), [f"{name}[{i}]" for i in range(len(tree))]
    return named_leaves(tree, name)


def _host_pairs(a: Model, b: Model) -> list[tuple[np.ndarray, np.ndarray]]:
    """Float64 host copies of the arrays of ``a`` and ``b``, which must match in shapes."""
    (left, left_names), (right, right_names) = _flat(a, "a"), _flat(b, "b")
    if len(left) != len(right):
        raise ValueError(f"b: has {len(right)} arrays but a has {len(left)}")
    for p, q, name_p, name_q in zip(left, right, left_names, right_names):
        check.check_array(p, name_p)
        check.check_array(q, name_q)
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(
                f"{name_q}: shape {tuple(q.shape)} differs from {name_p}'s {tuple(p.shape)}"
            )
    pairs = []
    for p, q, name_p, name_q in zip(left, right, left_names, right_names):
        hosts = []
        for name, x in ((name_p, p), (name_q, q)):
            host = to_numpy(x)
            if host.dtype.kind not in "fiu":
                raise TypeError(f"{name}: expected a real array, got dtype {x.dtype}")
            hosts.append(host.astype(np.float64))
        pairs.append((hosts[0], hosts[1]))
    return pairs
