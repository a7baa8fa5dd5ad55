"""scikit-learn's ``MLPClassifier`` against xpnet's, fitting the same data the same way.

Both estimators do exactly the same work (same draws, same batches, same number of
epochs: their numbers agree), so the ratio of their fit times is the price or the gain of
xpnet's code path alone. Two workloads:

* *large*: ``MLPClassifier(hidden_layer_sizes=(256,), solver="adam", batch_size=256,
  max_iter=3)`` on the synthetic 60000 x 784 float32 set of :mod:`xpnet.bench.workloads`,
  with NumPy input and with each other backend's input;
* *digits*: ``MLPClassifier(random_state=0)`` (every default) on scikit-learn's digits.

Run it as ``python -m xpnet.bench._estimators [--n 60000] [--repeats 3]``. Every case is
run once untimed (JAX compiles), then the cases are timed in interleaved rounds and the
median is kept, so that load from elsewhere hits them alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..backends import asarray, available_backends
from ._timing import block
from .workloads import synthetic

__all__ = ["estimator_speed"]

LARGE: dict[str, Any] = dict(
    hidden_layer_sizes=(256,), solver="adam", batch_size=256, max_iter=3, random_state=0
)


def _fit(estimator: Any, X: Any, y: Any) -> Callable[[], Any]:
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted = clone(estimator).fit(X, y)
        return block(fitted.coefs_[-1])

    return run


def _cases(n: int, backends: Sequence[str]) -> dict[tuple[str, str], Callable[[], Any]]:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from ..estimators import MLPClassifier

    X, y = synthetic(n, 784, 10, seed=0, dtype="float32")
    cases = {("large", "scikit-learn"): _fit(SklearnMLP(**LARGE), X, y)}
    for backend in backends:
        X_b, y_b = (
            (X, y)
            if backend == "numpy"
            else (asarray(X, backend=backend), asarray(y, backend=backend))
        )
        cases[("large", f"xpnet {backend}")] = _fit(MLPClassifier(**LARGE), X_b, y_b)
        cases[("products", backend)] = _products(X_b, backend)
    X_digits, y_digits = load_digits(return_X_y=True)
    cases[("digits", "scikit-learn")] = _fit(SklearnMLP(random_state=0), X_digits, y_digits)
    cases[("digits", "xpnet numpy")] = _fit(MLPClassifier(random_state=0), X_digits, y_digits)
    return cases


def _products(X: Any, backend: str) -> Callable[[], Any]:
    """The *large* fit's matrix products alone, over the same batches: per batch of
    ``batch_size`` rows the five products of a step (forward ``X W1``, ``h W2``; backward
    ``h^T delta2``, ``delta2 W2^T``, ``X^T delta1``), for every step of the fit.

    No implementation on that backend can fit faster, whatever it does around them (the
    activation, the loss, the update, the gathering of the batch's rows), so this is the
    floor the fit is measured against. On JAX the loop is one compiled ``lax.scan`` over
    the batches, as the fit's epoch is; elsewhere a Python loop of eager products.
    """
    import numpy as np

    d, hidden, k = X.shape[1], LARGE["hidden_layer_sizes"][0], 10
    b, epochs = LARGE["batch_size"], LARGE["max_iter"]
    rng = np.random.default_rng(0)
    W1_host = rng.standard_normal((d, hidden), dtype=np.float32)
    W2_host = rng.standard_normal((hidden, k), dtype=np.float32)
    W1, W2 = (asarray(a, backend=backend) for a in (W1_host, W2_host))
    n = X.shape[0]
    starts = range(0, n, b)

    def step(Xb: Any) -> Any:
        h = Xb @ W1
        z = h @ W2  # stands in for delta2 (same shape)
        dW2 = h.T @ z
        delta1 = z @ W2.T
        dW1 = Xb.T @ delta1
        return dW1, dW2

    if backend == "jax":
        import jax

        full = (n // b) * b  # the scan takes equal batches; the last partial one eagerly
        batches = X[:full].reshape(n // b, b, d)

        @jax.jit
        def epoch(batches: Any) -> Any:
            def body(carry: Any, Xb: Any) -> Any:
                dW1, dW2 = step(Xb)
                return carry + dW1[0, 0] + dW2[0, 0], None

            return jax.lax.scan(body, W1[0, 0] * 0, batches)[0]

        def run_jax() -> Any:
            out = [epoch(batches) for _ in range(epochs)]
            if full < n:
                out += [step(X[full:]) for _ in range(epochs)]
            return block(out)

        return run_jax

    def run() -> Any:
        out = None
        for _ in range(epochs):
            for start in starts:
                out = step(X[start : start + b])
        return block(out)

    return run


def estimator_speed(
    *,
    n: int = 60000,
    repeats: int = 3,
    backends: Sequence[str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Median fit seconds of each case and scikit-learn's time over xpnet's (> 1: faster).

    ``backends``: the inputs given to xpnet on *large* (default: every installed in-memory
    backend but array-api-strict, which is slow on purpose; Dask is for data that do not
    fit, and its own benchmark is ``bench --workload out-of-core``).
    """
    chosen = [b for b in available_backends() if b in ("numpy", "torch", "jax")]
    if backends is not None:
        chosen = list(backends)
    cases = _cases(n, chosen)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
    first: dict[tuple[str, str], float] = {}
    # Every case (fits and the products loops) runs once per round, interleaved, so that
    # load from elsewhere hits them alike; the ratios are of medians from the same rounds.
    for round_ in range(repeats + 1):  # round 0: warm-up (JAX compiles), timed separately
        for key, run in cases.items():
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            if round_:
                samples[key].append(seconds)
            else:
                first[key] = seconds
            label = f"round {round_}" if round_ else "warm-up"
            progress(f"{key[0]:7s} {key[1]:16s} {label}: {seconds:.2f} s")
    floors = {
        key[1]: statistics.median(samples.pop(key)) for key in list(cases) if key[0] == "products"
    }
    medians = {key: statistics.median(values) for key, values in samples.items()}
    ratios = {
        key: medians[(key[0], "scikit-learn")] / seconds
        for key, seconds in medians.items()
        if key[1] != "scikit-learn"
    }
    sklearn_seconds = medians[("large", "scikit-learn")]
    return {
        "n": n,
        "repeats": repeats,
        "matmul_floor_seconds": floors,
        "sklearn_over_matmul_floor": {b: sklearn_seconds / f for b, f in floors.items()},
        "fit_over_products": {b: medians[("large", f"xpnet {b}")] / f for b, f in floors.items()},
        "median_seconds": {" / ".join(k): v for k, v in medians.items()},
        "first_seconds": {" / ".join(k): v for k, v in first.items()},
        "sklearn_over_xpnet": {" / ".join(k): v for k, v in ratios.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xpnet.bench._estimators")
    parser.add_argument("--n", type=int, default=60000, help="samples of the large set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default=None, help="comma-separated inputs for xpnet")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    backends = None if args.backends is None else args.backends.split(",")
    result = estimator_speed(n=args.n, repeats=args.repeats, backends=backends)
    if args.json:
        import json

        with open(args.json, "w") as stream:
            json.dump(result, stream, indent=1)
    print("\nmedian fit time, and scikit-learn's time / xpnet's (> 1: xpnet is faster)")
    for key, seconds in result["median_seconds"].items():
        ratio = result["sklearn_over_xpnet"].get(key)
        print(f"  {key:28s} {seconds:8.2f} s" + ("" if ratio is None else f"   x{ratio:.2f}"))
    print("the large fit's five products per batch alone, over the same batches (the floor)")
    for backend, seconds in result["matmul_floor_seconds"].items():
        bound = result["sklearn_over_matmul_floor"][backend]
        over = result["fit_over_products"][backend]
        print(
            f"  products {backend:19s} {seconds:8.2f} s   fit / products {over:.2f}"
            f"   (scikit-learn / products x{bound:.2f}: the most a fit could reach)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
