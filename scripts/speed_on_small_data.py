"""The figures of "Speed on small data" in docs/estimators.md, measured on this machine.

    python scripts/speed_on_small_data.py threads   # torch threads against scikit-learn
    python scripts/speed_on_small_data.py jax       # JAX: first fit, refits, cross-validation
    python scripts/speed_on_small_data.py cv        # cross_val_score(cv=5), each in a new process

Each data set is standardized, then ``MLPClassifier(random_state=0)`` (scikit-learn's
defaults) is fitted; each time is the median of ``--repeats`` fits. The ``jax`` part runs
in this process from a cold start, so its first fit includes JAX's compilation.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

SETS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = SETS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _seconds(fit: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fit(make: Any, X: Any, y: Any) -> Any:
    return make(random_state=0).fit(X, y)


def threads(repeats: int, sets: list[str]) -> None:
    import torch
    from sklearn.neural_network import MLPClassifier as SkMLP
    from threadpoolctl import threadpool_limits

    import xpnet

    ours = xpnet.MLPClassifier
    default = torch.get_num_threads()
    print(f"torch default threads: {default}; median of {repeats} fits, float64; seconds")
    print(
        "data set             sklearn  xpnet numpy  torch default | 1 thread: sklearn  "
        "xpnet numpy  torch"
    )
    for name in sets:
        X, y = _data(name)
        Xt, yt = xpnet.asarray(X, backend="torch"), xpnet.asarray(y, backend="torch")
        row = []
        for limit in (None, 1):
            with threadpool_limits(limits=limit):  # the BLAS of NumPy (and scikit-learn)
                torch.set_num_threads(limit or default)
                for make, data in ((SkMLP, (X, y)), (ours, (X, y)), (ours, (Xt, yt))):
                    row.append(_seconds(partial(_fit, make, *data), repeats))
        torch.set_num_threads(default)
        shape = f"{name} {X.shape[0]}x{X.shape[1]}"
        print(f"{shape:<20}" + "  ".join(f"{s:>11.2f}" for s in row))


def jax_costs(repeats: int) -> None:
    import jax
    from sklearn.model_selection import cross_val_score

    import xpnet

    jax.config.update("jax_enable_x64", True)
    X, y = _data("breast_cancer")
    Xj, yj = xpnet.asarray(X, backend="jax"), xpnet.asarray(y, backend="jax")
    fit = lambda X_, y_: xpnet.MLPClassifier(random_state=0).fit(X_, y_)  # noqa: E731
    start = time.perf_counter()
    fit(Xj, yj)
    print(f"JAX first fit, breast_cancer 569x30: {time.perf_counter() - start:.2f} s")
    print(f"JAX same data again: {_seconds(lambda: fit(Xj, yj), repeats):.2f} s")
    start = time.perf_counter()
    fit(Xj[:500], yj[:500])
    print(f"JAX first fit on 500 of the rows: {time.perf_counter() - start:.2f} s")
    print(f"NumPy fit: {_seconds(lambda: fit(X, y), repeats):.2f} s")
    for name, (A, b) in (("NumPy", (X, y)), ("JAX", (Xj, yj))):
        start = time.perf_counter()
        cross_val_score(xpnet.MLPClassifier(random_state=0), A, b, cv=5)
        print(f"cross_val_score(cv=5), {name} input: {time.perf_counter() - start:.2f} s")


_CV = """
import sys, time, warnings
import numpy as np
backend = sys.argv[1]
if backend == "jax":
    import jax
    jax.config.update("jax_enable_x64", True)
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
import xpnet
X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
if backend == "jax":
    X, y = xpnet.asarray(X, backend="jax"), xpnet.asarray(y, backend="jax")
warnings.simplefilter("ignore")
for _ in range(2):
    start = time.perf_counter()
    cross_val_score(xpnet.MLPClassifier(random_state=0), X, y, cv=5)
    print(time.perf_counter() - start)
"""


def cv_in_fresh_processes(repeats: int) -> None:
    """``cross_val_score(MLPClassifier(random_state=0), cv=5)`` on standardized
    breast_cancer, NumPy and JAX input (x64), each in a new Python process (so JAX's
    compilations count), run alternately; the medians of the first ("cold") and second
    ("warm") cross-validation of each process."""
    import subprocess
    import sys

    times: dict[str, list[list[float]]] = {"numpy": [], "jax": []}
    for _ in range(repeats):
        for backend in times:
            out = subprocess.run(
                [sys.executable, "-c", _CV, backend], capture_output=True, text=True, check=True
            ).stdout.split()
            times[backend].append([float(s) for s in out])
    cold = {b: statistics.median(r[0] for r in runs) for b, runs in times.items()}
    warm = {b: statistics.median(r[1] for r in runs) for b, runs in times.items()}
    for backend in times:
        print(f"{backend:6s} cold {cold[backend]:.2f} s   warm {warm[backend]:.2f} s")
    print(f"JAX / NumPy, cold: {cold['jax'] / cold['numpy']:.2f}")
    with open("/proc/loadavg") as stream:
        print("load average:", stream.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("threads", "jax", "cv"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: scikit-learn's defaults
        if args.part == "threads":
            threads(args.repeats, args.sets.split(","))
        elif args.part == "cv":
            cv_in_fresh_processes(args.repeats)
        else:
            jax_costs(args.repeats)


if __name__ == "__main__":
    main()
