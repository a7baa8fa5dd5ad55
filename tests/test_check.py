"""xpnet.testing and ``python -m xpnet check``: the conformance checks pass on every backend
and catch deliberately broken ones.

The checks themselves (gradients against finite differences and autograd, training against
NumPy, softmax at +-1000, bad input, compiled paths, no in-place writes) live in
:mod:`xpnet.testing`; this module runs them on each backend of the fixture, and on the
broken backends of ``broken_backends.py``, registered through the public route.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import broken_backends
import numpy as np
import pytest
from helpers import Backend

import xpnet
from xpnet import backends, testing
from xpnet.cli import main

SRC = Path(xpnet.__file__).parents[1]
TESTS = Path(__file__).parent


@pytest.fixture
def registry() -> Iterator[None]:
    """Register what a test needs; the registry is put back as it was afterwards."""
    state = backends._REGISTRY
    saved = (dict(state.specs), dict(state.aliases), state.pending)
    yield
    state.specs, state.aliases, state.pending = dict(saved[0]), dict(saved[1]), saved[2]


# --- every check passes on every backend -------------------------------------------------


def _read_only(data: np.ndarray, *, xp: Any, dtype: Any, device: Any) -> np.ndarray:
    array = np.array(xp.asarray(data, dtype=dtype, device=device), copy=True)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(testing.CHECKS))
def test_check_passes(registry, backend: Backend, name: str, dtype: str) -> None:
    target = backend.library
    if backend is Backend.NUMPY_READONLY:  # NumPy whose every input array is read-only
        target = "numpy_readonly"
        backends.register(target, module="numpy", from_numpy=_read_only)
    result = testing.CHECKS[name](target, dtype=dtype)
    assert result.name == name
    assert result.passed, result
    applies = {
        "grad_vs_autograd": backend.has_autodiff,
        "compiled_vs_eager": backend.library in ("torch", "jax"),
    }
    assert result.skipped is not applies.get(name, True), result


def test_the_gradient_problem_stays_away_from_the_relu_kink() -> None:
    """Finite differences with steps up to 1e-2 must not cross a kink of ReLU."""
    X, _, (W1, b1, _, _) = testing._problem()
    margin = np.min(np.abs(X @ W1 + b1))
    largest_shift = max(testing.FD_STEP.values()) * (np.abs(X).sum(axis=1).max() + 1)
    assert margin > 2 * largest_shift


def test_run_checks_runs_all_in_order() -> None:
    results = testing.run_checks("numpy")
    assert [r.name for r in results] == list(testing.CHECKS)
    assert all(r.seconds >= 0 for r in results)
    table = testing.format_results(results).splitlines()
    assert table[0].split() == ["check", "result", "worst", "error", "tolerance", "s", "detail"]
    assert [line.split()[0] for line in table[2:]] == list(testing.CHECKS)


@pytest.mark.parametrize(
    ("kwargs", "error", "start"),
    [
        ({"backend": 3}, TypeError, "backend:"),
        ({"backend": "tensorflow"}, ValueError, "backend:"),
        ({"backend": "numpy", "dtype": "float16"}, ValueError, "dtype:"),
        ({"backend": "numpy", "dtype": np.float64}, ValueError, "dtype:"),
        ({"backend": "numpy", "checks": ["gradients"]}, ValueError, "checks:"),
    ],
)
def test_run_checks_malformed_arguments(kwargs, error, start) -> None:
    with pytest.raises(error, match=f"^{start}"):
        testing.run_checks(**kwargs)


# --- a broken backend is caught, by the check that names its fault -----------------------


def test_the_wrapper_of_the_broken_backends_is_sound(registry) -> None:
    """The control: the same wrapper with nothing broken passes every check."""
    broken_backends.register_wrapped()
    results = testing.run_checks("numpy_wrapped")
    assert all(r.passed for r in results), testing.format_results(results)
    assert xpnet.backend_name(xpnet.asarray([1.0], backend="numpy_wrapped")) == "numpy_wrapped"


@pytest.mark.parametrize("name", list(broken_backends.BROKEN))
def test_a_broken_backend_fails_the_checks_that_see_its_fault(registry, name: str) -> None:
    expected, register = broken_backends.BROKEN[name]
    register()
    results = testing.run_checks(name)
    failed = {r.name for r in results if not r.passed}
    assert failed == expected, testing.format_results(results)
    for r in results:
        if not r.passed and not np.isnan(r.error):
            assert r.error > r.tolerance


def test_exp_off_by_one_part_in_a_million_is_seen_in_the_losses(registry) -> None:
    broken_backends.register_exp_off()
    trajectory = testing.CHECKS["trajectory_vs_numpy"]("numpy_exp_off")
    assert not trajectory.passed
    assert 1e-7 < trajectory.error < 1e-5  # the loss is off by about log(1 + 1e-6)
    assert "weights" in trajectory.detail  # the gradients (softmax) are unchanged


def test_a_check_that_raises_is_a_failure_with_the_exception(registry) -> None:
    broken_backends.BROKEN["numpy_exp_raises"][1]()
    (result,) = testing.run_checks("numpy_exp_raises", checks=["softmax_at_1000"])
    assert not result.passed
    assert result.detail == "raised RuntimeError('exp is not implemented')"


# --- python -m xpnet check ---------------------------------------------------------------


def test_cli_check_prints_the_table_and_exits_0(capsys) -> None:
    assert main(["check", "--backend", "np", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("xpnet check: backend numpy, default device, float32\n")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:-1]}
    assert rows == {
        name: "skip" if name in ("grad_vs_autograd", "compiled_vs_eager") else "pass"
        for name in testing.CHECKS
    }
    assert out.splitlines()[-1].startswith("7 passed, 0 failed, 2 skipped in ")


def test_cli_check_on_a_broken_backend_exits_1_naming_the_checks(registry, capsys) -> None:
    broken_backends.register_matmul_transposed()
    assert main(["check", "--backend", "numpy_matmul_transposed"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    failed = "grad_vs_finite_diff, trajectory_vs_numpy, deep_grad, optimizers_vs_numpy"
    assert last.endswith(f"; failed: {failed}"), last


def test_cli_check_on_a_backend_that_is_not_installed(registry, capsys) -> None:
    backends.register("nosuchlib", install="pip install nosuchlib")
    assert main(["check", "--backend", "nosuchlib"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --backend: 'nosuchlib' is not installed")
    assert "pip install nosuchlib" in err


def test_cli_check_on_a_plugin_registered_by_entry_point(tmp_path: Path) -> None:
    """The whole route a user takes: an installed plug-in, ``python -m xpnet check``."""
    info = tmp_path / "xpnet_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xpnet_broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[xpnet.backends]\nnumpy_exp_off = broken_backends:register_exp_off\n"
    )
    path = os.pathsep.join([str(SRC), str(TESTS), str(tmp_path)])
    result = subprocess.run(
        [sys.executable, "-m", "xpnet", "check", "--backend", "numpy_exp_off"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[3:-1]}
    assert rows["trajectory_vs_numpy"] == rows["softmax_at_1000"] == "FAIL"
    assert rows["grad_vs_finite_diff"] == "pass"
    assert result.stdout.splitlines()[-1].endswith(
        "; failed: trajectory_vs_numpy, softmax_at_1000, deep_grad, optimizers_vs_numpy"
    )


def test_the_examples_of_the_testing_docstrings_run(registry) -> None:
    pytest.importorskip("array_api_strict", reason="its examples need the [strict] extra")
    import doctest

    result = doctest.testmod(testing, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
