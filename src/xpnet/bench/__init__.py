"""``python -m xpnet bench``: is "written once" as fast as hand-written native code?

Measures, side by side in one run, on every installed backend:

* three training workloads (*iris*, *digits*, *large*), each timed for xpnet's generic code,
  a hand-written native version of the same loop on the same backend
  (:mod:`xpnet.bench.native`), scikit-learn's ``MLPClassifier`` configured the same way, and
  the machine's limit (the epoch's matmul work at the fastest float32 matmul rate measured);
* the lecture's timing slide: ``forward`` against ``forward_rowwise``;
* the peak memory of training on *large* against the size of its data (a fresh process per
  backend, see :mod:`xpnet.bench._memory`).

Every figure is a median over repeats with the warm-up excluded (compile times are reported
separately); cases are interleaved round-robin so that load from elsewhere hits them alike;
every claim is a ratio of two figures from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from .._typing import tree_leaves
from ._timing import Case, measure, median_time
from .workloads import Workload, make_data, workloads

__all__ = ["main", "run"]

_DEFAULT_BACKENDS = ("numpy", "array_api_strict", "torch", "jax")
_TARGET_BACKENDS = ("numpy", "torch", "jax")
#: Upper bounds of xpnet / the fastest native trainer, per workload and backend.
_NATIVE_BOUNDS: dict[str, dict[str, float]] = {
    "large": {"default": 1.10},
    "iris": {"default": 1.30},
    "deep": {"default": 1.10, "torch": 1.15},
}
#: Sections that are not timed by ``_timed_here`` (they run their own processes or harness).
_OWN_PROCESS = ("estimators", "inference")
#: Adam's learning rate in the loop section (the lecture's 0.1 is for SGD).
ADAM_LOOP_LR = 0.01
#: Untimed runs of a case, for at least this long, before each of its timed runs.
PRIME_SECONDS = 0.25


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xpnet bench",
        description=(
            "Benchmark xpnet's generic training against hand-written native code on each "
            "backend, scikit-learn's MLPClassifier and the machine's matmul limit; time "
            "forward vs forward_rowwise; measure peak memory. Prints a table and checks the "
            "performance targets. All results are medians of repeats (warm-up excluded) and "
            "every comparison is a ratio measured in this run."
        ),
    )
    parser.add_argument(
        "--json", metavar="FILE", default=None, help="also write every measurement to FILE"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny sizes and 1-2 repeats (a few seconds per backend); "
        "the numbers are not meaningful",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated backends (default: every installed one of "
        f"{', '.join(_DEFAULT_BACKENDS)})",
    )
    parser.add_argument(
        "--workloads",
        default=None,
        help="comma-separated workloads among iris, digits, large, deep, loop (the lecture "
        "as a user writes it: a loop of public calls), estimators (MLPClassifier against "
        "scikit-learn's on the large set and on digits) and inference (onnxruntime on the "
        "exported file against predict) (default: all); "
        "`--workload out-of-core` runs the Dask out-of-core benchmark instead (see "
        "`python -m xpnet bench --workload out-of-core --help`)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per case (default: 11 for iris and loop, 7 for digits, 9 for "
        "large, 7 for deep)",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory subprocesses"
    )
    parser.add_argument(
        "--torch-compile",
        action="store_true",
        help="also time xpnet with compile='jit' on torch (torch.compile; slow to compile)",
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        default=None,
        help="also write the tables to FILE (how benchmarks/RESULTS.md is made)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final tables")
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run every workload in this process (default: each in a fresh process, so that "
        "none pays for the heap and thread pools that the ones before it left)",
    )
    parser.add_argument("--workload-json", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default=None,
        help="the GPU run instead: checks and the large, deep and estimator workloads on torch "
        "(CUDA) and JAX (GPU); `cpu`: the same at tiny sizes, a smoke test (see `python -m "
        "xpnet bench --device cuda --help`)",
    )
    return parser


# --- placing data -------------------------------------------------------------------------


def _place(backend: str, X: Any, y: Any, dtype: str) -> tuple[Any, Any, Any]:
    import xpnet

    xp = xpnet.namespace(backend)
    return xp, xpnet.asarray(X, backend=xp, dtype=dtype), xpnet.asarray(y, backend=xp)


def _host(params: Any) -> list[Any]:
    import numpy as np

    from ..backends import to_numpy

    return [np.asarray(to_numpy(p), dtype=np.float64) for p in tree_leaves(params)]


def _max_diff(a: Any, b: Any) -> float:
    import numpy as np

    return max(float(np.max(np.abs(x - y))) for x, y in zip(_host(a), _host(b)))


# --- the workloads --------------------------------------------------------------------------


def _xpnet_modes(
    workload: Workload, backend: str, torch_compile: bool, quick: bool
) -> list[tuple[str, str]]:
    """``(label, compile mode)`` of the xpnet drivers timed on ``backend``; the first is the
    default one, used for the targets (the other JAX drivers only for the lecture's network)."""
    if backend == "jax" and not quick and workload.lecture_form:
        return [("xpnet", "auto"), ("xpnet compile=jit", "jit"), ("xpnet compile=none", "none")]
    if backend == "torch" and torch_compile:
        return [("xpnet", "auto"), ("xpnet torch.compile", "jit")]
    return [("xpnet", "auto")]


def _initial(w: Workload, xp: Any = None) -> Any:
    """The workload's initial parameters (seed 0, He): ``Params`` or a tuple of ``Layer``."""
    import xpnet

    if w.lecture_form:
        return xpnet.init_params(w.d, w.sizes[1], w.classes, xp=xp, seed=0, dtype=w.dtype)
    return xpnet.init_layers(w.sizes, xp=xp, seed=0, dtype=w.dtype)


def _train_options(w: Workload) -> dict[str, Any]:
    """``xpnet.train``'s options for the workload: the lecture's SGD, or Adam."""
    import xpnet

    if w.optimizer == "adam":
        return {"optimizer": xpnet.optim.Adam(w.lr)}
    return {"lr": w.lr}


def _cases(
    workload: Workload, backends: Sequence[str], X: Any, y: Any, torch_compile: bool, quick: bool
) -> list[Case]:
    import xpnet

    from . import native
    from ._sklearn import sklearn_trainer

    w = workload
    natives = native.NATIVE if w.optimizer == "sgd" else native.NATIVE_ADAM
    options = _train_options(w)
    cases: list[Case] = []
    for backend in backends:
        xp, Xb, yb = _place(backend, X, y, w.dtype)
        params = _initial(w, xp)
        for label, mode in _xpnet_modes(w, backend, torch_compile, quick):

            def run_xpnet(Xb=Xb, yb=yb, params=params, mode=mode):
                return xpnet.train(
                    Xb, yb, params, epochs=w.epochs, batch_size=w.batch_size, seed=0,
                    compile=mode, **options,
                )[0]  # fmt: skip

            cases.append(Case(backend, label, "xpnet", run_xpnet, units=w.epochs))
        for label, trainer in natives.get(backend, {}).items():

            def run_native(Xb=Xb, yb=yb, params=params, trainer=trainer):
                return trainer(
                    Xb, yb, params, epochs=w.epochs, lr=w.lr, batch_size=w.batch_size, seed=0
                )[0]

            cases.append(Case(backend, label, "native", run_native, units=w.epochs))
    cases.append(
        Case(
            "sklearn",
            "MLPClassifier (NumPy)",
            "sklearn",
            sklearn_trainer(X, y, _host(_initial(w)), workload=w),
            units=w.epochs,
        )
    )
    return cases


def _case_record(case: Case, reference: Case | None, w: Workload) -> dict[str, Any]:
    record: dict[str, Any] = {
        "backend": case.backend,
        "impl": case.impl,
        "kind": case.kind,
        "seconds_per_epoch": case.median,
        "min_seconds_per_epoch": case.minimum,
        "spread": case.spread,
        "seconds_per_step": case.median / w.steps_per_epoch,
        "repeat_seconds": case.samples,
        "epochs_per_repeat": case.units,
        "first_call_seconds": case.first_seconds,
        "compile_seconds": case.compile_seconds,
    }
    if reference is not None:
        record["ratio_to_xpnet"] = case.median / reference.median
        record["ratio_of_minima_to_xpnet"] = case.minimum / reference.minimum
        if case.kind != "sklearn":
            record["max_abs_param_diff_vs_xpnet"] = _max_diff(case.result, reference.result)
    return record


def _run_workload(
    w: Workload,
    backends: Sequence[str],
    *,
    torch_compile: bool,
    quick: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from ._sklearn import sklearn_same_order_check

    say(f"{w.name}: {w.description}; {w.epochs} epoch(s) x {w.repeats} repeats")
    X, y = make_data(w)
    cases = _cases(w, backends, X, y, torch_compile, quick)
    measure(cases, w.repeats, prime=0.0 if quick else PRIME_SECONDS, progress=say)
    xpnet_default = {c.backend: c for c in cases if c.kind == "xpnet" and c.impl == "xpnet"}
    records = []
    for case in cases:
        reference = xpnet_default.get(case.backend, xpnet_default.get("numpy"))
        records.append(_case_record(case, reference, w))
    entry = {
        "config": w.as_dict(),
        "results": records,
        "sklearn_same_math_max_abs_param_diff": sklearn_same_order_check(
            X, y, _initial(w), w, _train_options(w)
        ),
    }
    if w.dtype != "float64":
        entry["same_math_float64"] = _same_math_float64(w, backends, X, y)
    return entry


def _same_math_float64(w: Workload, backends: Sequence[str], X: Any, y: Any) -> dict[str, Any]:
    """The timed runs' parameter differences in float32 measure rounding as much as the
    arithmetic (Adam divides tiny gradients by their tiny RMS: over hundreds of steps one
    rounding becomes a different step). The same trainers on the first few batches in
    float64, 2 shuffled epochs, show that they compute the same numbers: the largest
    parameter difference of each native trainer from xpnet, and scikit-learn's (3 unshuffled
    epochs)."""
    import xpnet

    from . import native
    from ._sklearn import sklearn_same_order_check

    size = w.n if w.batch_size is None else w.batch_size
    small = Workload(**{**w.__dict__, "n": min(w.n, 4 * size), "dtype": "float64"})
    X64, y64 = X[: small.n].astype("float64"), y[: small.n]
    natives = native.NATIVE if w.optimizer == "sgd" else native.NATIVE_ADAM
    options = _train_options(small)
    diffs: dict[str, float] = {}
    for backend in backends:
        if not natives.get(backend):
            continue
        xp, Xb, yb = _place(backend, X64, y64, "float64")
        params = _initial(small, xp)
        ours = xpnet.train(
            Xb, yb, params, epochs=2, batch_size=small.batch_size, seed=0, **options
        )[0]  # fmt: skip
        for label, trainer in natives[backend].items():
            theirs = trainer(
                Xb, yb, params, epochs=2, lr=small.lr, batch_size=small.batch_size, seed=0
            )[0]
            diffs[f"{backend}: {label}"] = _max_diff(theirs, ours)
    sklearn = sklearn_same_order_check(X64, y64, _initial(small), small, options)
    return {"samples": small.n, "max_abs_param_diff_vs_xpnet": diffs, "sklearn": sklearn}


# --- the machine's limit ----------------------------------------------------------------------


def _matmul_shapes(quick: bool, step_shapes: Sequence[tuple[int, int, int]]) -> list[Any]:
    """Square products for the machine's best rate, and the shapes of a *large* step."""
    squares = [(512, 512, 512)] if quick else [(1024, 1024, 1024), (2048, 2048, 2048)]
    return list(dict.fromkeys([*step_shapes, *squares]))


def _shape_limit(w: Workload, matmul: dict[str, Any]) -> float | None:
    """Seconds per epoch of the step's matmuls, each shape at the best rate measured for it
    on any backend (``None`` when a shape was not measured)."""
    total = 0.0
    for m, k, n in w.step_matmuls():
        rates = [r.get(f"{m}x{k}x{n}") for r in matmul["gflops"].values()]
        rates = [r for r in rates if r]
        if not rates:
            return None
        total += 2.0 * m * k * n / (max(rates) * 1e9)
    return total * w.n / w.step_matmuls()[0][0]


def _matmul_rates(
    backends: Sequence[str],
    quick: bool,
    step_shapes: Sequence[tuple[int, int, int]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """float32 GFLOP/s of ``A @ B`` per backend and shape (median of repeats)."""
    import numpy as np

    rng = np.random.default_rng(0)
    repeats = 3 if quick else 15
    rates: dict[str, dict[str, float]] = {}
    for backend in backends:
        if backend == "array_api_strict":
            continue  # a wrapper of NumPy's matmul
        say(f"matmul rate: {backend}")
        rates[backend] = {}
        for m, k, n in _matmul_shapes(quick, step_shapes):
            A_host = rng.standard_normal((m, k), dtype=np.float32)
            B_host = rng.standard_normal((k, n), dtype=np.float32)
            fn = _matmul_fn(backend, A_host, B_host)
            seconds = median_time(fn, repeats, warmup=2)
            rates[backend][f"{m}x{k}x{n}"] = 2.0 * m * k * n / seconds / 1e9
    best_backend, best_shape, best = "", "", 0.0
    for backend, by_shape in rates.items():
        for shape, rate in by_shape.items():
            if rate > best:
                best_backend, best_shape, best = backend, shape, rate
    return {
        "gflops": rates,
        "best_gflops": best,
        "best_backend": best_backend,
        "best_shape": best_shape,
    }


def _matmul_fn(backend: str, A_host: Any, B_host: Any) -> Callable[[], Any]:
    if backend == "torch":
        import torch

        A, B = torch.from_numpy(A_host), torch.from_numpy(B_host)
        return lambda: torch.mm(A, B)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        A_jax, B_jax = jnp.asarray(A_host), jnp.asarray(B_host)
        matmul = jax.jit(jnp.matmul)
        return lambda: matmul(A_jax, B_jax)
    return lambda: A_host @ B_host


# --- the lecture as a user writes it: a loop of public calls ------------------------------------


def _user_loop(quick: bool, repeats: int | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Full-batch steps on iris (NumPy, float64) written with xpnet's public calls, each
    checking its arguments (``loss_and_grad`` then ``sgd_step``, or ``SGD.step``), against
    the same steps written by hand in NumPy."""
    import xpnet

    from .native import numpy_lecture_adam_steps, numpy_lecture_steps
    from .workloads import Workload

    steps, lr = (20, 0.1) if quick else (200, 0.1)
    repeats = repeats or (1 if quick else 11)
    iris = Workload("iris", "", 150, 2, 10, 3, None, "float64", lr, 1, 1)
    X, y = make_data(iris)
    params = xpnet.init_params(2, 10, 3, seed=0, dtype="float64")
    opt = xpnet.optim.SGD(lr)

    def with_sgd_step() -> Any:
        p = params
        for _ in range(steps):
            loss, grads = xpnet.loss_and_grad(X, y, p)
            p = xpnet.sgd_step(p, grads, lr)
        return p

    def with_optimizer() -> Any:
        p, state = params, opt.init(params)
        for _ in range(steps):
            loss, grads = xpnet.loss_and_grad(X, y, p)
            p, state = opt.step(p, grads, state)
        return p

    def by_hand() -> Any:
        return numpy_lecture_steps(X, y, params, steps=steps, lr=lr)[0]

    adam = xpnet.optim.Adam(ADAM_LOOP_LR)

    def with_adam() -> Any:
        p, state = params, adam.init(params)
        for _ in range(steps):
            loss, grads = xpnet.loss_and_grad(X, y, p)
            p, state = adam.step(p, grads, state)
        return p

    def adam_by_hand() -> Any:
        return numpy_lecture_adam_steps(X, y, params, steps=steps, lr=ADAM_LOOP_LR)[0]

    cases = [
        Case("numpy", "native numpy loop", "native", by_hand, units=steps),
        Case("numpy", "loss_and_grad + sgd_step", "xpnet", with_sgd_step, units=steps),
        Case("numpy", "loss_and_grad + SGD.step", "xpnet", with_optimizer, units=steps),
        Case("numpy", "native numpy loop, Adam", "native", adam_by_hand, units=steps),
        Case("numpy", "loss_and_grad + Adam.step", "xpnet", with_adam, units=steps),
    ]
    # each row against the hand-written loop of the same update rule
    references = [cases[0], cases[0], cases[0], cases[3], cases[3]]
    say(f"loop: the lecture as a user writes it, {steps} full-batch steps x {repeats} repeats")
    measure(cases, repeats, prime=0.0 if quick else PRIME_SECONDS, progress=say)
    records = [
        {
            "backend": c.backend,
            "impl": c.impl,
            "kind": c.kind,
            "seconds_per_step": c.median,
            "min_seconds_per_step": c.minimum,
            "spread": c.spread,
            "repeat_seconds": c.samples,
            "steps_per_repeat": c.units,
            "ratio_to_native": c.median / reference.median,
            "ratio_of_minima_to_native": c.minimum / reference.minimum,
            "max_abs_param_diff_vs_native": _max_diff(c.result, reference.result),
            "native": reference.impl,
        }
        for c, reference in zip(cases, references)
    ]
    config = {"data": "iris 150x2, H=10, K=3, float64, full batch", "steps": steps, "lr": lr,
              "adam_lr": ADAM_LOOP_LR, "repeats": repeats}  # fmt: skip
    return {"config": config, "results": records}


# --- the estimators, in a process of their own --------------------------------------------------


def _estimators_in_fresh_process(
    *, n: int, repeats: int, backends: Sequence[str], say: Callable[[str], None]
) -> dict[str, Any]:
    """:func:`xpnet.bench._estimators.estimator_speed` in a fresh Python process.

    After the other workloads, this process holds their heap (and torch's and XLA's thread
    pools): fits that allocate a new array per operation, scikit-learn's among them, then
    ran up to 1.5 times slower here than in a process of their own, which made the ratio
    a measure of what ran before. A fresh process gives every fit the same start.
    """
    import json
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "estimators.json")
        command = [sys.executable, "-m", "xpnet.bench._estimators", "--n", str(n)]
        command += ["--repeats", str(repeats), "--backends", ",".join(backends), "--json", out]
        say("estimators: a fresh process (" + " ".join(command[1:4]) + " ...)")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the estimator benchmark failed:\n{done.stderr[-2000:]}")
        for line in done.stdout.splitlines():
            say(line)
        with open(out) as stream:
            return dict(json.load(stream))


# --- the lecture's timing slide ----------------------------------------------------------------


def _rowwise(
    backends: Sequence[str], quick: bool, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    import numpy as np

    import xpnet

    sizes = [30] if quick else [150, 1000]
    repeats = 2 if quick else 5
    rng = np.random.default_rng(0)
    records = []
    for n in sizes:
        X_host = rng.standard_normal((n, 2))
        for backend in backends:
            say(f"forward vs forward_rowwise: {backend}, n={n}")
            xp, X, _ = _place(backend, X_host, np.zeros(n, dtype=np.int64), "float64")
            params = xpnet.init_params(2, 10, 3, xp=xp, seed=0, dtype="float64")
            vectorized = median_time(partial(xpnet.forward, X, params), repeats)
            rowwise = median_time(partial(xpnet.forward_rowwise, X, params), repeats)
            records.append(
                {
                    "backend": backend,
                    "n": n,
                    "shape": "d=2, H=10, K=3, float64",
                    "forward_seconds": vectorized,
                    "forward_rowwise_seconds": rowwise,
                    "speedup": rowwise / vectorized,
                }
            )
    return records


# --- peak memory ---------------------------------------------------------------------------


def _peak_memory(
    backends: Sequence[str], w: Workload, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """One fresh process per backend, run side by side (each measures its own memory)."""
    say(f"peak memory: {', '.join(backends)} (a fresh process each, {w.n}x{w.d})")
    sizes = [str(v) for v in (w.n, w.d, w.hidden, w.classes, w.batch_size)]
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "xpnet.bench._memory", backend, *sizes],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for backend in backends
    ]
    records = []
    for backend, process in zip(backends, running):
        out, err = process.communicate()
        if process.returncode != 0:
            records.append({"backend": backend, "error": err.strip()[-2000:]})
        else:
            records.append(json.loads(out.strip().splitlines()[-1]))
    return records


# --- targets ---------------------------------------------------------------------------------


def _find(results: list[dict[str, Any]], backend: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in results if r["backend"] == backend and r["kind"] == kind]


def _default(results: list[dict[str, Any]], backend: str) -> dict[str, Any] | None:
    found = [r for r in _find(results, backend, "xpnet") if r["impl"] == "xpnet"]
    return found[0] if found else None


def _best_native(results: list[dict[str, Any]], backend: str) -> dict[str, Any] | None:
    natives = _find(results, backend, "native")
    return min(natives, key=lambda r: r["seconds_per_epoch"]) if natives else None


def _shape_note(best: dict[str, Any], entry: dict[str, Any]) -> str:
    shaped = entry.get("limit_at_step_shapes_seconds_per_epoch")
    if not shaped:
        return "step shapes not measured"
    return f"{best['seconds_per_epoch'] / shaped:.2f} of the limit at the step's own shapes"


def _minima(ours: dict[str, Any], theirs: dict[str, Any], key: str) -> str:
    """The ratio of the fastest repeats, and each side's spread (max - min) / median."""
    mine, other = ours.get("min_" + key), theirs.get("min_" + key)
    if not mine or not other:
        return ""
    return (
        f"ratio of minima {mine / other:.2f}, spreads {ours['spread']:.0%} and "
        f"{theirs['spread']:.0%}"
    )


def _targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(what: str, value: float | None, op: str, bound: float, detail: str) -> None:
        met = None if value is None else (value <= bound if op == "<=" else value >= bound)
        targets.append(
            {"what": what, "value": value, "target": f"{op} {bound}", "met": met, "detail": detail}
        )

    loads = report["workloads"]
    for name, bounds in _NATIVE_BOUNDS.items():
        if name not in loads:
            continue
        results = loads[name]["results"]
        for backend in _TARGET_BACKENDS:
            ours, theirs = _default(results, backend), _best_native(results, backend)
            if ours is None or theirs is None:
                continue
            add(
                f"{name}: xpnet / native, {backend}",
                ours["seconds_per_epoch"] / theirs["seconds_per_epoch"],
                "<=",
                bounds.get(backend, bounds["default"]),
                f"fastest native: {theirs['impl']}; " + _minima(ours, theirs, "seconds_per_epoch"),
            )
    for name, backend_rule, bound in (("large", "numpy", 1.3), ("large", "best", 2.0),
                                      ("iris", "numpy", 2.0), ("deep", "numpy", 1.3),
                                      ("deep", "best", 2.0)):  # fmt: skip
        if name not in loads:
            continue
        results = loads[name]["results"]
        sk = _find(results, "sklearn", "sklearn")
        candidates = [r for r in (_default(results, b) for b in _TARGET_BACKENDS) if r]
        ours = (
            min(candidates, key=lambda r: r["seconds_per_epoch"]) if backend_rule == "best"
            else _default(results, backend_rule)
        )  # fmt: skip
        if not sk or ours is None:
            continue
        add(
            f"{name}: sklearn / xpnet, {backend_rule if backend_rule != 'best' else 'best'}",
            sk[0]["seconds_per_epoch"] / ours["seconds_per_epoch"],
            ">=",
            bound,
            f"xpnet on {ours['backend']}",
        )
    if "large" in loads and report.get("matmul", {}).get("best_gflops"):
        results = loads["large"]["results"]
        best = min(
            (r for r in results if r["kind"] == "xpnet"), key=lambda r: r["seconds_per_epoch"]
        )
        limit = loads["large"]["limit_seconds_per_epoch"]
        add(
            "large: best xpnet epoch / matmul limit",
            best["seconds_per_epoch"] / limit,
            "<=",
            1.3,
            f"{best['impl']} on {best['backend']}; limit at {report['matmul']['best_gflops']:.0f}"
            f" GFLOP/s ({report['matmul']['best_backend']}); " + _shape_note(best, loads["large"]),
        )
    loop = report.get("loop")
    if loop:
        natives = {r["impl"]: r for r in loop["results"] if r["kind"] == "native"}
        for r in loop["results"]:
            native = natives.get(r.get("native", "native numpy loop"))
            if r["kind"] == "xpnet" and native is not None:
                add(
                    f"loop: {r['impl']} / native, numpy",
                    r["seconds_per_step"] / native["seconds_per_step"],
                    "<=",
                    1.5,
                    f"{loop['config']['steps']} full-batch steps on iris, float64; "
                    + _minima(r, native, "seconds_per_step"),
                )
    fits = report.get("estimators")
    if fits:
        ratios = fits["sklearn_over_xpnet"]
        n = fits["n"]
        if "large / xpnet numpy" in ratios:
            add(
                "estimators: scikit-learn / xpnet MLPClassifier fit, numpy",
                ratios["large / xpnet numpy"],
                ">=",
                1.3,
                f"{n} x 784 float32, (256,), adam, batch 256, 3 epochs",
            )
        large = {k: v for k, v in ratios.items() if k.startswith("large / ")}
        if large:
            best = max(large, key=lambda k: large[k])
            backend = best.split(" / ")[1].removeprefix("xpnet ")
            bounds = fits.get("sklearn_over_matmul_floor", {})
            limit = (
                "" if backend not in bounds else f"; its matmuls alone allow {bounds[backend]:.2f}"
            )
            add(
                "estimators: scikit-learn / xpnet fit, fastest backend",
                large[best],
                ">=",
                2.0,
                f"{backend} input{limit}",
            )
        for backend, value in fits.get("fit_over_products", {}).items():
            add(
                f"estimators: fit / its five products per batch, {backend}",
                value,
                "<=",
                1.25,
                "the same batches, timed in the same rounds",
            )
        for key, value in ratios.items():
            if key.startswith("digits / "):
                add(
                    f"estimators: scikit-learn / xpnet on digits, {key.split(' / ')[1]}",
                    value,
                    ">=",
                    1.0,
                    "every default (not slower than scikit-learn)",
                )
    for record in report.get("memory", []):
        if "ratio_first_epoch" in record:
            add(
                f"large: peak memory / data, {record['backend']}",
                record["ratio_first_epoch"],
                "<=",
                1.5,
                f"steady epoch {record['ratio_steady_epoch']:.2f}",
            )
    return targets


# --- the run -----------------------------------------------------------------------------------


def _timed_here(
    names: Sequence[str],
    args: argparse.Namespace,
    backends: Sequence[str],
    all_loads: dict[str, Workload],
    say: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The training workloads and the loop named in ``names``, timed in this process."""
    entries, loop = {}, None
    for name in names:
        if name == "loop":
            loop = _user_loop(args.quick, args.repeats, say)
            continue
        w = all_loads[name]
        if args.repeats is not None:
            w = Workload(**{**w.__dict__, "repeats": args.repeats})
        entries[name] = _run_workload(
            w, backends, torch_compile=args.torch_compile, quick=args.quick, say=say
        )
    return entries, loop


def _timed_in_fresh_processes(
    names: Sequence[str],
    args: argparse.Namespace,
    backends: Sequence[str],
    say: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Each workload in a Python process of its own (``--same-process --workload-json``).

    In one process the figures of a workload depended on those that ran before it: the
    deep epoch on torch took 554 ms alone and 871 ms at the end of a full run (the heap
    and the thread pools that earlier workloads left). A fresh process gives each the
    same start; its repeats are still interleaved across implementations.
    """
    import tempfile

    entries: dict[str, Any] = {}
    loop = None
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            out = os.path.join(folder, f"{name}.json")
            command = [sys.executable, "-m", "xpnet", "bench", "--same-process", "--quiet",
                       "--workloads", name, "--backends", ",".join(backends),
                       "--workload-json", out]  # fmt: skip
            command += ["--quick"] if args.quick else []
            command += ["--torch-compile"] if args.torch_compile else []
            command += [] if args.repeats is None else ["--repeats", str(args.repeats)]
            say(f"{name}: a fresh process")
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the {name} workload failed:\n{done.stderr[-3000:]}")
            with open(out) as stream:
                part = json.load(stream)
            entries.update(part["workloads"])
            loop = part.get("loop", loop)
    return entries, loop


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Run the benchmarks chosen by ``args``; return the report (what ``--json`` writes)."""
    from ..backends import available_backends
    from ._memory import METHOD
    from ._system import system_report

    say: Callable[[str], None] = (lambda _: None) if args.quiet else _say
    installed = available_backends()
    chosen = args.backends.split(",") if args.backends else list(_DEFAULT_BACKENDS)
    unknown = [b for b in chosen if b not in _DEFAULT_BACKENDS]
    if unknown:
        raise ValueError(f"--backends: unknown backend(s) {unknown}")
    backends = [b for b in chosen if b in installed]
    if "jax" in backends:
        import jax

        jax.config.update("jax_enable_x64", True)  # iris runs in float64; the others pin float32
    all_loads = workloads(args.quick)
    extra = ("loop", "estimators", "inference")
    names = args.workloads.split(",") if args.workloads else [*all_loads, *extra]
    unknown = [n for n in names if n not in (*all_loads, *extra)]
    if unknown:
        raise ValueError(
            f"--workloads: unknown workload(s) {unknown}; use {', '.join([*all_loads, *extra])}"
        )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "system": system_report(list(argv)),
        "quick": bool(args.quick),
        "backends": backends,
        "skipped_backends": [b for b in chosen if b not in installed],
    }
    if args.workload_json:  # a child of _timed_in_fresh_processes: the timings only
        timed = [n for n in names if n not in _OWN_PROCESS]
        entries, loop = _timed_here(timed, args, backends, all_loads, say)
        with open(args.workload_json, "w") as stream:
            json.dump({"workloads": entries, "loop": loop}, stream)
        return {}
    step_shapes = [*all_loads["large"].step_matmuls(), *all_loads["deep"].step_matmuls()]
    report["matmul"] = _matmul_rates(backends, args.quick, step_shapes, say)
    report["workloads"] = {}
    timed = [n for n in names if n not in _OWN_PROCESS]
    if args.same_process:
        report["workloads"], loop = _timed_here(timed, args, backends, all_loads, say)
    else:
        report["workloads"], loop = _timed_in_fresh_processes(timed, args, backends, say)
    report["fresh_process_per_workload"] = not args.same_process
    for name, entry in report["workloads"].items():
        w = all_loads[name]
        entry["limit_seconds_per_epoch"] = w.flops_per_epoch() / (
            report["matmul"]["best_gflops"] * 1e9
        )
        entry["limit_at_step_shapes_seconds_per_epoch"] = _shape_limit(w, report["matmul"])
    if loop is not None:
        report["loop"] = loop
    if "estimators" in names:
        report["estimators"] = _estimators_in_fresh_process(
            n=all_loads["large"].n,
            repeats=1 if args.quick else (args.repeats or 3),
            backends=[b for b in backends if b != "array_api_strict"],
            say=say,
        )
    if "inference" in names:  # onnxruntime on the exported file (xpnet.bench._inference)
        from ._inference import inference_speed

        chosen = [b for b in backends if b in _TARGET_BACKENDS]
        report["inference"] = inference_speed(
            backends=chosen, quick=args.quick, repeats=args.repeats, progress=say
        )
    report["rowwise"] = _rowwise(backends, args.quick, say)
    large = all_loads["large"]
    report["memory"] = [] if args.no_memory else _peak_memory(backends, large, say)
    report["memory_method"] = METHOD
    report["memory_workload"] = large.as_dict()
    report["targets"] = _targets(report)
    report["total_seconds"] = time.perf_counter() - started
    return report


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m xpnet bench``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from . import _out_of_core

    if _out_of_core.requested(argv):  # data larger than memory, on a Dask cluster
        return _out_of_core.main(argv)
    from . import _device

    if _device.requested(argv):  # the GPU run in one command (--device cpu: its smoke test)
        return _device.main(argv)
    args = _parser().parse_args(argv)
    try:
        report = run(args, argv)
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.workload_json:
        return 0
    from ._report import format_report

    text = format_report(report)
    print(text)
    for path, content in ((args.json, json.dumps(report, indent=1)), (args.markdown, text)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content + "\n")
    return 0
