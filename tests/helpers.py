"""Shared test helpers: the backends under test, moving NumPy data onto them, ``assert_close``.

Imported by ``conftest.py`` (which puts this folder on ``sys.path``) and by the test
modules as ``from helpers import ...``, so there is one ``Backend`` class for all.

The pattern follows SciPy and array-api-extra: build inputs and expected values in
NumPy (float64), move only the inputs to the backend under test, run the function
there, and compare the result with the NumPy expectation.
"""

from __future__ import annotations

import enum
import importlib.util
from collections.abc import Iterable
from typing import Any

import numpy as np

import xpnet
from xpnet._compat import device as _device

Array = Any


class Backend(enum.Enum):
    """A backend the suite runs on; ``library`` is the name xpnet knows it by."""

    NUMPY = "numpy"
    NUMPY_READONLY = "numpy_readonly"
    ARRAY_API_STRICT = "array_api_strict"
    TORCH = "torch"
    JAX = "jax"

    @property
    def library(self) -> str:
        """The xpnet backend name (both NumPy flavours are ``"numpy"``)."""
        return "numpy" if self is Backend.NUMPY_READONLY else self.value

    @property
    def installed(self) -> bool:
        return importlib.util.find_spec(self.library) is not None

    @property
    def has_autodiff(self) -> bool:
        return self in (Backend.TORCH, Backend.JAX)

    def __str__(self) -> str:
        return self.value


#: Backends with automatic differentiation (the oracles of the gradient tests).
AUTODIFF_BACKENDS = (Backend.TORCH, Backend.JAX)


def installed_backends(backends: Iterable[Backend] = Backend) -> list[Backend]:
    return [b for b in backends if b.installed]


def to_backend(x: Any, backend: Backend, *, dtype: Any = None, device: Any = None) -> Array:
    """Move ``x`` (NumPy data or a list) onto ``backend`` with :func:`xpnet.asarray`.

    For ``numpy_readonly`` the result is a fresh copy with ``flags.writeable = False``,
    so any in-place write by the code under test raises ``ValueError``; the caller's
    array is never made read-only.
    """
    if backend is Backend.NUMPY_READONLY:
        result = np.array(xpnet.asarray(x, backend="numpy", dtype=dtype, device=device), copy=True)
        result.flags.writeable = False
        return result
    return xpnet.asarray(x, backend=backend.library, dtype=dtype, device=device)


def params_to_backend(
    params: Iterable[Any], backend: Backend, *, dtype: Any = None
) -> xpnet.Params:
    """A :class:`xpnet.Params` of four NumPy arrays, moved onto ``backend``."""
    return xpnet.Params(*(to_backend(p, backend, dtype=dtype) for p in params))


def params_to_numpy(params: Iterable[Array]) -> list[np.ndarray]:
    return [np.array(xpnet.to_numpy(p), copy=True) for p in params]


def dtype_name(dtype: Any) -> str:
    """``"float64"`` for ``np.float64``, ``torch.float64``, ``jnp.float64``, strict's float64."""
    return str(dtype).rsplit(".", 1)[-1].strip("'>")


def default_device(backend: Backend | str) -> Any:
    """The device a backend puts new arrays on."""
    name = backend.library if isinstance(backend, Backend) else backend
    return _device(xpnet.asarray([0.0], backend=name))


def assert_close(
    actual: Array,
    expected: Any,
    *,
    backend: Backend | str | None = None,
    dtype: Any = None,
    device: Any = None,
    rtol: float = 1e-12,
    atol: float = 0.0,
    err_msg: str = "",
) -> None:
    """``actual`` is an array of the right backend, shape, dtype and device, with the right values.

    ``expected`` may be an array of any backend (often NumPy) or nested lists.

    - namespace: ``backend`` if given, else the backend of ``expected`` when it is
      an array of a non-NumPy backend;
    - shape: that of ``expected``;
    - dtype: ``dtype`` (a name or dtype) if given, else the dtype of ``expected``;
    - device: ``device`` if given, else ``expected``'s device when both are of one
      backend, else the backend's default device;
    - values: ``np.testing.assert_allclose`` on the host copies (exact when
      ``rtol == atol == 0``).
    """
    assert hasattr(actual, "shape"), f"{err_msg}: expected an array, got {type(actual).__name__}"
    expected_is_array = hasattr(expected, "__array_namespace__") or isinstance(
        expected, np.ndarray
    )
    if backend is None and expected_is_array:
        backend = xpnet.backend_name(expected)
    name = backend.library if isinstance(backend, Backend) else backend
    if name is not None:
        got = xpnet.backend_name(actual)
        assert got == name, f"{err_msg}: namespace {got!r}, expected {name!r}"

    host_expected = (
        xpnet.to_numpy(expected) if expected_is_array else np.asarray(expected, dtype=None)
    )
    assert tuple(actual.shape) == host_expected.shape, (
        f"{err_msg}: shape {tuple(actual.shape)}, expected {host_expected.shape}"
    )

    want_dtype = dtype_name(dtype) if dtype is not None else None
    if want_dtype is None and expected_is_array:
        want_dtype = dtype_name(expected.dtype)
    if want_dtype is not None:
        assert dtype_name(actual.dtype) == want_dtype, (
            f"{err_msg}: dtype {actual.dtype}, expected {want_dtype}"
        )

    if device is None and name is not None:
        same_backend = expected_is_array and xpnet.backend_name(expected) == name
        device = _device(expected) if same_backend else default_device(name)
    if device is not None:
        assert _device(actual) == device, f"{err_msg}: device {_device(actual)}, expected {device}"

    host_actual = xpnet.to_numpy(actual)
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(host_actual, host_expected, err_msg=err_msg)
    else:
        np.testing.assert_allclose(
            host_actual, host_expected, rtol=rtol, atol=atol, err_msg=err_msg
        )


def assert_params_close(
    actual: Iterable[Array],
    expected: Iterable[Any],
    *,
    backend: Backend | str | None = None,
    rtol: float = 1e-12,
    atol: float = 0.0,
    err_msg: str = "",
) -> None:
    """:func:`assert_close` on each of ``W1, b1, W2, b2``."""
    actual, expected = list(actual), list(expected)
    assert len(actual) == len(expected) == 4, f"{err_msg}: expected four arrays"
    for field, a, e in zip(xpnet.Params._fields, actual, expected):
        assert_close(a, e, backend=backend, rtol=rtol, atol=atol, err_msg=f"{err_msg} {field}")


def snapshot(*arrays: Array) -> list[np.ndarray]:
    """Host copies, to check later that the inputs were not modified."""
    return [np.array(xpnet.to_numpy(a), copy=True) for a in arrays]


def assert_unchanged(arrays: Iterable[Array], copies: Iterable[np.ndarray]) -> None:
    for i, (a, c) in enumerate(zip(arrays, copies)):
        np.testing.assert_array_equal(xpnet.to_numpy(a), c, err_msg=f"input {i} was modified")
