"""Shared test helpers: the backends under test, moving NumPy data onto them, ``assert_close``.

Imported by ``conftest.py`` (which puts this folder on ``sys.path``) and by the test
modules as ``from helpers import ...``, so there is one ``Backend`` class for all.

The pattern follows SciPy and array-api-extra: build inputs and expected values in
NumPy (float64), move only the inputs to the backend under test, run the function
there, and compare the result with the NumPy expectation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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
    DASK = "dask"

    @property
    def library(self) -> str:
        """The xpnet backend name (both NumPy flavours are ``"numpy"``)."""
        return "numpy" if self is Backend.NUMPY_READONLY else self.value

    @property
    def installed(self) -> bool:
        """Registered with xpnet and installed (:func:`xpnet.available_backends`)."""
        return self.library in xpnet.available_backends()

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


def materialize(result: Any) -> Any:
    """``result`` with every Dask array in it computed (nested tuples walked); anything else
    returned as it is.

    A lazy library may report a bad value only when the values are computed (the Array
    API standard leaves that open); xpnet folds its value checks into Dask's graph, so a
    test that expects an error from a call computes its result to see it.
    """
    from xpnet._compat import is_dask_array

    def leaves(x: Any) -> list[Any]:
        if isinstance(x, tuple):
            return [leaf for item in x for leaf in leaves(item)]
        return [x] if is_dask_array(x) else []

    lazy = leaves(result)
    if lazy:
        import dask

        dask.compute(*lazy)
    return result


def snapshot(*arrays: Array) -> list[np.ndarray]:
    """Host copies, to check later that the inputs were not modified."""
    return [np.array(xpnet.to_numpy(a), copy=True) for a in arrays]


def assert_unchanged(arrays: Iterable[Array], copies: Iterable[np.ndarray]) -> None:
    for i, (a, c) in enumerate(zip(arrays, copies)):
        np.testing.assert_array_equal(xpnet.to_numpy(a), c, err_msg=f"input {i} was modified")


# --- Hypothesis strategies: float64 NumPy inputs, drawn once, then moved to each backend -----


def finite_floats(bound: float) -> st.SearchStrategy[float]:
    """Finite, normal float64 values in ``[-bound, bound]`` (XLA flushes subnormals to zero)."""
    return st.floats(
        -bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64
    )


@dataclass(frozen=True)
class Case:
    """One drawn network problem, all in NumPy float64: ``X (n, d)``, ``y (n,)``, params."""

    X: np.ndarray
    y: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    @property
    def params(self) -> xpnet.Params:
        return xpnet.Params(self.W1, self.b1, self.W2, self.b2)

    @property
    def num_classes(self) -> int:
        return int(self.W2.shape[1])

    def min_abs_preactivation(self) -> float:
        """Distance of the hidden pre-activations ``X W1 + b1`` from the ReLU kink."""
        return float(np.min(np.abs(self.X @ self.W1 + self.b1)))

    def on(self, backend: Backend) -> tuple[Array, Array, xpnet.Params]:
        """``(X, y, params)`` on ``backend``."""
        return (
            to_backend(self.X, backend),
            to_backend(self.y, backend),
            params_to_backend(self.params, backend),
        )


#: Shapes ``(samples, features, hidden, classes)`` for JAX's eager property runs. Eager JAX
#: compiles every operation anew for each new shape (about 0.05 s each on this machine,
#: about 1.5 s per drawn network), so on JAX the values are random but the shapes come from
#: this pool, which holds the edge cases (one sample, one feature, one hidden unit, two
#: classes, the largest sizes). Random shapes on JAX are drawn by the ``jax.jit`` test.
JAX_NETWORK_SHAPES = ((1, 1, 1, 2), (3, 2, 4, 3), (12, 5, 8, 5), (7, 1, 3, 2), (5, 4, 1, 4))
JAX_LOGIT_SHAPES = ((1, 2), (4, 3), (12, 6), (7, 2))


def network_shapes(
    backend: Backend | None = None,
    *,
    max_samples: int = 12,
    max_features: int = 5,
    max_hidden: int = 8,
    max_classes: int = 5,
) -> st.SearchStrategy[tuple[int, int, int, int]]:
    """``(n, d, hidden, classes)``: random, or from :data:`JAX_NETWORK_SHAPES` on JAX."""
    if backend is Backend.JAX:
        limits = (max_samples, max_features, max_hidden, max_classes)
        pool = [s for s in JAX_NETWORK_SHAPES if all(a <= b for a, b in zip(s, limits))]
        return st.sampled_from(pool)
    return st.tuples(
        st.integers(1, max_samples),
        st.integers(1, max_features),
        st.integers(1, max_hidden),
        st.integers(2, max_classes),
    )


@st.composite
def cases(
    draw: st.DrawFn,
    backend: Backend | None = None,
    *,
    max_samples: int = 12,
    max_features: int = 5,
    max_hidden: int = 8,
    max_classes: int = 5,
    x_bound: float = 2.0,
    weight_bound: float = 1.5,
) -> Case:
    """A network problem: shapes from :func:`network_shapes`, finite float64 values."""
    n, d, hidden, k = draw(
        network_shapes(
            backend,
            max_samples=max_samples,
            max_features=max_features,
            max_hidden=max_hidden,
            max_classes=max_classes,
        ),
        label="(n, d, hidden, classes)",
    )

    def floats(shape: tuple[int, ...], bound: float) -> np.ndarray:
        return draw(hnp.arrays(np.float64, shape, elements=finite_floats(bound)))

    X = floats((n, d), x_bound)
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return Case(
        X,
        y,
        floats((d, hidden), weight_bound),
        floats((hidden,), weight_bound),
        floats((hidden, k), weight_bound),
        floats((k,), weight_bound),
    )


@st.composite
def logits_and_labels(
    draw: st.DrawFn,
    backend: Backend | None = None,
    *,
    max_samples: int = 12,
    max_classes: int = 6,
    bound: float = 50.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``z (n, K)`` in float64 and labels ``y (n,)`` in ``[0, K)``."""
    if backend is Backend.JAX:
        n, k = draw(st.sampled_from(JAX_LOGIT_SHAPES))
    else:
        n, k = draw(st.integers(1, max_samples)), draw(st.integers(2, max_classes))
    z = draw(hnp.arrays(np.float64, (n, k), elements=finite_floats(bound)))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return z, y


#: The optional libraries a base install (``pip install xpnet``) does not have.
OPTIONAL_MODULES = (
    "jax",
    "jaxlib",
    "torch",
    "dask",
    "distributed",
    "matplotlib",
    "array_api_strict",
    "ndonnx",
    "onnx",
    "onnxruntime",
    "optax",
    "zarr",
)

_BLOCKER = """
import sys
_BLOCKED = {blocked!r}

class _Hide:
    # Wraps one finder of sys.meta_path: the blocked packages are not found, as if absent
    # (find_spec answers None, import raises ModuleNotFoundError).
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".", 1)[0] in _BLOCKED:
            return None
        find = getattr(self.finder, "find_spec", None)
        return None if find is None else find(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)

sys.meta_path[:] = [_Hide(f) for f in sys.meta_path]
"""


def run_without(code: str, modules: Iterable[str] = OPTIONAL_MODULES, *, cwd: Any = None) -> Any:
    """Run ``code`` in a fresh Python whose import system refuses ``modules``, as a base
    install would; returns the ``CompletedProcess`` (stdout and stderr as text).

    Every finder of ``sys.meta_path`` is wrapped so that the refused packages are not found
    (``importlib.util.find_spec`` answers None, ``import`` raises ``ModuleNotFoundError``),
    exactly as when they are not installed. The code ends by asserting that none of them
    was imported.
    """
    import subprocess
    import sys

    blocked = tuple(modules)
    check = (
        f"\nimport sys as _s\n_bad = [m for m in {blocked!r} if m in _s.modules]\n"
        "assert not _bad, f'imported {_bad}'\n"
    )
    program = _BLOCKER.format(blocked=blocked) + "\n" + code + check
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=cwd, timeout=600
    )
