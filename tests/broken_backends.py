"""Deliberately broken backends, registered through the public route, that ``check`` must catch.

Each is NumPy (array-api-compat's wrapper) behind a thin array type of its own, so that
``array_namespace`` of its arrays is the broken namespace and the core really computes with
it, with one function changed:

- ``numpy_exp_off``: ``exp`` is off by one part in a million (``exp(x) * (1 + 1e-6)``);
- ``numpy_matmul_transposed``: ``matmul`` (and ``@``) uses the transpose of a square right
  operand, a bug that no shape check can see.

Use them with :func:`register_exp_off` / :func:`register_matmul_transposed` (also the
entry points of the tests' plug-in), or run ``python -m xpnet check`` on them with
``tests/`` and a ``.dist-info`` naming them on ``PYTHONPATH`` (see ``test_check.py``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import array_api_compat.numpy as compat_numpy
import numpy as np

import xpnet


class BrokenNamespace:
    """array-api-compat's NumPy namespace with some functions replaced; wraps every array."""

    def __init__(self, name: str, overrides: dict[str, Callable[..., Any]]) -> None:
        self.__name__ = name
        self._overrides = overrides
        self._array_type = type(f"{name}_Array", (WrappedArray,), {})

    def wrap(self, value: Any) -> Any:
        if isinstance(value, (np.ndarray, np.generic)):
            return self._array_type(np.asarray(value), self)
        if isinstance(value, (tuple, list)):
            return type(value)(self.wrap(v) for v in value)
        return value

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr != "__array_namespace_info__":
            raise AttributeError(attr)
        function = self._overrides.get(attr, getattr(compat_numpy, attr))
        if not callable(function) or isinstance(function, type):
            return function  # constants and dtypes (np.float64 is a type)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.wrap(function(*_unwrap(args), **_unwrap(kwargs)))

        return call


def _unwrap(value: Any) -> Any:
    if isinstance(value, WrappedArray):
        return value._data
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class WrappedArray:
    """A NumPy array whose namespace is a :class:`BrokenNamespace`."""

    def __init__(self, data: np.ndarray, namespace: BrokenNamespace) -> None:
        self._data = data
        self._namespace = namespace

    def __array_namespace__(self, api_version: str | None = None) -> BrokenNamespace:
        return self._namespace

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self._data, dtype=dtype)

    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    device = property(lambda self: "cpu")
    T = property(lambda self: self._namespace.wrap(self._data.T))
    mT = property(lambda self: self._namespace.wrap(np.swapaxes(self._data, -1, -2)))

    def to_device(self, device: Any, /, **kwargs: Any) -> WrappedArray:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self._namespace.wrap(self._data[_unwrap(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[_unwrap(key)] = _unwrap(value)  # in place, as NumPy: the checks must see it

    def __matmul__(self, other: Any) -> Any:
        return self._namespace.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._namespace.matmul(other, self)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __index__(self) -> int:
        return operator.index(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{self._namespace.__name__}({self._data!r})"

    __hash__ = None  # type: ignore[assignment]


def _operator(name: str, reflected: bool = False) -> Callable[..., Any]:
    function = getattr(operator, name)

    def method(self: WrappedArray, *other: Any) -> Any:
        args = (_unwrap(other[0]), self._data) if reflected else (self._data, *_unwrap(other))
        return self._namespace.wrap(np.asarray(function(*args)))

    return method


_OPERATORS = "add sub mul truediv floordiv mod pow lt le gt ge eq ne and_ or_ xor lshift rshift"
for _name in _OPERATORS.split(" "):
    _dunder = _name.rstrip("_")
    setattr(WrappedArray, f"__{_dunder}__", _operator(_name))
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(WrappedArray, f"__r{_dunder}__", _operator(_name, reflected=True))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(WrappedArray, f"__{_name}__", _operator(_name))


def _exp_off(x: np.ndarray) -> np.ndarray:
    return compat_numpy.exp(x) * (1 + 1e-6)


def _matmul_transposed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    square = b.ndim == 2 and b.shape[0] == b.shape[1]
    return compat_numpy.matmul(a, b.T if square else b)


def _max_sorting(x: np.ndarray, /, *, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    x.sort(axis=-1 if axis is None else axis)  # the classic bug: sorts its input in place
    return compat_numpy.max(x, axis=axis, keepdims=keepdims)


def _exp_raising(x: np.ndarray) -> np.ndarray:
    raise RuntimeError("exp is not implemented")


def _register(name: str, overrides: dict[str, Callable[..., Any]]) -> None:
    xpnet.backends.register(
        name,
        module="numpy",
        namespace=lambda numpy: BrokenNamespace(name, overrides),
        replace=True,
    )


#: The any-depth checks: a deeper tanh/logistic network, the optimizers; all see every fault.
DEEP = ("deep_grad", "optimizers_vs_numpy")

#: name -> the checks that must fail on it (and no others), and how to register it.
BROKEN: dict[str, tuple[set[str], Callable[[], None]]] = {
    "numpy_exp_off": (
        {"trajectory_vs_numpy", "softmax_at_1000", *DEEP},
        lambda: _register("numpy_exp_off", {"exp": _exp_off}),
    ),
    "numpy_matmul_transposed": (
        {"grad_vs_finite_diff", "trajectory_vs_numpy", *DEEP},
        lambda: _register("numpy_matmul_transposed", {"matmul": _matmul_transposed}),
    ),
    "numpy_max_sorts": (
        {
            "no_in_place_writes",
            "softmax_at_1000",
            "grad_vs_finite_diff",
            "trajectory_vs_numpy",
            *DEEP,
        },
        lambda: _register("numpy_max_sorts", {"max": _max_sorting}),
    ),
    "numpy_exp_raises": (
        {
            "grad_vs_finite_diff",
            "trajectory_vs_numpy",
            "softmax_at_1000",
            "no_in_place_writes",
            *DEEP,
        },
        lambda: _register("numpy_exp_raises", {"exp": _exp_raising}),
    ),
}


def register_exp_off() -> None:
    """Register ``numpy_exp_off``: NumPy whose ``exp`` is off by one part in a million."""
    xpnet.backends.register(
        "numpy_exp_off",
        module="numpy",
        namespace=lambda numpy: BrokenNamespace("numpy_exp_off", {"exp": _exp_off}),
        replace=True,
    )


def register_matmul_transposed() -> None:
    """Register ``numpy_matmul_transposed``: NumPy whose matmul transposes a square operand."""
    xpnet.backends.register(
        "numpy_matmul_transposed",
        module="numpy",
        namespace=lambda numpy: BrokenNamespace(
            "numpy_matmul_transposed", {"matmul": _matmul_transposed}
        ),
        replace=True,
    )


def register_wrapped() -> None:
    """Register ``numpy_wrapped``: the same wrapper, nothing broken (the control)."""
    xpnet.backends.register(
        "numpy_wrapped",
        module="numpy",
        namespace=lambda numpy: BrokenNamespace("numpy_wrapped", {}),
        replace=True,
    )
