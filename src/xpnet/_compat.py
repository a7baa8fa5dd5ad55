"""The one door to array-api-compat: every other module imports from here.

Keeping the dependency in one place makes it easy to see which helpers of
array-api-compat the library relies on, and to patch around their quirks once.
"""

from __future__ import annotations

import sys
from typing import Any

from array_api_compat import (
    array_namespace as _array_namespace,
)
from array_api_compat import (
    device,
    is_array_api_obj,
    is_array_api_strict_namespace,
    is_jax_array,
    is_jax_namespace,
    is_lazy_array,
    is_numpy_array,
    is_numpy_namespace,
    is_torch_array,
    is_torch_namespace,
    size,
    to_device,
)

__all__ = [
    "array_namespace",
    "device",
    "is_array_api_obj",
    "is_array_api_strict_namespace",
    "is_jax_array",
    "is_jax_namespace",
    "is_numpy_array",
    "is_numpy_namespace",
    "is_torch_array",
    "is_torch_namespace",
    "is_traced",
    "namespace_name",
    "size",
    "to_device",
]

Array = Any
Namespace = Any


def array_namespace(*arrays: Array, names: tuple[str, ...] | None = None) -> Namespace:
    """The Array-API namespace shared by ``arrays`` (``None`` entries are ignored).

    Arrays of two different libraries raise a ``TypeError`` that names the
    arguments (when ``names`` is given) instead of array-api-compat's generic one.
    """
    try:
        return _array_namespace(*arrays)
    except TypeError as exc:
        if names is None:
            raise
        kinds = [
            f"{name}: {type(a).__module__}.{type(a).__name__}"
            for name, a in zip(names, arrays)
            if a is not None
        ]
        raise TypeError(
            "all arrays must come from one backend, got " + ", ".join(kinds) + f" ({exc})"
        ) from None


def is_traced(x: Array) -> bool:
    """True when the values of ``x`` cannot be read now (a JAX tracer, a Dask array).

    ``array_api_compat.is_lazy_array`` answers True for every JAX array, even a
    concrete one; the public value checks (labels in range, finite inputs) must
    still run on concrete JAX arrays, so a JAX array counts as traced only when it
    really is a ``jax.core.Tracer``.
    """
    if is_jax_array(x):
        jax = sys.modules["jax"]
        return isinstance(x, jax.core.Tracer)
    return bool(is_lazy_array(x))


def namespace_name(xp: Namespace) -> str:
    """The backend name of a namespace: ``"numpy"``, ``"torch"``, ``"jax"``, ..."""
    if is_numpy_namespace(xp):
        return "numpy"
    if is_torch_namespace(xp):
        return "torch"
    if is_jax_namespace(xp):
        return "jax"
    if is_array_api_strict_namespace(xp):
        return "array_api_strict"
    return str(getattr(xp, "__name__", type(xp).__name__))
