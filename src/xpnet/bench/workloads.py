"""The three benchmark workloads of the performance issue, and their quick (smoke-test) sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Workload:
    """One training configuration: data, network size, batch size, dtype, timing plan."""

    name: str
    description: str
    n: int
    d: int
    hidden: int
    classes: int
    batch_size: int | None  # None: full batch
    dtype: str
    lr: float
    epochs: int  # epochs per timed repeat
    repeats: int

    @property
    def steps_per_epoch(self) -> int:
        size = self.n if self.batch_size is None else self.batch_size
        return -(-self.n // size)

    def flops_per_epoch(self) -> float:
        """Floating-point work of one epoch's matmuls: forward ``X W1``, ``h W2``; backward
        ``h^T dz``, ``dz W2^T``, ``X^T dh``: ``n (4 d H + 6 H K)``. Elementwise work is ignored."""
        return float(self.n * (4 * self.d * self.hidden + 6 * self.hidden * self.classes))

    def step_matmuls(self) -> list[tuple[int, int, int]]:
        """``(m, k, n)`` of the five matrix products of a full step: ``X W1``, ``h W2``,
        ``dz W2^T``, ``X^T dh``, ``h^T dz``."""
        b = self.n if self.batch_size is None else min(self.batch_size, self.n)
        d, H, K = self.d, self.hidden, self.classes
        return [(b, d, H), (b, H, K), (b, K, H), (d, b, H), (H, b, K)]

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["steps_per_epoch"] = self.steps_per_epoch
        record["flops_per_epoch"] = self.flops_per_epoch()
        return record


def workloads(quick: bool) -> dict[str, Workload]:
    """The issue's workloads; ``quick`` shrinks the sizes and repeats to a few seconds."""
    if quick:
        return {
            "iris": Workload("iris", "iris 150x2, H=10, K=3, full batch, float64",
                             150, 2, 10, 3, None, "float64", 0.1, 20, 1),
            "digits": Workload("digits", "digits (first 256) x64, H=64, K=10, batch 32, float32",
                               256, 64, 64, 10, 32, "float32", 0.1, 1, 1),
            "large": Workload("large", "synthetic 512x784, H=256, K=10, batch 256, float32",
                              512, 784, 256, 10, 256, "float32", 0.05, 1, 1),
        }  # fmt: skip
    return {
        "iris": Workload("iris", "iris 150x2, H=10, K=3, full batch, float64",
                         150, 2, 10, 3, None, "float64", 0.1, 300, 11),
        "digits": Workload("digits", "digits 1797x64, H=64, K=10, batch 32, float32",
                           1797, 64, 64, 10, 32, "float32", 0.1, 2, 7),
        "large": Workload("large", "synthetic 60000x784, H=256, K=10, batch 256, float32",
                          60000, 784, 256, 10, 256, "float32", 0.05, 1, 9),
    }  # fmt: skip


def make_data(workload: Workload, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The workload's data as NumPy arrays, ``X`` in the workload's dtype and int64 labels."""
    from .. import datasets

    if workload.name == "iris":
        X, y = datasets.load_iris_2d(backend="numpy", dtype=workload.dtype)
    elif workload.name == "digits":
        X, y = datasets.load_digits(backend="numpy", dtype=workload.dtype)
        X, y = X[: workload.n], y[: workload.n]
    else:
        X, y = synthetic(workload.n, workload.d, workload.classes, seed=seed, dtype=workload.dtype)
    return np.ascontiguousarray(X), np.ascontiguousarray(y)


def synthetic(
    n: int, d: int, classes: int, *, seed: int = 0, dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-sized Gaussian inputs labelled by a random linear teacher (learnable, no download).

    Drawn straight into ``X`` so that making the data never holds a temporary copy.
    """
    rng = np.random.default_rng(seed)
    X = np.empty((n, d), dtype=dtype)
    rng.standard_normal(out=X, dtype=X.dtype)  # in place: no temporary, no allocator slack
    teacher = rng.standard_normal((d, classes)).astype(dtype)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, 8192):
        y[start : start + 8192] = np.argmax(X[start : start + 8192] @ teacher, axis=1)
    return X, y
