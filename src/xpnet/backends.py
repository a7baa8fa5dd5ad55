"""The backend registry: names -> array libraries, their namespaces, moving data between them.

This is the only place (with :mod:`xpnet.datasets`) that knows backends by name. The math
in :mod:`xpnet.functional`, :mod:`xpnet.mlp` and :mod:`xpnet.optim` never does: it
follows its inputs. A backend is a :class:`BackendSpec` made by :func:`register`: which
module to import, how to get its Array-API namespace, and the few hooks where a library
needs more than the standard (moving arrays to the host, naming devices, refusing a
dtype). The built-in backends are registered below through the same call; third-party
packages register theirs with :func:`register` or through the entry-point group
``xpnet.backends``, read once, the first time a name is looked up::

    [project.entry-points."xpnet.backends"]
    mylib = "mylib_xpnet:register"   # a function that calls xpnet.backends.register("mylib", ...)
    cupy = "cupy"                    # or the module itself: register("cupy", module=cupy)
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, overload

import numpy as np

from . import _compat
from ._compat import array_namespace, is_array_api_obj, namespace_name
from ._optional import optional_import
from ._typing import Array, Namespace

__all__ = [
    "BACKENDS",
    "BackendSpec",
    "asarray",
    "available_backends",
    "backend_name",
    "canonical_backend",
    "default_float_dtype",
    "get_backend",
    "jax_x64_enabled",
    "namespace",
    "register",
    "resolve_dtype",
    "to_numpy",
    "unregister",
]


#: The entry-point group that third-party packages list their backends under.
ENTRY_POINT_GROUP = "xpnet.backends"

#: The functions of the standard that the network uses, checked once per backend.
_REQUIRED = (
    "all", "arange", "argmax", "asarray", "astype", "exp", "isdtype", "isfinite", "log",
    "matmul", "max", "maximum", "reshape", "stack", "sum", "take", "where", "zeros",
)  # fmt: skip


@dataclass(frozen=True)
class BackendSpec:
    """One registered backend: how to import it and talk to it (see :func:`register`)."""

    name: str
    module: str | ModuleType
    namespace_hook: Callable[[ModuleType], Namespace] | None = None
    to_numpy_hook: Callable[[Array], np.ndarray] | None = None
    from_numpy_hook: Callable[..., Array] | None = None
    device_hook: Callable[[str], Any] | None = None
    dtype_guard: Callable[[Namespace, Any, str], None] | None = None
    lazy_hook: Callable[[Array], bool] | None = None
    default_dtype: str | None = None
    aliases: tuple[str, ...] = ()
    install: str = ""
    _loaded: list[Namespace] = field(default_factory=list, repr=False, compare=False)

    @property
    def installed(self) -> bool:
        """Whether the module's top-level package is there (found, not imported)."""
        if isinstance(self.module, ModuleType):
            return True
        root = self.module.split(".", 1)[0]
        return root in sys.modules or importlib.util.find_spec(root) is not None

    @property
    def module_name(self) -> str:
        return self.module.__name__ if isinstance(self.module, ModuleType) else self.module

    def namespace(self) -> Namespace:
        """The Array-API namespace, made on first use and kept."""
        if not self._loaded:
            self._loaded.append(self._make_namespace())
        return self._loaded[0]

    def _make_namespace(self) -> Namespace:
        module = self.module
        if not isinstance(module, ModuleType):
            try:
                module = importlib.import_module(module)
            except ImportError as exc:
                raise ImportError(
                    f"backend: {self.name!r} needs the module {self.module!r}, which cannot "
                    f"be imported ({exc}); install it with `{self.install}`"
                ) from exc
        return _checked_namespace(self.name, module, self.namespace_hook)


def _checked_namespace(
    name: str, module: ModuleType, hook: Callable[[ModuleType], Namespace] | None
) -> Namespace:
    """``hook(module)``, or the namespace of ``module.asarray(0.0)``; TypeError if none."""
    try:
        xp = hook(module) if hook is not None else array_namespace(module.asarray(0.0))
    except (AttributeError, TypeError) as exc:
        raise TypeError(
            f"backend: {name!r}: module {module.__name__!r} gives no Array-API namespace ({exc})"
        ) from None
    missing = [attr for attr in _REQUIRED if not hasattr(xp, attr)]
    if missing:
        raise TypeError(
            f"backend: {name!r}: the namespace {getattr(xp, '__name__', xp)!r} lacks "
            f"{', '.join(missing)} of the Array API standard, which the network needs"
        )
    return xp


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


class _Registry:
    """The registered backends, and the entry points not loaded yet."""

    def __init__(self) -> None:
        self.specs: dict[str, BackendSpec] = {}
        self.aliases: dict[str, str] = {}
        self.pending: dict[str, importlib.metadata.EntryPoint] | None = None  # None: not read

    def names(self) -> list[str]:
        return [*self.specs, *self._pending()]

    def _pending(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self.pending is None:
            self.pending = {}
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                key = _key(entry.name)
                if key in self.specs or key in self.aliases:
                    continue  # registered in this process already (a built-in, or by hand)
                self.pending.setdefault(key, entry)
        return self.pending

    def get(self, name: str) -> BackendSpec | None:
        key = self.aliases.get(_key(name), _key(name))
        if key not in self.specs and key in self._pending():
            self._load_entry_point(key, self._pending().pop(key))
        return self.specs.get(key)

    def _load_entry_point(self, key: str, entry: importlib.metadata.EntryPoint) -> None:
        try:
            loaded = entry.load()
        except Exception as exc:
            raise ImportError(
                f"backend: {key!r}: its entry point {entry.value!r} "
                f"(group {ENTRY_POINT_GROUP!r}) failed to load: {exc}"
            ) from exc
        if isinstance(loaded, ModuleType):
            register(key, module=loaded)
        elif callable(loaded):
            loaded()
        if key not in self.specs:
            raise ImportError(
                f"backend: {key!r}: its entry point {entry.value!r} did not register it; "
                f"it must be a module or call xpnet.backends.register({key!r}, ...)"
            )

    def for_namespace(self, xp: Namespace) -> BackendSpec | None:
        """The backend whose namespace is ``xp``; loads those whose module is imported."""
        # in registration order, so that the first backend registered for a namespace names
        # its arrays whichever of them was used first
        for spec in self.specs.values():
            if spec._loaded:
                if spec._loaded[0] is xp:
                    return spec
                continue
            root = spec.module_name.split(".", 1)[0]
            if isinstance(spec.module, ModuleType) or root in sys.modules:
                try:
                    if spec.namespace() is xp:
                        return spec
                except (ImportError, TypeError):
                    continue
        return None


_REGISTRY = _Registry()


def _check_hook(value: Any, name: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name}: expected a callable or None, got {type(value).__name__}")


def register(
    name: str,
    *,
    module: str | ModuleType | None = None,
    namespace: Callable[[ModuleType], Namespace] | None = None,
    to_numpy: Callable[[Array], np.ndarray] | None = None,
    from_numpy: Callable[..., Array] | None = None,
    device: Callable[[str], Any] | None = None,
    dtype_guard: Callable[[Namespace, Any, str], None] | None = None,
    lazy: Callable[[Array], bool] | None = None,
    default_dtype: str | None = None,
    aliases: Iterable[str] = (),
    install: str | None = None,
    replace: bool = False,
) -> BackendSpec:
    """Make an array library a backend of xpnet, known by ``name``.

    A library that array-api-compat recognises (NumPy, CuPy, PyTorch, Dask, ndonnx,
    sparse, ...) or whose arrays have ``__array_namespace__`` needs nothing but its name
    (and its module, when the two differ). The hooks are for what the standard leaves
    open. Nothing is imported here: the module is imported the first time the backend is
    used.

    Parameters
    ----------
    name : str
        The backend's name, as given to ``backend=`` (case and ``-``/``_`` do not matter).
    module : str or module, optional
        The module to import, e.g. ``"dask.array"``. Default: ``name``.
    namespace : callable, optional
        ``namespace(module) -> xp``. Default: the namespace of ``module.asarray(0.0)``,
        as :func:`array_api_compat.array_namespace` finds it.
    to_numpy : callable, optional
        ``to_numpy(x) -> numpy.ndarray``, a host copy. Default: ``numpy.asarray(x)``.
    from_numpy : callable, optional
        ``from_numpy(data, *, xp, dtype, device) -> array`` for host data (``dtype`` may be
        ``None``: keep it). Default: ``xp.asarray(data, dtype=dtype, device=device)``.
    device : callable, optional
        ``device(text) -> device``: the library's device for a name such as ``"cpu"`` or
        ``"cuda:1"``. Default: the name is passed on as it is.
    dtype_guard : callable, optional
        ``dtype_guard(xp, dtype, argument)``: raise if ``dtype`` cannot be honoured
        (JAX refuses float64 while x64 is off). Default: every dtype is fine.
    lazy : callable, optional
        ``lazy(x) -> bool``: whether the values of ``x`` cannot be read now, so that the
        value checks (labels in range, finite inputs) must be skipped. Default:
        :func:`array_api_compat.is_lazy_array`, which says True for every array of a
        library that may be lazy (ndonnx, Dask), even one whose values are there.
    default_dtype : str, optional
        The default floating dtype's name. Default: from ``xp.__array_namespace_info__()``.
    aliases : iterable of str
        Other names for the backend (``"np"`` for NumPy).
    install : str, optional
        The command that installs it, shown when the import fails.
        Default: ``pip install <top-level package>``.
    replace : bool
        Replace a backend of the same name instead of raising ``ValueError``.

    Returns
    -------
    BackendSpec

    Examples
    --------
    >>> import xpnet
    >>> spec = xpnet.backends.register("strict_again", module="array_api_strict")
    >>> xpnet.namespace("strict_again") is xpnet.namespace("array_api_strict")
    True
    >>> xpnet.backends.register("strict_again", module="array_api_strict")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: name: the backend 'strict_again' is registered already; pass replace=True ...
    >>> xpnet.backends.unregister("strict_again")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty str, got {name!r}")
    if module is not None and not isinstance(module, (str, ModuleType)):
        raise TypeError(f"module: expected a module or its name, got {type(module).__name__}")
    hooks = {
        "namespace": namespace,
        "to_numpy": to_numpy,
        "from_numpy": from_numpy,
        "device": device,
        "dtype_guard": dtype_guard,
        "lazy": lazy,
    }
    for hook_name, hook in hooks.items():
        _check_hook(hook, hook_name)
    if isinstance(aliases, str) or not all(isinstance(a, str) for a in aliases):
        raise TypeError(f"aliases: expected an iterable of str, got {aliases!r}")
    if default_dtype is not None and not isinstance(default_dtype, str):
        raise TypeError(f"default_dtype: expected a dtype name, got {default_dtype!r}")
    key = _key(name)
    alias_keys = tuple(_key(a) for a in aliases)
    taken = [k for k in (key, *alias_keys) if k in _REGISTRY.specs or k in _REGISTRY.aliases]
    if taken and not replace:
        raise ValueError(
            f"name: the backend {taken[0]!r} is registered already; "
            "pass replace=True to replace it"
        )
    for old in taken:
        unregister(_REGISTRY.aliases.get(old, old))
    target = key if module is None else module
    root = (target if isinstance(target, str) else target.__name__).split(".", 1)[0]
    spec = BackendSpec(
        name=key,
        module=target,
        namespace_hook=namespace,
        to_numpy_hook=to_numpy,
        from_numpy_hook=from_numpy,
        device_hook=device,
        dtype_guard=dtype_guard,
        lazy_hook=lazy,
        default_dtype=default_dtype,
        aliases=alias_keys,
        install=install or f"pip install {root}",
    )
    if isinstance(target, ModuleType):
        spec.namespace()  # nothing to import: check it now
    _REGISTRY.specs[key] = spec
    _REGISTRY.aliases.update(dict.fromkeys(alias_keys, key))
    if _REGISTRY.pending is not None:
        _REGISTRY.pending.pop(key, None)
    return spec


def unregister(name: str) -> None:
    """Forget a registered backend (and its aliases); ``ValueError`` if unknown."""
    spec = _spec_named(name, "name")
    del _REGISTRY.specs[spec.name]
    for alias in spec.aliases:
        _REGISTRY.aliases.pop(alias, None)


def get_backend(name: str) -> BackendSpec:
    """The :class:`BackendSpec` registered as ``name`` (or an alias of it).

    Examples
    --------
    >>> import xpnet
    >>> xpnet.backends.get_backend("np").name
    'numpy'
    """
    return _spec_named(name, "name")


def _spec_named(name: Any, arg: str) -> BackendSpec:
    """The spec registered as ``name``; errors start with ``arg``, the caller's argument."""
    if not isinstance(name, str):
        raise TypeError(
            f"{arg}: expected a backend name (str) or an Array-API namespace, "
            f"got {type(name).__name__}"
        )
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ValueError(
            f"{arg}: unknown backend {name!r}; known backends are {_REGISTRY.names()}"
        )
    return spec


class _BackendNames(Sequence[str]):
    """The registered backend names, in registration order: a live, read-only tuple."""

    def _names(self) -> tuple[str, ...]:
        return tuple(_REGISTRY.names())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._names() == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._names())


#: Every registered backend, in the order they are listed and tested (a live tuple).
BACKENDS: Sequence[str] = _BackendNames()


def available_backends() -> list[str]:
    """The registered backends that are installed, in the order of :data:`BACKENDS`.

    Installed means that the library's top-level package is found; nothing is imported.

    Examples
    --------
    >>> import xpnet
    >>> "numpy" in xpnet.available_backends()
    True
    """
    names = []
    for name in _REGISTRY.names():
        try:
            spec = _REGISTRY.get(name)
        except ImportError as exc:  # a broken plug-in must not hide the others
            warnings.warn(str(exc), stacklevel=2)
            continue
        if spec is not None and spec.installed:
            names.append(spec.name)
    return names


def canonical_backend(name: str) -> str:
    """The canonical name of a backend: aliases (``np``, ``strict``, ``pytorch``) resolved.

    Examples
    --------
    >>> from xpnet.backends import canonical_backend
    >>> canonical_backend("np"), canonical_backend("array-api-strict")
    ('numpy', 'array_api_strict')
    """
    return _spec_named(name, "name").name


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
    if isinstance(backend, str):
        return _spec_named(backend, "backend").namespace()
    if isinstance(backend, ModuleType) or hasattr(backend, "__array_namespace_info__"):
        return backend
    raise TypeError(
        "backend: expected a backend name (str) or an Array-API namespace, "
        f"got {type(backend).__name__}"
    )


def _spec_of(xp: Namespace) -> BackendSpec | None:
    return _REGISTRY.for_namespace(xp)


def _lazy_hook(x: Array) -> Callable[[Array], bool] | None:
    """The ``lazy`` hook of the backend of array ``x``, if it has one."""
    try:
        spec = _spec_of(array_namespace(x))
    except TypeError:
        return None
    return spec.lazy_hook if spec is not None else None


_compat.LAZY_HOOK.append(_lazy_hook)


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
        xp = array_namespace(x)
    elif isinstance(x, ModuleType) or hasattr(x, "__array_namespace_info__"):
        xp = x
    else:
        raise TypeError(f"x: expected an array or an Array-API namespace, got {type(x).__name__}")
    spec = _spec_of(xp)
    return spec.name if spec is not None else namespace_name(xp)


def jax_x64_enabled() -> bool:
    """Whether JAX computes in 64 bits (``jax.config.jax_enable_x64``)."""
    jax = sys.modules.get("jax")
    return bool(jax is not None and jax.config.read("jax_enable_x64"))


def resolve_dtype(
    xp: Namespace, dtype: Any, *, name: str = "dtype", spec: BackendSpec | None = None
) -> Any:
    """The namespace's dtype object for ``dtype``: a name (``"float32"``) or a dtype.

    ``None`` passes through. A dtype the backend refuses (float64 of JAX with x64 off)
    raises ``ValueError``. The backend is ``spec`` if given, else the one of ``xp``.

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
    guard = (spec or _spec_of(xp) or BackendSpec("", "")).dtype_guard
    if guard is not None:
        guard(xp, resolved, name)
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
    spec = _spec_of(xp)
    if spec is not None and spec.default_dtype is not None:
        return getattr(xp, spec.default_dtype)
    return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]


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
    if not is_array_api_obj(x):
        return _numeric(x)  # numbers and nested lists; None, strings, dicts are refused
    spec = _spec_of(array_namespace(x))
    if spec is not None and spec.to_numpy_hook is not None:
        return spec.to_numpy_hook(x)
    return np.asarray(x)


def asarray(
    x: Any,
    /,
    *,
    backend: str | Namespace | None = None,
    dtype: Any = None,
    device: Any = None,
    chunks: Any = None,
) -> Array:
    """Put data onto a backend: from lists, NumPy, or another backend's arrays.

    Parameters
    ----------
    x : array_like
        Nested lists, scalars, or an array of any installed backend.
    backend : str or namespace, optional
        Target backend (``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"jax"``,
        or any registered one) or its namespace. Default: the backend of ``x``
        (NumPy for lists).
    dtype : str or dtype, optional
        ``"float32"``, ``"float64"``, ... or a dtype object. Default: keep the dtype.
    device : str or device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"gpu"`` (JAX) or a device object.
    chunks : int, tuple or dict, optional
        Dask only: the chunks of the result, as :func:`dask.array.from_array` takes them
        (``chunks=1000``: row chunks of 1000 samples). Default: automatic row chunks that
        hold whole samples, as training needs.

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
        xp = array_namespace(x) if is_array_api_obj(x) else namespace("numpy")
        spec = _spec_of(xp)
    elif isinstance(backend, str):  # by name: that backend's hooks, even if it shares a namespace
        spec = _spec_named(backend, "backend")
        xp = spec.namespace()
    else:
        xp = namespace(backend)
        spec = _spec_of(xp)
    target = resolve_dtype(xp, dtype, spec=spec)
    device = _resolve_device(spec, xp, device)
    if chunks is not None:
        return _chunked(x, spec, xp=xp, dtype=target, device=device, chunks=chunks)
    if is_array_api_obj(x) and array_namespace(x) is xp:
        return xp.asarray(x, dtype=target, device=device)
    data = _host_data(x)
    if spec is not None and spec.from_numpy_hook is not None:
        return spec.from_numpy_hook(data, xp=xp, dtype=target, device=device)
    return xp.asarray(data, dtype=target, device=device)


def _device_types(xp: Namespace) -> tuple[type, ...]:
    """The types of ``xp``'s device objects (asked once: torch probes every device kind)."""
    key = id(xp)
    if key not in _DEVICE_TYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: 'mkldnn' is deprecated
            known = xp.__array_namespace_info__().devices()
        _DEVICE_TYPES[key] = tuple({type(d) for d in known})
    return _DEVICE_TYPES[key]


_DEVICE_TYPES: dict[int, tuple[type, ...]] = {}


def _numeric(x: Any) -> np.ndarray:
    """``np.asarray(x)`` of numbers, nested lists of them, or array-likes; a ``TypeError``
    for what holds no numbers (None, strings, dicts), a ``ValueError`` for ragged lists."""
    try:
        host = np.asarray(x)
    except ValueError as exc:
        raise ValueError(f"x: cannot make an array of it ({exc})") from None
    if host.dtype.kind in "OSUVMm":
        raise TypeError(
            f"x: expected numbers, nested lists of numbers or an array, got {type(x).__name__}"
        )
    return host


def _resolve_device(spec: BackendSpec | None, xp: Namespace, device: Any) -> Any:
    """``device`` as ``xp`` takes it (a name through the backend's hook); a ``TypeError`` for
    what is no device at all (``3``, a list), a ``ValueError`` for a device this backend does
    not have (``"nowhere"``, ``"cpu:99"``, CUDA on a machine without it), on every backend."""
    if device is None:
        return None
    label = spec.name if spec is not None else namespace_name(xp)
    if isinstance(device, str) and not device.strip():
        raise ValueError(f"device: expected a device name such as 'cpu', got {device!r}")
    if not isinstance(device, str) and not isinstance(device, _device_types(xp)):
        raise TypeError(
            f"device: expected a device name (str) or a device of {label}, "
            f"got {type(device).__name__}"
        )
    try:
        if spec is not None and spec.device_hook is not None and isinstance(device, str):
            device = spec.device_hook(device)
        xp.zeros((), device=device)  # the library's own test of the device
    except ValueError as exc:
        if str(exc).startswith("device:"):
            raise
        raise ValueError(f"device: {label} has no device {device!r} ({exc})") from None
    except Exception as exc:  # torch's RuntimeError, JAX's IndexError, ...
        raise ValueError(f"device: {label} has no device {device!r} ({exc})") from None
    return device


def _chunked(
    x: Any, spec: BackendSpec | None, *, xp: Namespace, dtype: Any, device: Any, chunks: Any
) -> Array:
    """``asarray(..., chunks=...)``: Dask arrays only (rechunked, or made from host data)."""
    if spec is None or spec.name != "dask":
        name = spec.name if spec is not None else namespace_name(xp)
        raise ValueError(f"chunks: only the 'dask' backend has chunks, got backend {name!r}")
    if is_array_api_obj(x) and array_namespace(x) is xp:
        chunked = x.rechunk(chunks)
        return chunked if dtype is None else xp.astype(chunked, dtype)
    return _dask_from_numpy(_host_data(x), xp=xp, dtype=dtype, device=device, chunks=chunks)


def _host_data(x: Any) -> Any:
    host = to_numpy(x) if is_array_api_obj(x) else _numeric(x)
    # Read-only memory (a JAX buffer, a read-only NumPy array) is copied: torch would
    # otherwise share it, and an in-place write on the tensor would change the source.
    return host if host.flags.writeable else host.copy()


# --- the built-in backends: each one's special cases are hooks of its registration ----------


def _numpy_device(device: str) -> str:
    if device != "cpu":
        raise ValueError(f"device: NumPy arrays live on 'cpu' only, got {device!r}")
    return device


def _strict_device(device: str) -> Any:
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


def _strict_to_numpy(x: Array) -> np.ndarray:
    import array_api_strict

    return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))


def _torch_to_numpy(x: Array) -> np.ndarray:
    return x.detach().cpu().resolve_conj().resolve_neg().numpy()


def _jax_device(device: str) -> Any:
    jax = optional_import("jax")

    platform, _, index = device.partition(":")
    platform = {"cuda": "gpu"}.get(platform, platform)
    return jax.devices(platform)[int(index or 0)]


def _x64_error(what: str) -> ValueError:
    return ValueError(
        f"{what}: float64 was asked of JAX while jax_enable_x64 is off, and JAX would "
        "silently compute in float32. Call jax.config.update('jax_enable_x64', True) "
        "before creating arrays, or ask for dtype='float32'."
    )


def _jax_dtype_guard(xp: Namespace, dtype: Any, name: str) -> None:
    if dtype == xp.float64 and not jax_x64_enabled():
        raise _x64_error(name)


def _jax_from_numpy(data: np.ndarray, *, xp: Namespace, dtype: Any, device: Any) -> Array:
    """JAX without x64: refuse float64 data, narrow int64 labels on purpose (no warning)."""
    if dtype is None and not jax_x64_enabled():
        if data.dtype == np.float64:
            raise _x64_error("x")
        if data.dtype == np.int64:
            dtype = xp.int32
    if dtype is not None:
        data = data.astype(np.dtype(dtype), copy=False)
    # Cast here and copied over: jnp.asarray with a dtype or a device compiles a conversion
    # for every new shape (tens of milliseconds each, per fold in a cross-validation).
    return sys.modules["jax"].device_put(data, device, may_alias=False)


register("numpy", device=_numpy_device, aliases=("np",), install="pip install numpy")
register(
    "array_api_strict",
    to_numpy=_strict_to_numpy,
    device=_strict_device,
    aliases=("strict",),
    install="pip install 'xpnet[strict]'",
)
register(
    "torch",
    to_numpy=_torch_to_numpy,
    aliases=("pytorch",),
    install="pip install 'xpnet[torch]'",
)
register(
    "jax",
    module="jax.numpy",
    namespace=lambda jnp: jnp,  # jax.numpy is the namespace of JAX's arrays
    from_numpy=_jax_from_numpy,
    device=_jax_device,
    dtype_guard=_jax_dtype_guard,
    aliases=("jnp",),
    install="pip install 'xpnet[jax]'",
)


def _dask_from_numpy(data: np.ndarray, **kwargs: Any) -> Array:
    from ._dask import from_numpy

    return from_numpy(data, **kwargs)


def _dask_to_numpy(x: Array) -> np.ndarray:
    from ._dask import to_numpy

    return to_numpy(x)


def _dask_device(device: str) -> str:
    if device != "cpu":
        raise ValueError(f"device: Dask arrays of NumPy chunks live on 'cpu', got {device!r}")
    return device


# Dask: lazy, chunked arrays; the value checks are folded into its graphs and
# training has its own driver (xpnet._dask).
register(
    "dask",
    module="dask.array",
    from_numpy=_dask_from_numpy,
    to_numpy=_dask_to_numpy,
    device=_dask_device,
    install="pip install 'xpnet[dask]'",
)
