"""``python -m xpnet bench --device cuda``: the whole GPU run in one command.

On the device, for torch (CUDA) and JAX (GPU), as installed:

1. ``python -m xpnet check``'s conformance checks (:func:`xpnet.testing.run_checks`) in
   float32 and float64;
2. the *large* workload with its target: 784-256-10, float32, plain SGD,
   minibatches of 8192, in samples per second (target: 40 million on one H200-class GPU);
3. the *deep* workload: 784-256-128-10, Adam, minibatches of 256, float32;
4. the estimator: ``MLPClassifier(hidden_layer_sizes=(256,), solver="adam",
   batch_size=256, max_iter=3)`` fitted on device arrays, against scikit-learn's fit of the
   same data on the host (target: 10 times faster).

Both libraries compute float32 matrix products in full float32: JAX's default on recent
NVIDIA GPUs is TF32 (10-bit mantissa inputs), so ``jax_default_matmul_precision`` is pinned
to ``"highest"``; torch's ``set_float32_matmul_precision("highest")`` (its default) is set
explicitly. Results go to one JSON file and one Markdown table.

``--device cpu`` runs the same program at tiny sizes with a subset of the checks: a smoke
test of the code path (the suite runs it), whose numbers mean nothing. Without a GPU,
``--device cuda`` stops at once with a one-line message.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._optional import install_hint, installed
from ._timing import block

__all__ = ["main", "requested"]

LIBRARIES = ("torch", "jax")
#: Checks of the CPU smoke run (the whole set takes minutes on a CPU).
SMOKE_CHECKS = ("softmax_at_1000", "trajectory_vs_numpy")
#: Sizes per mode: samples of the *large* and *deep* data, of the estimator's data, repeats.
SIZES: dict[str, dict[str, int]] = {
    "gpu": {"large_n": 1 << 20, "large_epochs": 3, "deep_n": 60_000, "fit_n": 60_000,
            "repeats": 5, "fit_repeats": 3},
    "cpu": {"large_n": 16_384, "large_epochs": 1, "deep_n": 512, "fit_n": 500,
            "repeats": 2, "fit_repeats": 1},
}  # fmt: skip
LARGE_BATCH = 8192
SAMPLES_PER_SECOND_TARGET = 40e6
FIT_RATIO_TARGET = 10.0


class NoDevice(RuntimeError):
    """The device asked for is not there (the message is one line)."""


def requested(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for the device run (``--device ...``)."""
    return any(a == "--device" or a.startswith("--device=") for a in argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xpnet bench --device",
        description=(
            "The GPU run in one command: xpnet check (float32, float64) and the large, deep "
            "and estimator workloads on torch (CUDA) and JAX (GPU), into one JSON file and one "
            "Markdown table. --device cpu: the same at tiny sizes, a smoke test."
        ),
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--json", metavar="FILE", default=None, help="write the report here")
    parser.add_argument("--markdown", metavar="FILE", default=None, help="write the table here")
    parser.add_argument(
        "--checks",
        default=None,
        help="comma-separated check names, or 'all' (default: all on cuda, "
        f"{','.join(SMOKE_CHECKS)} on cpu)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    return parser


# --- which libraries can run on the device ----------------------------------------------------


def _torch_device(device: str) -> tuple[str | None, str]:
    if not installed("torch"):
        return None, f"torch not installed ({install_hint('torch')})"
    import torch

    if device == "cpu":
        return "cpu", "cpu"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__}: torch.cuda.is_available() is False"
    return "cuda", torch.cuda.get_device_name(0)


def _jax_device(device: str) -> tuple[str | None, str]:
    if not installed("jax"):
        return None, f"jax not installed ({install_hint('jax')})"
    import jax

    if device == "cpu":
        return "cpu", "cpu"
    try:
        gpus = jax.devices("gpu")
    except RuntimeError as exc:  # no GPU backend: "Unknown backend gpu" and the like
        return None, f"jax {jax.__version__}: no GPU ({str(exc).splitlines()[0]})"
    return "gpu", str(gpus[0].device_kind)


def placements(device: str) -> tuple[dict[str, str], dict[str, str]]:
    """``{library: device argument}`` of the libraries that run on ``device``, and a note per
    library (the GPU's name, or why it is skipped). Raises :class:`NoDevice` when none can."""
    found, notes = {}, {}
    for library, probe in (("torch", _torch_device), ("jax", _jax_device)):
        where, note = probe(device)
        notes[library] = note
        if where is not None:
            found[library] = where
    if not found:
        raise NoDevice(
            f"--device {device}: no library can run there ("
            + "; ".join(f"{lib}: {note}" for lib, note in notes.items())
            + ")"
        )
    return found, notes


def _pin_precision(found: dict[str, str]) -> dict[str, str]:
    """Full float32 matrix products on both libraries; float64 available to JAX."""
    pinned = {}
    if "jax" in found:
        import jax

        jax.config.update("jax_enable_x64", True)  # the float64 checks; workloads pin float32
        jax.config.update("jax_default_matmul_precision", "highest")
        pinned["jax"] = "jax_default_matmul_precision='highest' (not TF32)"
    if "torch" in found:
        import torch

        torch.set_float32_matmul_precision("highest")
        pinned["torch"] = (
            "set_float32_matmul_precision('highest'); "
            f"cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}"
        )
    return pinned


# --- the parts of the run -----------------------------------------------------------------------


def _checks(found: dict[str, str], names: Sequence[str] | None, say: Any) -> list[dict[str, Any]]:
    from ..testing import run_checks

    records: list[dict[str, Any]] = []
    for library, where in found.items():
        for dtype in ("float32", "float64"):
            say(f"check: {library} on {where}, {dtype}")
            start = time.perf_counter()
            try:
                results = run_checks(library, device=where, dtype=dtype, checks=names)
            except Exception as exc:  # the run goes on; the table says what failed
                records.append({"backend": library, "device": where, "dtype": dtype,
                                "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                continue
            failed = [r.name for r in results if not r.passed and not r.skipped]
            records.append(
                {
                    "backend": library,
                    "device": where,
                    "dtype": dtype,
                    "passed": sum(r.passed for r in results),
                    "failed": failed,
                    "skipped": sum(r.skipped for r in results),
                    "seconds": time.perf_counter() - start,
                }
            )
    return records


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """First call (compilation included) and ``repeats`` timed calls, each waited for."""
    start = time.perf_counter()
    block(fn())
    first = time.perf_counter() - start
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn())
        samples.append(time.perf_counter() - start)
    return first, samples


def _summary(samples: list[float], units: float) -> dict[str, Any]:
    median, best = statistics.median(samples), min(samples)
    return {
        "repeat_seconds": samples,
        "min_seconds": best,
        "median_seconds": median,
        "spread": (max(samples) - best) / median,
        "samples_per_second_median": units / median,
        "samples_per_second_best": units / best,
    }


def _train(X: Any, y: Any, layers: Any, *, epochs: int, batch_size: int, options: Any) -> Any:
    import xpnet

    return xpnet.train(X, y, layers, epochs=epochs, batch_size=batch_size, seed=0, **options)[0]


def _training(found: dict[str, str], sizes: dict[str, int], say: Any) -> list[dict[str, Any]]:
    import xpnet

    from .workloads import synthetic

    records = []
    specs = (
        ("large", sizes["large_n"], (784, 256, 10), LARGE_BATCH, "sgd", sizes["large_epochs"]),
        ("deep", sizes["deep_n"], (784, 256, 128, 10), 256, "adam", 1),
    )
    for name, n, layer_sizes, batch, optimizer, epochs in specs:
        X_host, y_host = synthetic(n, 784, 10, seed=0, dtype="float32")
        for library, where in found.items():
            say(f"{name}: {library} on {where}, {n} x 784, batch {batch}, {optimizer}")
            X = xpnet.asarray(X_host, backend=library, dtype="float32", device=where)
            y = xpnet.asarray(y_host, backend=library, device=where)
            layers = xpnet.init_layers(
                layer_sizes, xp=xpnet.namespace(library), seed=0, dtype="float32", device=where
            )
            options: dict[str, Any] = (
                {"optimizer": xpnet.optim.Adam(1e-3)} if optimizer == "adam" else {"lr": 0.05}
            )

            fit = functools.partial(
                _train, X, y, layers, epochs=epochs, batch_size=batch, options=options
            )
            first, samples = _timed(fit, sizes["repeats"])
            record: dict[str, Any] = {
                "workload": name, "backend": library, "device": where, "n": n,
                "sizes": list(layer_sizes), "batch_size": batch, "optimizer": optimizer,
                "epochs_per_repeat": epochs, "first_call_seconds": first,
            }  # fmt: skip
            records.append({**record, **_summary(samples, n * epochs)})
            del X, y, layers
    return records


def _estimator(found: dict[str, str], sizes: dict[str, int], say: Any) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    import xpnet

    from ._estimators import LARGE
    from .workloads import synthetic

    n = sizes["fit_n"]
    X_host, y_host = synthetic(n, 784, 10, seed=0, dtype="float32")

    def fitter(estimator: Any, X: Any, y: Any) -> Callable[[], Any]:
        def fit() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return block(clone(estimator).fit(X, y).coefs_[-1])

        return fit

    say(f"estimator: scikit-learn on the host, {n} x 784")
    first, samples = _timed(fitter(SklearnMLP(**LARGE), X_host, y_host), sizes["fit_repeats"])
    sklearn = {"first_call_seconds": first, **_summary(samples, n * LARGE["max_iter"])}
    fits = {}
    for library, where in found.items():
        say(f"estimator: xpnet MLPClassifier, {library} on {where}")
        X = xpnet.asarray(X_host, backend=library, dtype="float32", device=where)
        y = xpnet.asarray(y_host, backend=library, device=where)
        first, samples = _timed(
            fitter(xpnet.MLPClassifier(**LARGE), X, y), sizes["fit_repeats"]
        )  # fmt: skip
        fits[library] = {"device": where, "first_call_seconds": first,
                         **_summary(samples, n * LARGE["max_iter"])}  # fmt: skip
        fits[library]["sklearn_over_xpnet"] = (
            sklearn["median_seconds"] / fits[library]["median_seconds"]
        )
    return {"n": n, "estimator": {k: list(v) if isinstance(v, tuple) else v
                                  for k, v in LARGE.items()},
            "scikit-learn (host)": sklearn, "xpnet": fits}  # fmt: skip


def _targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    large = [r for r in report["training"] if r["workload"] == "large"]
    if large:
        best = max(large, key=lambda r: r["samples_per_second_median"])
        value = best["samples_per_second_median"]
        targets.append({"what": "large (784-256-10, float32, batch 8192): samples/s, best",
                        "value": value, "target": f">= {SAMPLES_PER_SECOND_TARGET:.0f}",
                        "met": value >= SAMPLES_PER_SECOND_TARGET,
                        "detail": f"{best['backend']} on {best['device']}"})  # fmt: skip
    fits = report["estimator"]["xpnet"]
    if fits:
        library = max(fits, key=lambda k: fits[k]["sklearn_over_xpnet"])
        value = fits[library]["sklearn_over_xpnet"]
        targets.append({"what": "estimator fit: scikit-learn (host) / xpnet (device), best",
                        "value": value, "target": f">= {FIT_RATIO_TARGET}",
                        "met": value >= FIT_RATIO_TARGET,
                        "detail": f"{library} on {fits[library]['device']}"})  # fmt: skip
    return targets


def run(args: argparse.Namespace, argv: Sequence[str], say: Any) -> dict[str, Any]:
    """The device run; the report (what ``--json`` writes)."""
    from ._system import system_report

    found, notes = placements(args.device)
    mode = "gpu" if args.device == "cuda" else "cpu"
    names: list[str] | None
    if args.checks == "all" or (args.checks is None and mode == "gpu"):
        names = None
    else:
        names = list(SMOKE_CHECKS) if args.checks is None else args.checks.split(",")
    started = time.perf_counter()
    report: dict[str, Any] = {
        "device": args.device,
        "smoke_test": mode == "cpu",
        "libraries": found,
        "notes": notes,
        "precision": _pin_precision(found),
        "system": system_report(list(argv)),
        "sizes": SIZES[mode],
        "checks_run": names or "all",
    }
    report["checks"] = _checks(found, names, say)
    report["training"] = _training(found, SIZES[mode], say)
    report["estimator"] = _estimator(found, SIZES[mode], say)
    report["targets"] = _targets(report)
    report["total_seconds"] = time.perf_counter() - started
    return report


def format_report(report: dict[str, Any]) -> str:
    """The Markdown tables of a device run."""
    system = report["system"]
    smoke = " (smoke test on the CPU: tiny sizes, the numbers mean nothing)"
    lines = [
        f"Command: `{system['command']}`; {system.get('date', '')}; device {report['device']}"
        + (smoke if report["smoke_test"] else "")
        + f"; {report['total_seconds']:.0f} s in all.",
        "",
        "Devices: " + "; ".join(f"{lib}: {note}" for lib, note in report["notes"].items()) + ".",
        "Float32 matrix products: "
        + "; ".join(f"{lib}: {how}" for lib, how in report["precision"].items())
        + ".",
        "",
        "| checks | device | dtype | passed | failed | skipped | seconds |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for c in report["checks"]:
        if "error" in c:
            lines.append(f"| {c['backend']} | {c['device']} | {c['dtype']} | | {c['error']} | | |")
            continue
        failed = ", ".join(c["failed"]) or "none"
        lines.append(f"| {c['backend']} | {c['device']} | {c['dtype']} | {c['passed']} | "
                     f"{failed} | {c['skipped']} | {c['seconds']:.1f} |")  # fmt: skip
    lines += [
        "",
        "| workload | backend | device | n x epochs | batch | median s | min s | spread | "
        "samples/s (median) | first call s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["training"]:
        lines.append(
            f"| {r['workload']} ({'-'.join(map(str, r['sizes']))}, {r['optimizer']}) | "
            f"{r['backend']} | {r['device']} | {r['n']} x {r['epochs_per_repeat']} | "
            f"{r['batch_size']} | {r['median_seconds']:.4f} | {r['min_seconds']:.4f} | "
            f"{r['spread']:.0%} | {r['samples_per_second_median']:,.0f} | "
            f"{r['first_call_seconds']:.2f} |"
        )
    est = report["estimator"]
    sk = est["scikit-learn (host)"]
    lines += [
        "",
        f"| estimator fit ({est['n']} x 784, (256,), adam, batch 256, 3 epochs) | median s | "
        "min s | spread | scikit-learn / xpnet |",
        "|---|---:|---:|---:|---:|",
        f"| scikit-learn (host NumPy) | {sk['median_seconds']:.3f} | {sk['min_seconds']:.3f} | "
        f"{sk['spread']:.0%} | 1.00 |",
    ]
    for library, f in est["xpnet"].items():
        lines.append(
            f"| xpnet, {library} on {f['device']} | {f['median_seconds']:.3f} | "
            f"{f['min_seconds']:.3f} | {f['spread']:.0%} | {f['sklearn_over_xpnet']:.2f} |"
        )
    lines += ["", "| target | value | bound | met | detail |", "|---|---:|---|---|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['what']} | {t['value']:,.2f} | {t['target']} | "
                     f"{'yes' if t['met'] else 'no'} | {t['detail']} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """``python -m xpnet bench --device cuda|cpu``; the exit status (2: no device)."""
    args = _parser().parse_args(list(argv))
    say = (lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        report = run(args, argv, say)
    except NoDevice as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = format_report(report)
    print(text)
    for path, content in ((args.json, json.dumps(report, indent=1)), (args.markdown, text)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content + "\n")
    failed = any(c.get("failed") or "error" in c for c in report["checks"])
    return 1 if failed else 0
