"""Check the hand-derived gradients: central finite differences and autograd oracles.

``numerical_grad`` works on every backend. ``autograd_grad`` asks the backend's
own automatic differentiation (``torch.autograd``, ``jax.grad``) to differentiate
the same mean loss, so the manual :func:`xpnet.backward` can be compared with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validation as check
from ._compat import device, is_jax_namespace, is_torch_namespace, namespace_name
from .backends import to_numpy
from .functional import _cross_entropy
from .mlp import Params, _check_model, _forward

__all__ = ["autograd_grad", "max_relative_error", "mean_loss", "numerical_grad"]

Array = Any


def mean_loss(X: Array, y: Array, params: Params, /) -> Array:
    """The mean cross-entropy of the network on ``(X, y)``, as a 0-D array.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict")
    >>> xpnet.gradcheck.mean_loss(X, y, params).shape
    ()
    """
    xp = _check_model(X, params, y)
    return _cross_entropy(_forward(X, params, xp=xp)[1], y, xp=xp)


def numerical_grad(X: Array, y: Array, params: Params, /, *, eps: float = 1e-6) -> Params:
    """Central finite differences ``(J(theta + eps e_k) - J(theta - eps e_k)) / (2 eps)``.

    Two loss evaluations per parameter entry: meant for small networks. Use
    float64; the error is ``O(eps^2)`` away from the ReLU kink. ``eps`` is a
    finite number > 0.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.make_blobs(20, 2, 3, backend="array_api_strict", dtype="float64")
    >>> params = xpnet.init_params(2, 4, 3, xp="array_api_strict", dtype="float64")
    >>> numeric, manual = xpnet.numerical_grad(X, y, params), xpnet.backward(X, y, params)
    >>> xpnet.max_relative_error(numeric, manual) < 1e-6
    True
    """
    xp = _check_model(X, params, y)
    eps = check.check_real(eps, "eps", low=0.0, strict=True)
    dev = device(X)

    def loss_at(candidate: Params) -> Array:
        return _cross_entropy(_forward(X, candidate, xp=xp)[1], y, xp=xp)

    grads = []
    for i, p in enumerate(params):
        count = 1
        for s in p.shape:
            count *= s
        entries = []
        positions = xp.arange(count, device=dev)
        for k in range(count):
            bump = eps * xp.reshape(xp.astype(positions == k, p.dtype), p.shape)
            plus = Params(*(q + bump if j == i else q for j, q in enumerate(params)))
            minus = Params(*(q - bump if j == i else q for j, q in enumerate(params)))
            entries.append((loss_at(plus) - loss_at(minus)) / (2 * eps))
        grads.append(xp.reshape(xp.stack(entries), p.shape))
    return Params(*grads)


def autograd_grad(X: Array, y: Array, params: Params, /) -> Params:
    """Gradients of the mean loss by the backend's autodiff: ``torch.autograd`` or ``jax.grad``.

    Raises ``TypeError`` for backends without automatic differentiation
    (NumPy, array-api-strict); use :func:`numerical_grad` there.
    """
    xp = _check_model(X, params, y)
    if is_torch_namespace(xp):
        import torch

        leaves = [p.detach().clone().requires_grad_(True) for p in params]
        loss = mean_loss(X, y, Params(*leaves))
        return Params(*torch.autograd.grad(loss, leaves))
    if is_jax_namespace(xp):
        import jax

        return Params(*jax.grad(lambda p: mean_loss(X, y, p))(params))
    raise TypeError(
        f"params: {namespace_name(xp)} has no automatic differentiation; "
        "use xpnet.numerical_grad, or move the arrays to torch or jax"
    )


def max_relative_error(a: Sequence[Any], b: Sequence[Any], /, *, floor: float = 1e-8) -> float:
    """``max |a - b| / max(|a|, |b|, floor)`` over every entry of two gradient sets.

    ``a`` and ``b`` are tuples of arrays of equal shapes (two :class:`Params`, or
    two tuples of layers' arrays), of any backends: each pair is compared on the
    host in float64. ``floor`` (a finite number > 0) keeps entries near zero from
    dividing by zero. A NaN anywhere gives NaN; two empty sets give 0.0.

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


def _leaves(tree: Any, name: str) -> list[tuple[str, Any]]:
    """The named arrays of a tuple of arrays, or of a tuple of tuples of arrays (layers)."""
    if not isinstance(tree, (tuple, list)):
        got = type(tree).__name__
        raise TypeError(f"{name}: expected a tuple of arrays such as Params, got {got}")
    fields = getattr(tree, "_fields", None) or [f"[{i}]" for i in range(len(tree))]
    leaves: list[tuple[str, Any]] = []
    for field, item in zip(fields, tree):
        child = f"{name}.{field}" if not field.startswith("[") else f"{name}{field}"
        if isinstance(item, (tuple, list)):
            leaves += _leaves(item, child)
        else:
            leaves.append((child, item))
    return leaves


def _host_pairs(a: Any, b: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Float64 host copies of the arrays of ``a`` and ``b``, which must match in shapes."""
    left, right = _leaves(a, "a"), _leaves(b, "b")
    if len(left) != len(right):
        raise ValueError(f"b: has {len(right)} arrays but a has {len(left)}")
    for (name_p, p), (name_q, q) in zip(left, right):
        check.check_array(p, name_p)
        check.check_array(q, name_q)
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(
                f"{name_q}: shape {tuple(q.shape)} differs from {name_p}'s {tuple(p.shape)}"
            )
    pairs = []
    for (name_p, p), (name_q, q) in zip(left, right):
        hosts = []
        for name, x in ((name_p, p), (name_q, q)):
            host = to_numpy(x)
            if host.dtype.kind not in "fiu":
                raise TypeError(f"{name}: expected a real array, got dtype {x.dtype}")
            hosts.append(host.astype(np.float64))
        pairs.append((hosts[0], hosts[1]))
    return pairs
