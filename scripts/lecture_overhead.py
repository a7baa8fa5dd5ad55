"""The cost of xpnet's public calls in the lecture's loop, against a hand-written NumPy loop.

The lecture, as a user writes it: 200 full-batch steps of ``loss_and_grad`` + ``sgd_step``
on iris (150 x 2, H = 10, K = 3), float64 NumPy. The hand-written loop does the same
math with plain NumPy. Prints both times (best of ``--repeat`` runs) and their ratio;
issue 7 asks for a ratio of at most 1.5. ``--profile`` prints where the public loop's
time goes (cProfile, sorted by own time).

    PYTHONPATH=src python scripts/lecture_overhead.py [--repeat 20] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

import xpnet

STEPS, LR = 200, 0.5


def xpnet_loop(X, y, params):
    for _ in range(STEPS):
        loss, grads = xpnet.loss_and_grad(X, y, params)
        params = xpnet.sgd_step(params, grads, LR)
    return params


def numpy_loop(X, y, params):
    W1, b1, W2, b2 = params
    n, K = X.shape[0], W2.shape[1]
    e_y = (y[:, None] == np.arange(K)).astype(X.dtype)
    for _ in range(STEPS):
        h = np.maximum(X @ W1 + b1, 0.0)
        z = h @ W2 + b2
        shifted = z - np.max(z, axis=1, keepdims=True)
        log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        loss = -np.sum(e_y * log_p) / n
        dz = (np.exp(log_p) - e_y) / n
        dh = (dz @ W2.T) * (h > 0).astype(h.dtype)
        dW1, db1, dW2, db2 = X.T @ dh, np.sum(dh, axis=0), h.T @ dz, np.sum(dz, axis=0)
        W1, b1, W2, b2 = W1 - LR * dW1, b1 - LR * db1, W2 - LR * dW2, b2 - LR * db2
    del loss
    return W1, b1, W2, b2


def best_of(function, repeat, *args):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    X, y = xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")
    params = xpnet.init_params(2, 10, 3, seed=0, dtype="float64")
    ours, final = best_of(xpnet_loop, args.repeat, X, y, params)
    hand, reference = best_of(numpy_loop, args.repeat, X, y, tuple(params))
    for a, b in zip(final, reference):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    print(f"xpnet public calls: {ours * 1e3:7.2f} ms for {STEPS} steps")
    print(f"hand-written NumPy: {hand * 1e3:7.2f} ms for {STEPS} steps")
    print(f"ratio:              {ours / hand:7.2f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(xpnet_loop, X, y, params)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
