"""Random draws, made once on the host with NumPy and then moved to any backend.

Drawing on the host is what makes one seed give the same weights and the same
minibatch order on every backend, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

INITS = ("he", "lecture")


def draw_init(
    input_dim: int, hidden_dim: int, output_dim: int, *, seed: int, init: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(W1, b1, W2, b2)`` in float64.

    ``"lecture"`` replays the slides: ``np.random.seed(seed)`` then four
    ``randn`` draws in the order W1, b1, W2, b2. ``"he"`` draws
    ``W1 ~ N(0, 2/d)`` (He et al., for the ReLU layer), ``W2 ~ N(0, 1/H)`` (the
    linear output layer) and zero biases, so activations keep their scale for
    any input size.
    """
    if init == "lecture":
        legacy = np.random.RandomState(seed)
        W1 = legacy.randn(input_dim, hidden_dim)
        b1 = legacy.randn(hidden_dim)
        W2 = legacy.randn(hidden_dim, output_dim)
        b2 = legacy.randn(output_dim)
        return W1, b1, W2, b2
    if init == "he":
        rng = np.random.default_rng(seed)
        W1 = rng.standard_normal((input_dim, hidden_dim)) * np.sqrt(2.0 / input_dim)
        W2 = rng.standard_normal((hidden_dim, output_dim)) * np.sqrt(1.0 / hidden_dim)
        return W1, np.zeros(hidden_dim), W2, np.zeros(output_dim)
    raise ValueError(f"init: unknown initialisation {init!r}; use one of {INITS}")


def epoch_orders(n: int, *, seed: int, shuffle: bool) -> Iterator[np.ndarray]:
    """One order of the sample indices per epoch, forever: ``rng.permutation(n)`` each time."""
    rng = np.random.default_rng(seed)
    identity = np.arange(n)
    while True:
        yield rng.permutation(n) if shuffle else identity
