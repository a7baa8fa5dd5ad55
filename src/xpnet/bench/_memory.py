"""Peak memory of training on the *large* workload, measured in a fresh process per backend.

Method (Linux): in a new Python process, import the backend and run a tiny warm-up training
(so that libraries, thread pools and code paths are loaded), make the data (drawn straight
into float32, then moved onto the backend; a host copy that the backend does not share is
freed) and read the resident set size (``VmRSS``) with the data in memory. Then reset the
kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``), call ``xpnet.train`` for one
epoch and read the peak (``VmHWM``); reset and repeat for a second epoch. ``peak - RSS with
data`` is what training adds on top of the data (validation, minibatch copies, activations,
gradients, compiled code); the ratio reported is ``(data + that extra) / data``: 1.0 for an
implementation that needs nothing but the data, at least 2.0 for one that copies the data set.
The first epoch includes one-off costs (JAX compiling the epoch); the second is the steady
state. Allocator slack left over from making the data is not counted (it is reported as
``data_resident_bytes``, the RSS growth from making the data, for reference).
Run as ``python -m xpnet.bench._memory BACKEND N D H K BATCH`` (prints JSON).
"""

from __future__ import annotations

import gc
import json
import sys
from typing import Any

METHOD = (
    "fresh subprocess per backend; (data + peak RSS during one epoch of xpnet.train (VmHWM, "
    "reset through /proc/self/clear_refs) - RSS with the data loaded) / data, "
    "data = X.nbytes + y.nbytes"
)


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the kernel (glibc ``malloc_trim``),
    so that the RSS counts live memory only and later allocations show up in the peak."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(backend: str, n: int, d: int, hidden: int, classes: int, batch: int) -> dict[str, Any]:
    import xpnet

    from ._timing import block
    from .workloads import synthetic

    xp = xpnet.namespace(backend)
    Xs, ys = synthetic(512, d, classes, seed=1)
    small = xpnet.init_params(d, hidden, classes, xp=xp, dtype="float32")
    xpnet.train(
        xpnet.asarray(Xs, backend=xp), xpnet.asarray(ys, backend=xp), small,
        epochs=1, lr=0.05, batch_size=batch,
    )  # fmt: skip
    del Xs, ys
    _release_free_memory()
    baseline = _status("VmRSS")
    X_host, y_host = synthetic(n, d, classes, seed=0)
    data_bytes = int(X_host.nbytes + y_host.nbytes)
    X, y = xpnet.asarray(X_host, backend=xp), xpnet.asarray(y_host, backend=xp)
    block((X, y))  # JAX copies host data lazily: finish the copy before the host data goes
    del X_host, y_host
    _release_free_memory()
    with_data = _status("VmRSS")
    params = xpnet.init_params(d, hidden, classes, xp=xp, dtype="float32")
    exact = _reset_peak()
    xpnet.train(X, y, params, epochs=1, lr=0.05, batch_size=batch)
    first = _status("VmHWM")
    _reset_peak()
    xpnet.train(X, y, params, epochs=1, lr=0.05, batch_size=batch)
    second = _status("VmHWM")
    extra_first, extra_steady = max(first - with_data, 0), max(second - with_data, 0)
    return {
        "backend": backend,
        "data_bytes": data_bytes,
        "baseline_rss_bytes": baseline,
        "data_resident_bytes": with_data - baseline,
        "training_extra_first_epoch_bytes": extra_first,
        "training_extra_steady_epoch_bytes": extra_steady,
        "ratio_first_epoch": (data_bytes + extra_first) / data_bytes,
        "ratio_steady_epoch": (data_bytes + extra_steady) / data_bytes,
        "peak_reset_supported": exact,
        "method": METHOD,
    }


def main(argv: list[str]) -> int:
    backend, *sizes = argv
    n, d, hidden, classes, batch = (int(s) for s in sizes)
    print(json.dumps(measure(backend, n, d, hidden, classes, batch)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
