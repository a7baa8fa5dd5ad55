"""Checks at the public boundary: a clear error that names the argument, never a wrong answer.

The rule: an argument that is not what the function takes raises
``TypeError`` (wrong kind: ``None``, a Python scalar or a list where an array
belongs, an integer dtype where a floating one does) or ``ValueError`` (right kind,
wrong value: a rank, an empty array, a negative rate), whose message starts with
the argument's name, the same on every backend.

Shape and dtype checks always run. Value checks (labels in range, finite inputs)
read array values, so they are skipped for traced arrays (JAX under ``jit``,
Dask), where no value exists yet.

The checks run on every public call, thousands of times in a training loop, so
they are kept cheap: kinds are looked up once per type or dtype and cached
(:func:`xpnet._compat.array_namespace`, :func:`is_floating`), never per element.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ._compat import (
    ARRAY_TYPES,
    HOST_ONLY_TYPES,
    array_namespace,
    device,
    host_view,
    is_array,
    is_jax_array,
    is_traced,
    size,
)
from ._typing import Array, Namespace

# --- dtype kinds, cached per dtype ------------------------------------------------------------

_KIND_CACHE: dict[tuple[Any, ...], bool] = {}


def _is_kind(dtype: Any, kind: str, xp: Namespace) -> bool:
    # The key holds the dtype's type first, so dtypes of two libraries are never compared
    # with each other (array-api-strict warns when they are).
    key = (type(dtype), dtype, kind)
    try:
        return _KIND_CACHE[key]
    except KeyError:
        result = _KIND_CACHE[key] = bool(xp.isdtype(dtype, kind))
        return result
    except TypeError:  # an unhashable dtype
        return bool(xp.isdtype(dtype, kind))


def is_floating(dtype: Any, *, xp: Namespace) -> bool:
    """``xp.isdtype(dtype, "real floating")``, cached."""
    return _is_kind(dtype, "real floating", xp)


def is_integral(dtype: Any, *, xp: Namespace) -> bool:
    """``xp.isdtype(dtype, "integral")`` (bool excluded), cached."""
    return _is_kind(dtype, "integral", xp)


# --- arrays --------------------------------------------------------------------------------


def check_array(x: Any, name: str) -> None:
    """``x`` is an array of some backend (not ``None``, a Python scalar, a list, ...)."""
    if type(x) not in ARRAY_TYPES and not is_array(x):
        got = "None" if x is None else type(x).__name__
        raise TypeError(f"{name}: expected an array, got {got}")


def check_floating(
    x: Array, name: str, *, ndim: int | None = None, nonempty: bool = False, xp: Namespace
) -> None:
    """``x`` is a real floating array, of rank ``ndim``, without an axis of length 0 if asked."""
    if type(x) not in ARRAY_TYPES:  # the common case costs one set lookup
        check_array(x, name)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {tuple(x.shape)}")
    dtype = x.dtype
    floating = _KIND_CACHE.get((type(dtype), dtype, "real floating"))
    if floating is None:
        floating = _is_kind(dtype, "real floating", xp)
    if not floating:
        raise TypeError(f"{name}: expected a real floating dtype, got {dtype}")
    if nonempty and any(s == 0 for s in x.shape):
        raise ValueError(f"{name}: expected a non-empty array, got shape {tuple(x.shape)}")


def check_axis(axis: Any, name: str, *, x: Array, x_name: str) -> int:
    """``axis`` is an int naming an axis of ``x`` of non-zero length; returns it as an int.

    A reduction along an axis of length 0 (softmax of nothing) has no value: NumPy
    raises ``ValueError`` there, torch ``IndexError``; here every backend raises this
    ``ValueError``.
    """
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(axis).__name__}")
    axis = int(axis)
    if x.ndim == 0:
        raise ValueError(f"{x_name}: expected an array of at least 1 dimension, got shape ()")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: {axis} is out of range for {x_name} of shape {tuple(x.shape)}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"{x_name}: cannot reduce along {name} {axis} of length 0 (shape {tuple(x.shape)})"
        )
    return axis


def check_labels(
    y: Array,
    name: str,
    *,
    n: int | None,
    num_classes: int,
    xp: Namespace,
    values: bool = True,
) -> None:
    """``y`` is a 1-D integer array of length ``n`` with values in ``[0, num_classes)`` (the
    values are left to the caller with ``values=False``: see :func:`check_one_hot_rows`)."""
    if not is_array(y):
        got = "None" if y is None else type(y).__name__
        raise TypeError(f"{name}: expected an array of integer labels, got {got}")
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {tuple(y.shape)}")
    check_integer_labels(y, name, xp=xp)
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name}: has {y.shape[0]} labels but the inputs have {n} samples")
    check_num_classes(num_classes, "num_classes")
    if values:
        check_label_values(y, name, num_classes=num_classes, xp=xp)


def check_integer_labels(y: Array, name: str, *, xp: Namespace) -> None:
    """``y`` has an integer dtype (not bool, not floating)."""
    if not is_integral(y.dtype, xp=xp):
        raise TypeError(
            f"{name}: labels must have an integer dtype, got {y.dtype} "
            "(convert class labels with astype(int64) first)"
        )


def check_label_values(y: Array, name: str, *, num_classes: int, xp: Namespace) -> None:
    """Every label of ``y`` (any shape) lies in ``[0, num_classes)`` (skipped when traced)."""
    if is_traced(y) or any(s == 0 for s in y.shape):
        return
    if not bool(xp.all((y >= 0) & (y < num_classes))):
        low, high = int(xp.min(y)), int(xp.max(y))
        raise ValueError(
            f"{name}: labels must lie in [0, {num_classes}), got values from {low} to {high}"
        )


def check_one_hot_rows(
    hot: Array, y: Array, name: str, *, num_classes: int, xp: Namespace
) -> None:
    """The boolean one-hot matrix ``hot = (y[:, None] == arange(K))`` of the labels ``y``
    has a True in every row, which holds exactly when every label lies in
    ``[0, num_classes)``: one count over the matrix the loss needs anyway instead of passes
    over ``y`` of its own (same error as :func:`check_label_values`; skipped when traced)."""
    if is_traced(hot) or 0 in hot.shape:
        return
    if int(xp.count_nonzero(hot)) != hot.shape[0]:
        check_label_values(y, name, num_classes=num_classes, xp=xp)  # raises, with the range
        raise AssertionError("unreachable: a row of the one-hot matrix is empty")


def folded(x: Array, check: Callable[..., None], /, **kwargs: Any) -> Array:
    """``x`` itself, or, on Dask (whose values do not exist yet), ``x`` with
    ``check(chunk, **kwargs, xp=...)`` run on each chunk as the chunk is computed.

    The value checks above skip lazy arrays; folded into the graph they still fail
    loudly, with the same message, instead of letting a bad value through, and they cost
    no extra pass over the data (each chunk is checked where it is used).
    """
    from ._compat import is_dask_array

    if not is_dask_array(x):
        return x

    return fold_check(x, functools.partial(check, **kwargs))


def check_nonempty(x: Array, name: str) -> None:
    """The batch ``x`` (at least 1-D) has at least one sample."""
    if x.ndim == 0:
        raise ValueError(f"{name}: expected an array of at least 1 dimension, got shape ()")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: the batch is empty (shape {tuple(x.shape)})")


_SUM_CHECK_MIN_SIZE = 1 << 16  # below this, the elementwise test is as cheap


def check_finite(x: Array, name: str, *, xp: Namespace) -> None:
    """No NaN or inf in ``x`` (skipped for traced arrays)."""
    if is_traced(x):
        return
    if not all_finite(x, xp=xp):
        raise ValueError(f"{name}: contains NaN or inf values")


def all_finite(x: Array, *, xp: Namespace) -> bool:
    """Whether every value of the concrete array ``x`` is finite (a JAX array on the CPU is
    read through its host view: no compilation per shape)."""
    view = host_view(x)
    if view is not None:
        x, xp = view, array_namespace(view)
    if (size(x) or 0) >= _SUM_CHECK_MIN_SIZE:
        # A NaN or inf anywhere makes the sum NaN or inf, so a finite sum proves every value
        # finite with one read of x and no temporary of its size (torch's isfinite builds
        # several); only a sum that overflows on huge finite values needs the test below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow / inf - inf
            total = xp.sum(x)
        if bool(xp.isfinite(total)):
            return True
    return bool(xp.all(xp.isfinite(x)))


def check_same_device(arrays: Sequence[Array], names: Sequence[str]) -> None:
    """All arrays live on one device, or, for JAX arrays sharded over several devices, on
    one set of devices (traced arrays, which have none yet, are skipped)."""
    if all(type(a) in HOST_ONLY_TYPES for a in arrays):
        return  # NumPy: one device, nothing to compare
    placed = [(name, _placement(a)) for name, a in zip(names, arrays) if not is_traced(a)]
    if not placed:
        return
    first_name, first = placed[0]
    for name, dev in placed:
        if dev != first:
            raise ValueError(
                f"{name}: is on device {_show(dev)} but {first_name} is on device "
                f"{_show(first)}; move them onto one device first"
            )


# --- the structural checks' verdicts, remembered ---------------------------------------------
#
# The checks of a call's structure (which backend, shapes that chain, dtypes that agree,
# devices, options) depend only on each array's type, shape and dtype and on the options, never
# on the values. A loop of public calls (the lecture's: ``loss_and_grad`` then ``sgd_step``,
# thousands of times) asks the same questions each step, so a call whose structure passed once
# looks its verdict up instead of asking again. Only host arrays (NumPy: one device, no
# tracers) get a key; every value check (labels, weights) still runs on every call.


class Verdicts:
    """The verdicts of one kind of call: ``key -> what the checks returned``, bounded."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._seen: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...] | None) -> Any:
        return None if key is None else self._seen.get(key)

    def put(self, key: tuple[Any, ...] | None, verdict: Any) -> Any:
        if key is not None:
            if len(self._seen) >= self._size:
                self._seen.clear()
            self._seen[key] = verdict
        return verdict


def host_signature(arrays: Sequence[Any]) -> tuple[Any, ...] | None:
    """``(type, shape, dtype)`` of each array when every one is a host array (NumPy's, on
    one device); ``None`` otherwise (other backends, tracers, anything that is no array)."""
    signature: list[Any] = []
    for a in arrays:
        kind = type(a)
        if kind not in HOST_ONLY_TYPES:
            return None
        signature += (kind, a.shape, a.dtype)
    return tuple(signature)


# --- Python numbers ------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool (``True`` is no count of anything)."""
    return type(value) is int or (
        isinstance(value, numbers.Integral) and not isinstance(value, bool)
    )


def check_num_classes(num_classes: Any, name: str) -> int:
    """``num_classes`` is an int >= 2; returns it as a Python int."""
    if not _is_int(num_classes):
        raise TypeError(f"{name}: expected an int, got {type(num_classes).__name__}")
    if num_classes < 2:
        raise ValueError(f"{name}: a classifier needs at least 2 classes, got {num_classes}")
    return int(num_classes)


def _placement(x: Array) -> Any:
    """The device of ``x``; for a JAX array, the set of devices it lies on (its sharding
    describes how, and replicated parameters next to row-sharded data are fine)."""
    if is_jax_array(x):
        return frozenset(x.devices())
    return device(x)


def _show(placement: Any) -> str:
    if isinstance(placement, frozenset):
        names = sorted(str(d) for d in placement)
        return names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
    return str(placement)


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """``value`` is an int >= 1 (>= 0 with ``allow_zero``); returns it as a Python int."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else ">= 1"
        raise ValueError(f"{name}: must be {bound}, got {value}")
    return int(value)


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    strict: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in ``[low, high]``; returns it as a float.

    ``strict``: ``low`` itself is excluded; ``high_open``: ``high`` itself is excluded.
    Python and NumPy numbers are accepted; bools, strings, arrays and ``None`` are not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    result = float(value)
    too_low = low is not None and not (result > low if strict else result >= low)
    too_high = high is not None and not (result < high if high_open else result <= high)
    if not math.isfinite(result) or too_low or too_high:
        left = "(" if strict else "["
        right = ")" if high_open else "]"
        lower, upper = "-inf" if low is None else low, "inf" if high is None else high
        raise ValueError(
            f"{name}: must be a finite number in {left}{lower}, {upper}{right}, got {value}"
        )
    return result


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` is an int in ``[0, 2**32)`` (what every NumPy generator takes)."""
    seed = check_positive_int(seed, name, allow_zero=True)
    if seed >= 2**32:
        raise ValueError(f"{name}: must be < 2**32, got {seed}")
    return seed


def check_bool(value: Any, name: str) -> bool:
    """``value`` is ``True`` or ``False`` (or a NumPy bool)."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__}")
    return bool(value)


def check_value_range(
    x: Array, name: str, *, low: float, high: float | None, what: str, xp: Namespace
) -> None:
    """Every value of ``x`` lies in ``[low, high]`` (``high=None``: no upper bound);
    skipped when traced."""
    if is_traced(x) or any(s == 0 for s in x.shape):
        return
    inside = x >= low if high is None else (x >= low) & (x <= high)
    if not bool(xp.all(inside)):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(
            f"{name}: {what} must be {bound}, got values from "
            f"{float(xp.min(x))} to {float(xp.max(x))}"
        )


def check_positive_total(x: Array, name: str, *, xp: Namespace) -> None:
    """``sum(x) > 0`` (skipped when traced)."""
    if not is_traced(x) and not bool(xp.sum(x) > 0):
        raise ValueError(f"{name}: the weights sum to 0; at least one must be positive")


def checked_block(block: Any, *, check: Callable[..., None]) -> Any:
    """``block`` after ``check(block, xp=...)``: the task that :func:`fold_check` adds to
    each chunk (named so that :func:`xpnet._dask.reads_stored_data` knows it)."""
    check(block, xp=array_namespace(block))
    return block


def fold_check(x: Array, check: Callable[..., None]) -> Array:
    """Dask array ``x`` with ``check(chunk, xp=...)`` run on each chunk when it is computed:
    a bad value fails loudly when the data are read, with no extra pass over them."""
    return x.map_blocks(checked_block, check=check, dtype=x.dtype, meta=x._meta)
