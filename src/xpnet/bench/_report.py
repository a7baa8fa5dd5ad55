"""The readable tables printed by ``python -m xpnet bench`` (and copied into RESULTS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def seconds(value: float) -> str:
    """``1.23 ms``, ``45.6 us``, ``2.01 s``."""
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} us"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, aligned so it also reads well in a terminal."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join(
        [line(header), "| " + " | ".join("-" * w for w in widths) + " |", *map(line, rows)]
    )


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _minimum(record: dict[str, Any], key: str) -> str:
    if key not in record:
        return ""
    return f"{seconds(record[key])} ({record['spread']:.0%})"


def _workload_table(name: str, entry: dict[str, Any], matmul: dict[str, Any]) -> str:
    config = entry["config"]
    unit = "step" if config["batch_size"] is None else "epoch"
    lines = [
        f"### {name}: {config['description']}",
        "",
        f"{config['epochs']} epoch(s) per repeat, median and minimum of {config['repeats']} "
        "repeats (spread: (max - min) / median), "
        f"{config['steps_per_epoch']} step(s) per epoch, lr {config['lr']}. "
        f"Time per {unit}; ratios are to xpnet's default driver on the same backend "
        "(NumPy's for scikit-learn).",
        "",
    ]
    rows = []
    for r in entry["results"]:
        diff = r.get("max_abs_param_diff_vs_xpnet")
        rows.append(
            [
                r["backend"],
                r["impl"],
                seconds(r["seconds_per_epoch"]),
                _minimum(r, "min_seconds_per_epoch"),
                _ratio(r.get("ratio_to_xpnet")),
                "" if diff is None else f"{diff:.1e}",
                seconds(r["compile_seconds"]) if r["compile_seconds"] > 0.05 else "",
            ]
        )
    limit = entry["limit_seconds_per_epoch"]
    rows.append(
        [
            "limit",
            f"matmul work at {matmul['best_gflops']:.0f} GFLOP/s ({matmul['best_backend']})",
            seconds(limit),
            "",
            "",
            "",
            "",
        ]
    )
    shaped = entry.get("limit_at_step_shapes_seconds_per_epoch")
    if shaped:
        rows.append(
            ["limit", "the step's matmuls, each shape at its best measured rate",
             seconds(shaped), "", "", "", ""]
        )  # fmt: skip
    header = [
        "backend",
        "implementation",
        f"per {unit} (median)",
        "min (spread)",
        "/ xpnet",
        "params: max abs diff vs xpnet",
        "warm-up extra (compile)",
    ]
    lines.append(table(header, rows))
    lines.append("")
    lines.append(
        "scikit-learn vs xpnet, same weights, 3 unshuffled epochs: params differ by at most "
        f"{entry['sklearn_same_math_max_abs_param_diff']:.1e}"
    )
    check = entry.get("same_math_float64")
    if check:
        natives = ", ".join(
            f"{impl} {diff:.1e}" for impl, diff in check["max_abs_param_diff_vs_xpnet"].items()
        )
        lines += [
            "",
            f"Same arithmetic, in float64 on the first {check['samples']} samples (2 shuffled "
            f"epochs; scikit-learn 3 unshuffled): params differ from xpnet's by at most "
            f"{natives}; scikit-learn {check['sklearn']:.1e}",
        ]
    return "\n".join(lines)


def _estimators_table(fits: dict[str, Any]) -> str:
    lines = [
        "### estimators: xpnet.MLPClassifier against scikit-learn's, the same fit",
        "",
        f"Median fit time of {fits['repeats']} rounds after a warm-up; large: {fits['n']} x 784 "
        "float32, hidden (256,), adam, batch 256, 3 epochs; digits: every default. Ratio: "
        "scikit-learn's time / xpnet's (> 1: xpnet faster).",
        "",
    ]
    rows = [
        [key, f"{seconds:.2f} s", _ratio(fits["sklearn_over_xpnet"].get(key))]
        for key, seconds in fits["median_seconds"].items()
    ]
    rows += [
        [
            f"large / the matrix products alone, {backend}",
            f"{seconds:.2f} s",
            f"{_ratio(fits['sklearn_over_matmul_floor'][backend])} at most",
        ]
        for backend, seconds in fits.get("matmul_floor_seconds", {}).items()
    ]
    lines.append(table(["fit / input", "median", "scikit-learn / xpnet"], rows))
    lines.append(
        "\nThe matrix products alone: the five products of each step of the large fit, "
        "best of 30, times its steps; no implementation on that backend fits faster, so "
        "scikit-learn's time over theirs bounds what the backend can reach."
    )
    return "\n".join(lines)


def _loop_table(loop: dict[str, Any]) -> str:
    config = loop["config"]
    lines = [
        "### loop: the lecture as a user writes it, a Python loop of public calls",
        "",
        f"{config['steps']} steps per repeat ({config['data']}, lr {config['lr']}), median of "
        f"{config['repeats']} repeats. Time per step; each public call checks its arguments. "
        "Ratios are to the same steps written by hand in NumPy.",
        "",
    ]
    rows = [
        [
            r["backend"],
            r["impl"],
            seconds(r["seconds_per_step"]),
            _minimum(r, "min_seconds_per_step"),
            _ratio(r["ratio_to_native"]),
            _ratio(r.get("ratio_of_minima_to_native")),
            f"{r['max_abs_param_diff_vs_native']:.1e}",
        ]
        for r in loop["results"]
    ]
    header = ["backend", "implementation", "per step (median)", "min (spread)", "/ native",
              "/ native, minima", "params: max abs diff"]  # fmt: skip
    lines.append(table(header, rows))
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    system = report["system"]
    out = [
        "Written by `python -m xpnet bench`"
        + (" with --quick: sizes too small to mean anything." if report["quick"] else "."),
        "",
        f"- command: `{system['command']}`",
        f"- date: {system['date']}; load average at start: {system['load_average_at_start']}",
        f"- machine: {system['cpu']}, {system['cpu_count']} CPUs; {system['platform']}",
        f"- python {system['python']}; "
        + ", ".join(f"{k} {v}" for k, v in system["versions"].items()),
        "- kernels: " + "; ".join(f"{k}: {v}" for k, v in system["kernels"].items()),
        "- environment: "
        + (
            ", ".join(f"{k}={v}" for k, v in system["environment"].items() if v is not None)
            or "no BLAS or thread variable set (OPENBLAS_CORETYPE unset)"
        ),
        f"- total time: {report['total_seconds']:.0f} s"
        + ("; each workload in a fresh process" if report.get("fresh_process_per_workload")
           else ""),
        "",
    ]  # fmt: skip
    if report.get("skipped_backends"):
        out += [f"Not installed, skipped: {', '.join(report['skipped_backends'])}", ""]
    matmul = report["matmul"]
    out += ["### float32 matmul rate (GFLOP/s, median)", ""]
    shapes = sorted({s for rates in matmul["gflops"].values() for s in rates})
    out.append(
        table(
            ["backend", *shapes],
            [[b, *(f"{rates.get(s, 0):.0f}" for s in shapes)] for b, rates in
             matmul["gflops"].items()],
        )
    )  # fmt: skip
    out += ["", f"fastest: {matmul['best_gflops']:.0f} GFLOP/s, {matmul['best_backend']}, "
                f"{matmul['best_shape']} (m x k x n)", ""]  # fmt: skip
    for name, entry in report["workloads"].items():
        out += [_workload_table(name, entry, matmul), ""]
    if report.get("loop"):
        out += [_loop_table(report["loop"]), ""]
    if report.get("estimators"):
        out += [_estimators_table(report["estimators"]), ""]
    if report.get("inference"):
        out += [format_inference(report["inference"]), ""]
    if report["rowwise"]:
        out += ["### the lecture's timing slide: forward vs forward_rowwise (d=2, H=10, K=3)", ""]
        out.append(
            table(
                ["backend", "n", "forward", "forward_rowwise", "rowwise / vectorized"],
                [
                    [
                        r["backend"],
                        str(r["n"]),
                        seconds(r["forward_seconds"]),
                        seconds(r["forward_rowwise_seconds"]),
                        f"{r['speedup']:.0f}x",
                    ]
                    for r in report["rowwise"]
                ],
            )
        )
        out.append("")
    if report["memory"]:
        w = report["memory_workload"]
        out += [f"### peak memory of training on large ({w['n']}x{w['d']} float32)", ""]
        rows = []
        for r in report["memory"]:
            if "error" in r:
                rows.append([r["backend"], "error", "", "", "", ""])
                continue
            mib = 2.0**20
            rows.append(
                [
                    r["backend"],
                    f"{r['data_bytes'] / mib:.0f} MiB",
                    f"{r['training_extra_first_epoch_bytes'] / mib:.0f} MiB",
                    f"{r['training_extra_steady_epoch_bytes'] / mib:.0f} MiB",
                    f"{r['ratio_first_epoch']:.2f}",
                    f"{r['ratio_steady_epoch']:.2f}",
                ]
            )
        out.append(
            table(
                ["backend", "data", "extra, 1st epoch", "extra, 2nd epoch",
                 "peak/data 1st", "peak/data 2nd"],
                rows,
            )
        )  # fmt: skip
        out += ["", f"Method: {report['memory_method']}.", ""]
    out += ["### targets", ""]
    out.append(
        table(
            ["what", "measured", "target", "met", "detail"],
            [
                [
                    t["what"],
                    "n/a" if t["value"] is None else f"{t['value']:.2f}",
                    t["target"],
                    {True: "yes", False: "NO", None: "n/a"}[t["met"]],
                    t["detail"],
                ]
                for t in report["targets"]
            ],
        )
    )
    return "\n".join(out)


def format_inference(entry: dict[str, Any]) -> str:
    """The Markdown section of the report."""
    title = "### inference: onnxruntime on the exported file against xpnet's predict"
    if "skipped" in entry:
        return f"{title}\n\nSkipped: {entry['skipped']}."
    lines = [
        title,
        "",
        f"MLPClassifier {entry['network']}; labels of a batch of 1 or 4096 rows; median of "
        f"{entry['repeats']} interleaved rounds. onnxruntime {entry['onnxruntime']}, default "
        f"session options; the file ({entry['file_bytes'] / 1024:.0f} KiB) was exported in "
        f"{entry['export_seconds']:.1f} s. Last column: onnxruntime's rows/s over the row's "
        "(> 1: onnxruntime faster).",
        "",
    ]
    rows = [
        [
            r["runtime"] if r["runtime"] == "onnxruntime" else f"xpnet predict, {r['runtime']}",
            str(r["batch"]),
            f"{r['rows_per_second']:,.0f}",
            f"{r['seconds_per_call'] * 1e6:,.0f} us",
            "yes" if r["labels_equal_onnxruntime"] else "NO",
            f"{r['onnxruntime_over_this']:.2f}",
        ]
        for r in sorted(
            entry["results"], key=lambda r: (r["batch"], r["runtime"] != "onnxruntime")
        )
    ]
    header = [
        "runtime",
        "batch",
        "rows/s",
        "per call",
        "labels = onnxruntime's",
        "onnxruntime / this",
    ]
    lines.append(table(header, rows))
    return "\n".join(lines)
