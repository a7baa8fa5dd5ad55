"""The benchmark workloads, and their quick (smoke-test) sizes."""

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
    hidden: int | tuple[int, ...]  # one hidden width (the lecture's network) or several
    classes: int
    batch_size: int | None  # None: full batch
    dtype: str
    lr: float
    epochs: int  # epochs per timed repeat
    repeats: int
    optimizer: str = "sgd"  # "sgd" (plain, the lecture's) or "adam" (scikit-learn's rule)

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(d, H1, ..., HL, K)``."""
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        return (self.d, *hidden, self.classes)

    @property
    def lecture_form(self) -> bool:
        """One hidden layer and plain SGD: parameters as the lecture's ``Params``."""
        return len(self.sizes) == 3 and self.optimizer == "sgd"

    @property
    def steps_per_epoch(self) -> int:
        size = self.n if self.batch_size is None else self.batch_size
        return -(-self.n // size)

    def flops_per_epoch(self) -> float:
        """Floating-point work of one epoch's matmuls: per layer ``l`` of fan-in ``a`` and
        fan-out ``b``, the forward ``h_{l-1} W_l`` and the backward ``h_{l-1}^T delta_l`` cost
        ``2 n a b`` each, and ``delta_l W_l^T`` (not needed for the first layer) another;
        for ``(d, H, K)``: ``n (4 d H + 6 H K)``. Elementwise work is ignored."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        return float(self.n * (6 * sum(a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]))

    def step_matmuls(self) -> list[tuple[int, int, int]]:
        """``(m, k, n)`` of the matrix products of a full step: the forward ``h_{l-1} W_l``
        layer by layer, the backward ``delta_l W_l^T`` from the last layer to the second,
        then ``h_{l-1}^T delta_l`` layer by layer (for ``(d, H, K)``: ``X W1``, ``h W2``,
        ``dz W2^T``, ``X^T da``, ``h^T dz``)."""
        b = self.n if self.batch_size is None else min(self.batch_size, self.n)
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        forward = [(b, fan_in, fan_out) for fan_in, fan_out in pairs]
        deltas = [(b, fan_out, fan_in) for fan_in, fan_out in reversed(pairs[1:])]
        weights = [(fan_in, b, fan_out) for fan_in, fan_out in pairs]
        return forward + deltas + weights

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["steps_per_epoch"] = self.steps_per_epoch
        record["flops_per_epoch"] = self.flops_per_epoch()
        return record


def workloads(quick: bool) -> dict[str, Workload]:
    """The workloads; ``quick`` shrinks the sizes and repeats to a few seconds."""
    if quick:
        return {
            "iris": Workload("iris", "iris 150x2, H=10, K=3, full batch, float64",
                             150, 2, 10, 3, None, "float64", 0.1, 20, 1),
            "digits": Workload("digits", "digits (first 256) x64, H=64, K=10, batch 32, float32",
                               256, 64, 64, 10, 32, "float32", 0.1, 1, 1),
            "large": Workload("large", "synthetic 512x784, H=256, K=10, batch 256, float32",
                              512, 784, 256, 10, 256, "float32", 0.05, 1, 1),
            "deep": Workload("deep", "synthetic 512x64, 64-32-16-10, ReLU, Adam, batch 64, "
                             "float32", 512, 64, (32, 16), 10, 64, "float32", 1e-3, 1, 1,
                             "adam"),
        }  # fmt: skip
    return {
        "iris": Workload("iris", "iris 150x2, H=10, K=3, full batch, float64",
                         150, 2, 10, 3, None, "float64", 0.1, 300, 11),
        "digits": Workload("digits", "digits 1797x64, H=64, K=10, batch 32, float32",
                           1797, 64, 64, 10, 32, "float32", 0.1, 2, 7),
        "large": Workload("large", "synthetic 60000x784, H=256, K=10, batch 256, float32",
                          60000, 784, 256, 10, 256, "float32", 0.05, 1, 9),
        "deep": Workload("deep", "synthetic 60000x784, 784-256-128-10, ReLU, Adam, batch 256, "
                         "float32", 60000, 784, (256, 128), 10, 256, "float32", 1e-3, 1, 7,
                         "adam"),
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
