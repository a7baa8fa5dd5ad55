"""The benchmark harness runs end to end (``--quick``) and reports every measurement.

No timing thresholds: speed is measured by the harness, never asserted by tests. What is
checked is that the report is complete, every time and rate is positive, and that each
hand-written native trainer does the same work as xpnet (same final parameters).
"""

from __future__ import annotations

import json
import math

import pytest

import xpnet
from xpnet.bench import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

INSTALLED = [b for b in ("numpy", "array_api_strict", "torch", "jax") if b in
             xpnet.available_backends()]  # fmt: skip
# hand-written trainers per backend: SGD on the lecture's network, Adam on the deep one
NATIVE = {"numpy": 1, "torch": 2, "jax": 2}
NATIVE_ADAM = {"numpy": 1, "torch": 1, "jax": 1}


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    path = tmp_path_factory.mktemp("bench") / "report.json"
    markdown = path.with_name("RESULTS.md")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--quick", "--quiet", "--json", str(path), "--markdown", str(markdown)])
    assert status == 0
    assert markdown.read_text().strip() == out.getvalue().strip()
    with open(path) as f:
        return json.load(f), out.getvalue()


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_report_has_every_section(quick_report: tuple[dict, str]) -> None:
    report, _ = quick_report
    for key in (
        "system",
        "matmul",
        "workloads",
        "loop",
        "estimators",
        "rowwise",
        "memory",
        "targets",
        "quick",
    ):
        assert key in report
    assert report["quick"] is True
    assert report["fresh_process_per_workload"] is True
    assert report["backends"] == INSTALLED
    assert set(report["workloads"]) == {"iris", "digits", "large", "deep"}
    system = report["system"]
    assert system["command"].startswith("python -m xpnet bench")
    assert "numpy" in system["kernels"]
    assert any(info.get("user_api") == "blas" for info in system["blas"])
    assert "OPENBLAS_CORETYPE" in system["environment"]
    assert _positive(report["total_seconds"])


def test_matmul_rates_are_positive(quick_report: tuple[dict, str]) -> None:
    matmul = quick_report[0]["matmul"]
    assert _positive(matmul["best_gflops"])
    assert matmul["best_backend"] in matmul["gflops"]
    for rates in matmul["gflops"].values():
        assert rates
        assert all(_positive(r) for r in rates.values())


@pytest.mark.parametrize("name", ["iris", "digits", "large", "deep"])
def test_workload_results(quick_report: tuple[dict, str], name: str) -> None:
    entry = quick_report[0]["workloads"][name]
    config = entry["config"]
    assert _positive(config["flops_per_epoch"])
    assert config["steps_per_epoch"] >= 1
    assert _positive(entry["limit_seconds_per_epoch"])
    results = entry["results"]
    for backend in INSTALLED:
        ours = [r for r in results if r["backend"] == backend and r["impl"] == "xpnet"]
        assert len(ours) == 1, backend
        natives = [r for r in results if r["backend"] == backend and r["kind"] == "native"]
        expected = NATIVE_ADAM if config["optimizer"] == "adam" else NATIVE
        assert len(natives) == expected.get(backend, 0), backend
    assert [r["impl"] for r in results if r["kind"] == "sklearn"] == ["MLPClassifier (NumPy)"]
    for r in results:
        assert _positive(r["seconds_per_epoch"])
        assert 0 < r["min_seconds_per_epoch"] <= r["seconds_per_epoch"]
        assert r["spread"] >= 0
        assert _positive(r["seconds_per_step"])
        assert r["repeat_seconds"]
        assert all(_positive(s) for s in r["repeat_seconds"])
        assert _positive(r["first_call_seconds"])
        assert r["compile_seconds"] >= 0
        assert _positive(r["ratio_to_xpnet"])
        if r["kind"] != "sklearn":
            # every trainer did the same work: same sample order, same arithmetic
            tolerance = 1e-10 if config["dtype"] == "float64" else 1e-4
            assert r["max_abs_param_diff_vs_xpnet"] <= tolerance, r["impl"]
    assert entry["sklearn_same_math_max_abs_param_diff"] <= 1e-4
    if config["dtype"] == "float32":
        # the same trainers in float64 on a few batches: the same arithmetic, up to rounding
        check = entry["same_math_float64"]
        expected = NATIVE_ADAM if config["optimizer"] == "adam" else NATIVE
        diffs = check["max_abs_param_diff_vs_xpnet"]
        assert len(diffs) == sum(expected.get(b, 0) for b in INSTALLED)
        for impl, diff in diffs.items():
            assert diff <= 1e-12, impl
        assert check["sklearn"] <= 1e-12


def test_deep_workload_is_adam_on_three_layers(quick_report: tuple[dict, str]) -> None:
    config = quick_report[0]["workloads"]["deep"]["config"]
    assert config["optimizer"] == "adam"
    assert len(config["hidden"]) == 2
    assert config["dtype"] == "float32"
    assert config["batch_size"] is not None


def test_user_loop(quick_report: tuple[dict, str]) -> None:
    loop = quick_report[0]["loop"]
    kinds = [(r["kind"], r["impl"]) for r in loop["results"]]
    assert kinds == [
        ("native", "native numpy loop"),
        ("xpnet", "loss_and_grad + sgd_step"),
        ("xpnet", "loss_and_grad + SGD.step"),
        ("native", "native numpy loop, Adam"),
        ("xpnet", "loss_and_grad + Adam.step"),
    ]
    assert [r["native"] for r in loop["results"]][-1] == "native numpy loop, Adam"
    for r in loop["results"]:
        assert _positive(r["seconds_per_step"])
        assert 0 < r["min_seconds_per_step"] <= r["seconds_per_step"]
        assert r["spread"] >= 0
        assert len(r["repeat_seconds"]) == loop["config"]["repeats"]
        assert _positive(r["ratio_to_native"])
        # the public calls and the hand-written loop took the same steps (float64)
        assert r["max_abs_param_diff_vs_native"] <= 1e-12, r["impl"]


def test_estimator_fits(quick_report: tuple[dict, str]) -> None:
    fits = quick_report[0]["estimators"]
    keys = set(fits["median_seconds"])
    assert {"large / scikit-learn", "large / xpnet numpy", "digits / scikit-learn"} <= keys
    for key, seconds in fits["median_seconds"].items():
        assert _positive(seconds), key
    assert set(fits["sklearn_over_xpnet"]) == keys - {
        "large / scikit-learn",
        "digits / scikit-learn",
    }
    floors = fits["matmul_floor_seconds"]
    assert "numpy" in floors
    for backend, seconds in floors.items():
        assert _positive(seconds), backend
        # the products alone take less than the whole fit
        assert seconds < fits["median_seconds"][f"large / xpnet {backend}"], backend
        ratio = fits["fit_over_products"][backend]
        assert ratio == fits["median_seconds"][f"large / xpnet {backend}"] / seconds


def test_rowwise_and_memory(quick_report: tuple[dict, str]) -> None:
    report = quick_report[0]
    assert {r["backend"] for r in report["rowwise"]} == set(INSTALLED)
    for r in report["rowwise"]:
        assert _positive(r["forward_seconds"])
        assert _positive(r["forward_rowwise_seconds"])
    assert [r["backend"] for r in report["memory"]] == INSTALLED
    for r in report["memory"]:
        assert "error" not in r, r.get("error")
        assert _positive(r["data_bytes"])
        assert r["ratio_first_epoch"] >= 1.0
        assert r["ratio_steady_epoch"] >= 1.0


def test_targets_and_table(quick_report: tuple[dict, str]) -> None:
    report, printed = quick_report
    whats = [t["what"] for t in report["targets"]]
    assert "large: best xpnet epoch / matmul limit" in whats
    assert "iris: sklearn / xpnet, numpy" in whats
    bounds = {t["what"]: t["target"] for t in report["targets"]}
    assert bounds["deep: xpnet / native, numpy"] == "<= 1.1"
    if "torch" in xpnet.available_backends():  # the torch target exists where torch runs
        assert bounds["deep: xpnet / native, torch"] == "<= 1.15"
    else:
        assert "deep: xpnet / native, torch" not in bounds
    assert bounds["deep: sklearn / xpnet, numpy"] == ">= 1.3"
    assert bounds["deep: sklearn / xpnet, best"] == ">= 2.0"
    assert bounds["loop: loss_and_grad + sgd_step / native, numpy"] == "<= 1.5"
    assert bounds["loop: loss_and_grad + SGD.step / native, numpy"] == "<= 1.5"
    assert bounds["loop: loss_and_grad + Adam.step / native, numpy"] == "<= 1.5"
    assert bounds["estimators: scikit-learn / xpnet MLPClassifier fit, numpy"] == ">= 1.3"
    assert bounds["estimators: scikit-learn / xpnet fit, fastest backend"] == ">= 2.0"
    assert bounds["estimators: scikit-learn / xpnet on digits, xpnet numpy"] == ">= 1.0"
    for t in report["targets"]:
        assert _positive(t["value"])
        assert t["met"] in (True, False)
    assert "### targets" in printed
    assert "### iris" in printed
    assert "### deep" in printed
    assert "### loop" in printed
    assert "### estimators" in printed


def test_bad_arguments_fail_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--workloads", "mnist"]) == 2
    assert "--workloads" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


# --- the GPU run in one command, as its smoke test on the CPU ---------------------------------


def test_device_run_on_cpu(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from xpnet.bench import _device

    libraries = [b for b in ("torch", "jax") if b in INSTALLED]
    if not libraries:
        pytest.skip("neither torch nor jax is installed")
    path, markdown = tmp_path / "device.json", tmp_path / "DEVICE.md"
    argv = ["--device", "cpu", "--quiet", "--json", str(path), "--markdown", str(markdown)]
    assert main(argv) == 0
    report = json.loads(path.read_text())
    assert report["smoke_test"] is True
    assert sorted(report["libraries"]) == sorted(libraries)
    assert [(c["backend"], c["dtype"]) for c in report["checks"]] == [
        (b, dtype) for b in libraries for dtype in ("float32", "float64")
    ]
    for check in report["checks"]:
        assert check["failed"] == [], check
        assert check["passed"] == len(_device.SMOKE_CHECKS)
    assert {(r["workload"], r["backend"]) for r in report["training"]} == {
        (w, b) for w in ("large", "deep") for b in libraries
    }
    for r in report["training"]:
        assert 0 < r["min_seconds"] <= r["median_seconds"]
        assert _positive(r["samples_per_second_median"])
    assert set(report["estimator"]["xpnet"]) == set(libraries)
    if "jax" in libraries:
        assert "highest" in report["precision"]["jax"]
    assert [t["what"].split(":")[0] for t in report["targets"]] == ["large (784-256-10, "
                                                                    "float32, batch 8192)",
                                                                    "estimator fit"]  # fmt: skip
    assert "| checks |" in markdown.read_text()


def test_device_run_without_gpu_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from xpnet.bench import _device

    try:
        _device.placements("cuda")
    except _device.NoDevice:
        pass
    else:
        pytest.skip("a GPU is present")
    assert main(["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --device cuda: no library can run there")
    assert "\n" not in err
