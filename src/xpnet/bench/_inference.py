"""Inference: rows per second of onnxruntime on an exported file against xpnet's ``predict``.

One classifier of the *large* workload's shape (784 -> 256 -> 10, float32), fitted for one
epoch, saved with :func:`xpnet.save` and loaded onto each backend (so that its weights live
there, as a deployed model's would), and exported with :func:`xpnet.export_onnx`. Each
case predicts the labels of a batch of 1 row (a request) or 4096 rows (a bulk job): the
estimator's ``predict`` on NumPy, torch and JAX inputs, and an onnxruntime session asked
for the graph's ``label`` output. Every case is run in a loop of calls (many for one row);
the rounds are interleaved and the median is kept (:func:`xpnet.bench._timing.measure`).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._timing import Case, measure
from .workloads import synthetic

__all__ = ["inference_speed"]

#: The network: the *large* workload's (d, hidden, classes).
SHAPE = (784, (256,), 10)
QUICK_SHAPE = (20, (16,), 3)
BATCHES = (1, 4096)
#: Calls per timed run, by batch size: about 0.05 s or more each on this machine.
CALLS = {1: 500, 4096: 4}


def _fitted(d: int, hidden: tuple[int, ...], classes: int) -> Any:
    """An MLPClassifier of that shape, fitted for one epoch on float32 data."""
    from sklearn.exceptions import ConvergenceWarning

    from ..estimators import MLPClassifier

    X, y = synthetic(2048, d, classes, seed=0, dtype="float32")
    clf = MLPClassifier(hidden, solver="adam", batch_size=256, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def _loop(predict: Callable[[Any], Any], X: Any, calls: int) -> Callable[[], Any]:
    def run() -> Any:
        for _ in range(calls):
            labels = predict(X)
        return labels

    return run


def inference_speed(
    *,
    backends: Sequence[str],
    quick: bool = False,
    repeats: int | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Rows per second of each case, and onnxruntime's rate over each xpnet case's.

    ``backends``: where xpnet's ``predict`` is timed (among numpy, torch, jax). Without
    ndonnx or onnxruntime, a report that says so.
    """
    from .._optional import installed

    missing = [m for m in ("ndonnx", "onnx", "onnxruntime") if not installed(m)]
    if missing:
        return {"skipped": f"needs the [onnx] extra ({', '.join(missing)} not installed)"}
    import numpy as np
    import onnxruntime

    from ..backends import asarray, to_numpy
    from ..export import export_onnx
    from ..io import load, save

    d, hidden, classes = QUICK_SHAPE if quick else SHAPE
    repeats = repeats or (2 if quick else 9)
    clf = _fitted(d, hidden, classes)
    X_host, _ = synthetic(max(BATCHES), d, classes, seed=1, dtype="float32")
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as folder:
        model = save(Path(folder) / "model.safetensors", clf)
        start = time.perf_counter()
        path = export_onnx(clf, Path(folder) / "model.onnx")
        export_seconds = time.perf_counter() - start
        session = onnxruntime.InferenceSession(str(path))
        file_bytes = path.stat().st_size
        on = {b: load(model, backend=b) for b in backends}
    for batch in BATCHES:
        calls = 1 if quick else CALLS[batch]
        X = X_host[:batch]
        run = _loop(lambda X: session.run(["label"], {"X": X})[0], X, calls)
        cases.append(Case("onnxruntime", f"batch {batch}", "onnx", run, units=calls * batch))
        for backend, estimator in on.items():
            X_b = asarray(X, backend=backend)
            run = _loop(estimator.predict, X_b, calls)
            cases.append(Case(backend, f"batch {batch}", "xpnet", run, units=calls * batch))
    measure(cases, repeats, prime=0.1, progress=progress)
    reference = {c.impl: c for c in cases if c.backend == "onnxruntime"}
    results = []
    for case in cases:
        onnx_case = reference[case.impl]
        batch = int(case.impl.split()[1])
        labels_agree = bool(np.array_equal(to_numpy(case.result), onnx_case.result))
        results.append(
            {
                "runtime": case.backend,
                "batch": batch,
                "rows_per_second": 1.0 / case.median,  # Case.median: seconds per row
                "seconds_per_call": case.median * batch,
                "onnxruntime_over_this": case.median / onnx_case.median,
                "labels_equal_onnxruntime": labels_agree,
            }
        )
    return {
        "network": f"{d} -> {' -> '.join(map(str, hidden))} -> {classes}, float32",
        "repeats": repeats,
        "export_seconds": export_seconds,
        "file_bytes": file_bytes,
        "onnxruntime": onnxruntime.__version__,
        "results": results,
    }
