"""Random draws, made once on the host with NumPy and then moved to any backend.

Drawing on the host is what makes one seed give the same weights and the same
minibatch order on every backend, bit for bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

INITS = ("he", "glorot", "lecture")


def draw_layers(
    sizes: tuple[int, ...], *, seed: int, init: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W_1, b_1), ..., (W_L, b_L)]`` in float64 for ``sizes = (d, H_1, ..., K)``.

    ``"he"`` (He et al.): ``N(0, 2 / fan_in)`` for the ReLU layers, ``N(0, 1 / fan_in)`` for
    the linear output layer, zero biases, so activations keep their scale for any input size.
    ``"glorot"`` is :func:`glorot_uniform` of ``RandomState(seed)``. ``"lecture"`` replays the
    slides: ``np.random.seed(seed)``, then ``randn`` for each weight and then its bias (for
    ``(d, H, K)``: W1, b1, W2, b2, the slides' order).
    """
    pairs = list(itertools.pairwise(sizes))
    if init == "he":
        rng = np.random.default_rng(seed)
        last = len(pairs) - 1
        return [
            (
                rng.standard_normal((fan_in, fan_out))
                * np.sqrt((1.0 if i == last else 2.0) / fan_in),
                np.zeros(fan_out),
            )
            for i, (fan_in, fan_out) in enumerate(pairs)
        ]
    if init == "glorot":
        return glorot_uniform(sizes, np.random.RandomState(seed))
    if init == "lecture":
        legacy = np.random.RandomState(seed)
        return [
            (legacy.randn(fan_in, fan_out), legacy.randn(fan_out)) for fan_in, fan_out in pairs
        ]
    raise ValueError(f"init: unknown initialisation {init!r}; use one of {INITS}")


def glorot_uniform(
    sizes: tuple[int, ...], random_state: np.random.RandomState, *, factor: float = 6.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Glorot's uniform draws in scikit-learn's order: for each layer, ``W`` then ``b``, both
    uniform in ``+-sqrt(factor / (fan_in + fan_out))`` (scikit-learn uses ``factor = 2`` for
    logistic activations, 6 otherwise)."""
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = np.sqrt(factor / (fan_in + fan_out))
        W = random_state.uniform(-bound, bound, (fan_in, fan_out))
        b = random_state.uniform(-bound, bound, fan_out)
        layers.append((W, b))
    return layers


def epoch_orders(n: int, *, seed: int, shuffle: bool) -> Iterator[np.ndarray]:
    """One order of the sample indices per epoch, forever: ``rng.permutation(n)`` each time."""
    rng = np.random.default_rng(seed)
    identity = np.arange(n)
    while True:
        yield rng.permutation(n) if shuffle else identity
