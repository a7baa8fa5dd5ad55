"""Checks at the public boundary: a clear error that names the argument, never a wrong answer.

Shape and dtype checks always run. Value checks (labels in range, finite inputs)
read array values, so they are skipped for traced arrays (JAX under ``jit``,
Dask), where no value exists yet.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from ._compat import device, is_traced, size

Array = Any
Namespace = Any


def check_floating(x: Array, name: str, *, ndim: int | None = None, xp: Namespace) -> None:
    """``x`` is a real floating array of rank ``ndim``."""
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {tuple(x.shape)}")
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name}: expected a real floating dtype, got {x.dtype}")


def check_labels(y: Array, name: str, *, n: int | None, num_classes: int, xp: Namespace) -> None:
    """``y`` is a 1-D integer array of length ``n`` with values in ``[0, num_classes)``."""
    if not hasattr(y, "dtype") or not hasattr(y, "shape"):
        raise TypeError(f"{name}: expected an array of integer labels, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {tuple(y.shape)}")
    if not xp.isdtype(y.dtype, "integral"):
        raise TypeError(
            f"{name}: labels must have an integer dtype, got {y.dtype} "
            "(convert class labels with astype(int64) first)"
        )
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name}: has {y.shape[0]} labels but the inputs have {n} samples")
    check_num_classes(num_classes, "num_classes")
    check_label_values(y, name, num_classes=num_classes, xp=xp)


def check_label_values(y: Array, name: str, *, num_classes: int, xp: Namespace) -> None:
    """Every label of ``y`` (any shape) lies in ``[0, num_classes)`` (skipped when traced)."""
    if is_traced(y) or any(s == 0 for s in y.shape):
        return
    if not bool(xp.all((y >= 0) & (y < num_classes))):
        low, high = int(xp.min(y)), int(xp.max(y))
        raise ValueError(
            f"{name}: labels must lie in [0, {num_classes}), got values from {low} to {high}"
        )


def check_num_classes(num_classes: int, name: str) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool):
        raise TypeError(f"{name}: expected an int, got {type(num_classes).__name__}")
    if num_classes < 2:
        raise ValueError(f"{name}: a classifier needs at least 2 classes, got {num_classes}")


def check_nonempty(x: Array, name: str) -> None:
    if x.shape[0] == 0:
        raise ValueError(f"{name}: the batch is empty (shape {tuple(x.shape)})")


_SUM_CHECK_MIN_SIZE = 1 << 16  # below this, the elementwise test is as cheap


def check_finite(x: Array, name: str, *, xp: Namespace) -> None:
    """No NaN or inf in ``x`` (skipped for traced arrays)."""
    if is_traced(x):
        return
    if (size(x) or 0) >= _SUM_CHECK_MIN_SIZE:
        # A NaN or inf anywhere makes the sum NaN or inf, so a finite sum proves every value
        # finite with one read of x and no temporary of its size (torch's isfinite builds
        # several); only a sum that overflows on huge finite values needs the test below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow / inf - inf
            total = xp.sum(x)
        if bool(xp.isfinite(total)):
            return
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name}: contains NaN or inf values")


def check_same_device(arrays: Sequence[Array], names: Sequence[str]) -> None:
    """All arrays live on one device (traced arrays, which have none yet, are skipped)."""
    placed = [(name, device(a)) for name, a in zip(names, arrays) if not is_traced(a)]
    if not placed:
        return
    first_name, first = placed[0]
    for name, dev in placed:
        if dev != first:
            raise ValueError(
                f"{name}: is on device {dev} but {first_name} is on device {first}; "
                "move them onto one device first"
            )


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else ">= 1"
        raise ValueError(f"{name}: must be {bound}, got {value}")
    return value


def check_array(x: Any, name: str) -> None:
    """``x`` is an array (has a dtype and a shape), not None, a scalar or a list."""
    if not hasattr(x, "dtype") or not hasattr(x, "shape"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}")


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


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """A finite real number (not a bool) in ``[low, high]`` (or ``[low, high)``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    too_low = low is not None and not value >= low
    too_high = high is not None and not (value < high if high_open else value <= high)
    if value != value or too_low or too_high or value in (float("inf"), float("-inf")):
        right = ")" if high_open else "]"
        bounds = (
            f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{right}"
        )
        raise ValueError(f"{name}: must be a finite number in {bounds}, got {value}")
    return value


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed for NumPy's generators: an int >= 0 (not a bool)."""
    return check_positive_int(seed, name, allow_zero=True)
