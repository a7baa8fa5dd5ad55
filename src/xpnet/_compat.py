"""The one door to array-api-compat: every other module imports from here.

Keeping the dependency in one place makes it easy to see which helpers of
array-api-compat the library relies on, and to patch around their quirks once.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any, NoReturn

from array_api_compat import (
    array_namespace as _array_namespace,
)
from array_api_compat import (
    device as _device,
)
from array_api_compat import (
    is_array_api_obj,
    is_array_api_strict_namespace,
    is_dask_array,
    is_dask_namespace,
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

from ._typing import Array, Namespace

__all__ = [
    "ARRAY_TYPES",
    "HOST_ONLY_TYPES",
    "array_namespace",
    "device",
    "is_array",
    "is_array_api_obj",
    "is_array_api_strict_namespace",
    "is_dask_array",
    "is_dask_namespace",
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


#: The namespace of each array type met so far: one dict lookup per array on later calls,
#: instead of array-api-compat's checks (the lecture's loop makes thousands of calls).
_NAMESPACES: dict[type, Namespace] = {}
#: The array types met so far (the keys of the dict above, for the checks' fast paths).
ARRAY_TYPES = _NAMESPACES.keys()
#: The array types met so far whose arrays all live on the host CPU, one device (NumPy's).
HOST_ONLY_TYPES: set[type] = set()


def array_namespace(*arrays: Array, names: tuple[str, ...] | None = None) -> Namespace:
    """The Array-API namespace shared by ``arrays``; every one of them must be an array.

    Unlike array-api-compat's, this one does not skip ``None`` or Python scalars:
    anything that is no array (``None``, ``3.0``, a list, a string) raises a
    ``TypeError`` that starts with its name in ``names`` (``"y: expected an array,
    got float"``), and so does a mix of libraries (``"y: is a torch.Tensor but the
    other arrays come from numpy; ..."``). Without ``names`` the arguments are
    called ``x``, or ``arrays[i]`` when there are several.

    The namespace is looked up once per array type and cached: a NumPy array is
    always ``array_api_compat.numpy``, a JAX array or tracer always ``jax.numpy``.
    (array-api-compat counts a NumPy array of JAX's ``float0`` dtype as JAX; here it
    stays NumPy, and the dtype checks refuse it.)
    """
    xp = None
    for a in arrays:
        candidate = _NAMESPACES.get(type(a))
        if candidate is None:
            candidate = _namespace_of_new_type(a, arrays, names)
        if xp is None:
            xp = candidate
        elif candidate is not xp:
            _raise_mixed(arrays, names)
    if xp is None:
        raise TypeError("array_namespace: no arrays given")
    return xp


def _names(arrays: tuple[Array, ...], names: tuple[str, ...] | None) -> tuple[str, ...]:
    if names is not None:
        return names
    return ("x",) if len(arrays) == 1 else tuple(f"arrays[{i}]" for i in range(len(arrays)))


def _namespace_of_new_type(
    x: Array, arrays: tuple[Array, ...], names: tuple[str, ...] | None
) -> Namespace:
    """The namespace of ``x``, whose type was not met before (cached when it is an array)."""
    if not is_array_api_obj(x):
        # None, Python scalars (which array-api-compat skips), lists, strings, ... A NumPy
        # scalar such as np.float64(1.0) subclasses float but counts as a 0-D array.
        _raise_not_an_array(x, arrays, names)
    try:
        xp = _array_namespace(x)
    except TypeError:
        _raise_not_an_array(x, arrays, names)
    kind = type(x)
    if not (is_numpy_array(x) and getattr(x.dtype, "kind", "") == "V"):  # JAX's float0
        _NAMESPACES[kind] = xp
        if is_numpy_namespace(xp):
            HOST_ONLY_TYPES.add(kind)
    return xp


def is_array(x: Any) -> bool:
    """Whether ``x`` is an array of some backend (a NumPy scalar counts as a 0-D array)."""
    return type(x) in _NAMESPACES or bool(is_array_api_obj(x))


def _raise_not_an_array(
    x: Any, arrays: tuple[Array, ...], names: tuple[str, ...] | None
) -> NoReturn:
    position = next(i for i, a in enumerate(arrays) if a is x)
    name = _names(arrays, names)[position]
    got = "None" if x is None else type(x).__name__
    raise TypeError(f"{name}: expected an array, got {got}")


def _raise_mixed(arrays: tuple[Array, ...], names: tuple[str, ...] | None) -> NoReturn:
    """A ``TypeError`` naming the array whose library differs from most of the others'."""
    named = list(zip(_names(arrays, names), arrays))
    libraries = [_library(a) for _, a in named]
    common = Counter(libraries).most_common(1)[0][0]
    odd = next(
        (name for (name, _), library in zip(named, libraries) if library != common), named[-1][0]
    )
    kinds = ", ".join(f"{name}: {_kind(a)}" for name, a in named)
    raise TypeError(
        f"{odd}: is a {_kind(dict(named)[odd])} but the other arrays come from {common}; "
        f"all arrays must come from one backend ({kinds})"
    )


def _library(x: Any) -> str:
    """The backend name of one array ("jax", not its module "jaxlib"), or its module's root."""
    try:
        return namespace_name(_array_namespace(x))
    except TypeError:
        return type(x).__module__.split(".")[0]


def _kind(x: Any) -> str:
    return f"{type(x).__module__}.{type(x).__name__}"


#: Filled in by :mod:`xpnet.backends` (which imports this module, never the other way):
#: ``lookup(x)`` gives the registered ``lazy`` hook of ``x``'s backend, or None.
LAZY_HOOK: list[Any] = []

#: Per array type: False when its values can always be read (NumPy, torch), True when never
#: (a JAX tracer, Dask), absent when it depends on the array (asked each time).
_TRACED_TYPES: dict[type, bool] = {}


def device(x: Array) -> Any:
    """The device of ``x``, as ``array_api_compat.device``, except for a JAX array split
    over several devices: there, a sharding that replicates over the same devices.

    New arrays are made ``device=device(x)``; for a row-sharded JAX array (data
    parallelism), an array of another shape (``arange(K)``, a bias) cannot take the rows'
    sharding, and a copy on each of the same devices is what the computation needs.
    """
    placement = _device(x)
    mesh = getattr(placement, "mesh", None)
    if mesh is not None and is_jax_array(x) and not placement.is_fully_replicated:
        jax = sys.modules["jax"]
        return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return placement


def is_traced(x: Array) -> bool:
    """True when the values of ``x`` cannot be read now (a JAX tracer, a Dask array).

    ``array_api_compat.is_lazy_array`` answers True for every JAX array, even a
    concrete one; the public value checks (labels in range, finite inputs) must
    still run on concrete JAX arrays, so a JAX array counts as traced only when it
    really is a ``jax.core.Tracer``. The answer is cached per array type.
    """
    kind = type(x)
    known = _TRACED_TYPES.get(kind)
    if known is not None:
        return known
    if is_jax_array(x):
        traced = isinstance(x, sys.modules["jax"].core.Tracer)
        _TRACED_TYPES[kind] = traced
        return traced
    if is_numpy_array(x) or is_torch_array(x) or is_dask_array(x):
        _TRACED_TYPES[kind] = bool(is_lazy_array(x))
        return _TRACED_TYPES[kind]
    # the registry may know better (ndonnx: values propagate); it fills LAZY_HOOK in
    hook = LAZY_HOOK[0](x) if LAZY_HOOK else None
    return bool(hook(x) if hook is not None else is_lazy_array(x))


def host_view(x: Array) -> Any:
    """``x`` as a NumPy array without a copy where its memory is the host's: a JAX array
    on one CPU device (a read-only view); ``None`` for everything else (NumPy itself,
    accelerators, several devices, traced arrays).

    JAX compiles every eager operation once per shape, so bookkeeping that is cheap in
    NumPy (a finiteness test, padding rows, decoding labels) costs a compilation per
    operation and data-set size, tens of milliseconds each; on a host view it costs none.
    """
    if not is_jax_array(x) or is_traced(x):
        return None
    devices = x.devices()
    if len(devices) != 1 or next(iter(devices)).platform != "cpu":
        return None
    import numpy as np

    return np.asarray(x)


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
