"""The one door to array-api-compat: every other module imports from here.

Keeping the dependency in one place makes it easy to see which helpers of
array-api-compat the library relies on, and to patch around their quirks once.
"""

from __future__ import annotations

import sys
from collections import Counter
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

    When ``names`` is given, a mix of libraries (or something that is no array)
    raises a ``TypeError`` that starts with the name of the odd one out, instead
    of array-api-compat's generic one.
    """
    try:
        return _array_namespace(*arrays)
    except TypeError as exc:
        if names is None:
            raise
        named = [(name, a) for name, a in zip(names, arrays) if a is not None]
        libraries = [_library(a) for _, a in named]
        common = Counter(libraries).most_common(1)[0][0]
        odd = [name for (name, _), library in zip(named, libraries) if library != common]
        kinds = ", ".join(f"{name}: {_kind(a)}" for name, a in named)
        if odd:
            first = dict(named)[odd[0]]
            raise TypeError(
                f"{odd[0]}: is a {_kind(first)} but the other arrays come from {common}; "
                f"all arrays must come from one backend ({kinds})"
            ) from None
        raise TypeError(f"{named[0][0]}: {exc} ({kinds})") from None


def _library(x: Any) -> str:
    """The backend name of one array ("jax", not its module "jaxlib"), or its module's root."""
    try:
        return namespace_name(_array_namespace(x))
    except TypeError:
        return type(x).__module__.split(".")[0]


def _kind(x: Any) -> str:
    return f"{type(x).__module__}.{type(x).__name__}"


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
    from .backends import _lazy_hook  # the registry may know better (ndonnx: values propagate)

    hook = _lazy_hook(x)
    return bool(hook(x) if hook is not None else is_lazy_array(x))


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
