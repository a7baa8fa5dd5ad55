"""Backend names, their Array-API namespaces, and moving data between them.

This is the only place (with :mod:`xpnet.datasets` and :mod:`xpnet.gradcheck`)
that knows the backends by name. The math in :mod:`xpnet.functional`,
:mod:`xpnet.mlp` and :mod:`xpnet.optim` never does: it follows its inputs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from typing import Any

import numpy as np

from ._compat import (
    array_namespace,
    is_array_api_obj,
    is_array_api_strict_namespace,
    is_jax_array,
    is_jax_namespace,
    is_torch_array,
    namespace_name,
)

__all__ = [
    "BACKENDS",
    "asarray",
    "available_backends",
    "backend_name",
    "canonical_backend",
    "default_float_dtype",
    "jax_x64_enabled",
    "namespace",
    "resolve_dtype",
    "to_numpy",
]

Array = Any
Namespace = Any

#: Every backend xpnet knows, in the order they are listed and tested.
BACKENDS: tuple[str, ...] = ("numpy", "array_api_strict", "torch", "jax")

_MODULES = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "jax": "jax",
}
_ALIASES = {"np": "numpy", "strict": "array_api_strict", "pytorch": "torch", "jnp": "jax"}


def available_backends() -> list[str]:
    """The backends that are installed, in the order of :data:`BACKENDS`.

    Examples
    --------
    >>> import xpnet
    >>> "numpy" in xpnet.available_backends()
    True
    """
    return [name for name in BACKENDS if importlib.util.find_spec(_MODULES[name]) is not None]


def canonical_backend(name: str) -> str:
    """The canonical name of a backend: aliases (``np``, ``strict``, ``pytorch``) resolved.

    Examples
    --------
    >>> from xpnet.backends import canonical_backend
    >>> canonical_backend("np"), canonical_backend("array-api-strict")
    ('numpy', 'array_api_strict')
    """
    key = name.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in BACKENDS:
        raise ValueError(f"backend: unknown backend {name!r}; known backends are {list(BACKENDS)}")
    return key


def namespace(backend: str | Namespace) -> Namespace:
    """The Array-API namespace of a backend, given by name.

    The namespace is the one :func:`array_api_compat.array_namespace` returns for
    that backend's arrays, so ``namespace("torch")`` is ``array_api_compat.torch``
    and ``namespace("jax")`` is ``jax.numpy``. A namespace passes through unchanged.

    Examples
    --------
    >>> import xpnet
    >>> xp = xpnet.namespace("numpy")
    >>> xp.__name__
    'array_api_compat.numpy'
    """
    if not isinstance(backend, str):
        return backend
    name = canonical_backend(backend)
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError:
        extra = {"array_api_strict": "strict"}.get(name, name)
        raise ImportError(
            f"backend: {name!r} is not installed; install it with `pip install 'xpnet[{extra}]'`"
        ) from None
    if name == "jax":
        return importlib.import_module("jax.numpy")
    return array_namespace(module.asarray(0))


def backend_name(x: Array | Namespace) -> str:
    """The backend name (``"numpy"``, ``"torch"``, ...) of an array or a namespace.

    Examples
    --------
    >>> import numpy as np, xpnet
    >>> xpnet.backend_name(np.zeros(3))
    'numpy'
    """
    # is_array_api_obj, not hasattr(x, "__array_namespace__"): torch tensors lack that method.
    if is_array_api_obj(x):
        return namespace_name(array_namespace(x))
    return namespace_name(x)


def jax_x64_enabled() -> bool:
    """Whether JAX computes in 64 bits (``jax.config.jax_enable_x64``)."""
    jax = sys.modules.get("jax")
    return bool(jax is not None and jax.config.read("jax_enable_x64"))


def _x64_error(what: str) -> ValueError:
    return ValueError(
        f"{what}: float64 was asked of JAX while jax_enable_x64 is off, and JAX would "
        "silently compute in float32. Call jax.config.update('jax_enable_x64', True) "
        "before creating arrays, or ask for dtype='float32'."
    )


def resolve_dtype(xp: Namespace, dtype: Any, *, name: str = "dtype") -> Any:
    """The namespace's dtype object for ``dtype``: a name (``"float32"``) or a dtype.

    ``None`` passes through. A float64 asked of JAX with x64 off raises ``ValueError``.

    Examples
    --------
    >>> import xpnet
    >>> xp = xpnet.namespace("numpy")
    >>> xpnet.backends.resolve_dtype(xp, "float32") == xp.float32
    True
    """
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if not hasattr(xp, dtype) or dtype not in _DTYPE_NAMES:
            raise TypeError(f"{name}: unknown dtype name {dtype!r}; use one of {_DTYPE_NAMES}")
        resolved = getattr(xp, dtype)
    else:
        resolved = _same_dtype_in(xp, dtype, name=name)
    if is_jax_namespace(xp) and resolved == xp.float64 and not jax_x64_enabled():
        raise _x64_error(name)
    return resolved


_DTYPE_NAMES = (
    "float32",
    "float64",
    "float16",
    "int32",
    "int64",
    "int16",
    "int8",
    "uint8",
    "bool",
)


def _same_dtype_in(xp: Namespace, dtype: Any, *, name: str) -> Any:
    """Map a dtype object of any backend (``np.float32``, ``torch.float64``) onto ``xp``."""
    with warnings.catch_warnings():
        # array-api-strict warns when its dtypes are compared with NumPy's; the name
        # below is how such a foreign dtype is matched.
        warnings.simplefilter("ignore", UserWarning)
        for candidate in _DTYPE_NAMES:
            if hasattr(xp, candidate) and dtype == getattr(xp, candidate):
                return getattr(xp, candidate)
    text = str(dtype).rsplit(".", 1)[-1].strip("'>")
    if text in _DTYPE_NAMES and hasattr(xp, text):
        return getattr(xp, text)
    raise TypeError(f"{name}: {dtype!r} is not a dtype of {namespace_name(xp)}")


def default_float_dtype(xp: Namespace, device: Any = None) -> Any:
    """The namespace's default real floating dtype (float32 for torch and 32-bit JAX)."""
    return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]


def _resolve_device(name: str, device: Any) -> Any:
    if device is None or not isinstance(device, str):
        return device
    if name == "jax":
        import jax

        platform, _, index = device.partition(":")
        platform = {"cuda": "gpu"}.get(platform, platform)
        return jax.devices(platform)[int(index or 0)]
    if name == "array_api_strict":
        import array_api_strict

        # "cpu" is the name every other backend knows its host device by.
        strict_name = "CPU_DEVICE" if device.lower() == "cpu" else device
        try:
            return array_api_strict.Device(strict_name)
        except ValueError:
            known = [str(d) for d in array_api_strict.__array_namespace_info__().devices()]
            raise ValueError(
                f"device: array_api_strict has no device {device!r}; use 'cpu' or one of {known}"
            ) from None
    if name == "numpy" and device != "cpu":
        raise ValueError(f"device: NumPy arrays live on 'cpu' only, got {device!r}")
    return device


def to_numpy(x: Array) -> np.ndarray:
    """A NumPy copy (or view) of an array of any backend, on the host.

    Examples
    --------
    >>> import xpnet
    >>> x = xpnet.asarray([1.0, 2.0], backend="numpy")
    >>> xpnet.to_numpy(x)
    array([1., 2.])
    """
    if isinstance(x, np.ndarray):
        return x
    if is_torch_array(x):
        return x.detach().cpu().resolve_conj().resolve_neg().numpy()
    if is_jax_array(x):
        return np.asarray(x)
    if hasattr(x, "__array_namespace__"):
        xp = array_namespace(x)
        if is_array_api_strict_namespace(xp):
            import array_api_strict

            x = x.to_device(array_api_strict.Device("CPU_DEVICE"))
        return np.asarray(x)
    return np.asarray(x)


def asarray(
    x: Any,
    /,
    *,
    backend: str | Namespace | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Array:
    """Put data onto a backend: from lists, NumPy, or another backend's arrays.

    Parameters
    ----------
    x : array_like
        Nested lists, scalars, or an array of any installed backend.
    backend : str or namespace, optional
        Target backend (``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"jax"``)
        or its namespace. Default: the backend of ``x`` (NumPy for lists).
    dtype : str or dtype, optional
        ``"float32"``, ``"float64"``, ... or a dtype object. Default: keep the dtype.
    device : str or device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"gpu"`` (JAX) or a device object.

    Returns
    -------
    array
        The data on the target backend. JAX float64 with ``jax_enable_x64`` off
        raises ``ValueError`` rather than silently becoming float32.

    Examples
    --------
    >>> import xpnet
    >>> x = xpnet.asarray([[1, 2], [3, 4]], backend="array_api_strict", dtype="float64")
    >>> x.shape, xpnet.backend_name(x)
    ((2, 2), 'array_api_strict')
    """
    if backend is None:
        backend = backend_name(x) if is_array_api_obj(x) else "numpy"
    xp = namespace(backend)
    name = namespace_name(xp)
    target = resolve_dtype(xp, dtype)
    same_backend = is_array_api_obj(x) and backend_name(x) == name
    data = x if same_backend else _host_data(x)
    if target is None and name == "jax" and not jax_x64_enabled():
        target = _jax_32bit_dtype(xp, data)
    return xp.asarray(data, dtype=target, device=_resolve_device(name, device))


def _host_data(x: Any) -> Any:
    host = to_numpy(x) if is_array_api_obj(x) else np.asarray(x)
    # Read-only memory (a JAX buffer, a read-only NumPy array) is copied: torch would
    # otherwise share it, and an in-place write on the tensor would change the source.
    return host if host.flags.writeable else host.copy()


def _jax_32bit_dtype(xp: Namespace, data: Any) -> Any:
    """JAX without x64: refuse float64 data, narrow int64 labels on purpose (no warning)."""
    kind = getattr(data, "dtype", None)
    if kind is None:
        return None
    if kind == np.float64 or str(kind) == "float64":
        raise _x64_error("x")
    if kind == np.int64 or str(kind) == "int64":
        return xp.int32
    return None
