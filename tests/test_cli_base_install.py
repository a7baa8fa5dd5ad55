"""The commands in a base install (``pip install xpnet``, no extra).

Each test runs ``xpnet.cli.main`` in a fresh Python whose import system does not find the
optional libraries (``helpers.run_without``), and reads what the command printed.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from helpers import run_without


def _main(*argv: str, cwd: Path | None = None) -> tuple[int, str]:
    code = f"""
    import sys
    from xpnet.cli import main
    code = main({list(argv)!r})
    sys.stdout.flush()
    print("exit", code)
    """
    result = run_without(textwrap.dedent(code), cwd=cwd)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    out = result.stdout
    return int(out.rsplit("exit ", 1)[1]), out + result.stderr


def test_compare_runs_numpy_and_names_what_is_not_installed() -> None:
    code, out = _main("compare", "--epochs", "3")
    assert code == 0, out
    missing = re.search(r"^not installed: (.*)$", out, re.M)
    assert missing, out
    for name, extra in (("array_api_strict", "strict"), ("torch", "torch"), ("jax", "jax")):
        assert f"{name} (`pip install 'xpnet[{extra}]'`)" in missing.group(1)
    rows = [line.split()[0] for line in out.splitlines() if re.match(r"^\w+\s+\d\.\d{6}\s", line)]
    assert rows == ["numpy"], out


def test_check_on_numpy_passes_or_skips_for_reasons_of_its_own() -> None:
    code, out = _main("check", "--backend", "numpy")
    assert code == 0, out
    rows = [line for line in out.splitlines() if re.match(r"^\w+\s+(pass|FAIL|skip)\b", line)]
    assert len(rows) >= 7, out
    assert not [row for row in rows if " FAIL " in f" {row} "], out
    for row in rows:
        assert "not installed" not in row
        assert "No module" not in row
    assert re.search(r"^\d+ passed, 0 failed, \d+ skipped in ", out, re.M), out


def test_bench_on_numpy(tmp_path: Path) -> None:
    argv = ("bench", "--quick", "--backends", "numpy", "--workloads", "iris", "--no-memory")
    code, out = _main(*argv, "--quiet", "--json", str(tmp_path / "bench.json"))
    assert code == 0, out
    assert (tmp_path / "bench.json").is_file()
    assert re.search(r"^\| numpy\s+\|", out, re.M), out


def test_train_with_a_plot_names_the_extra_before_training(tmp_path: Path) -> None:
    code, out = _main("train", "--epochs", "2", "--no-progress", "--plot", str(tmp_path / "r.png"))
    assert code == 2, out
    assert "error: --plot: needs matplotlib, which is not installed; install it with " in out
    assert "pip install 'xpnet[plot]'" in out
    assert "loss " not in out


def test_asking_for_a_backend_that_is_not_installed_names_its_extra() -> None:
    code, out = _main("fit", "data.csv", "--target", "y", "--backend", "torch")
    assert code == 2, out
    assert "error: --backend: 'torch' is not installed; install it with " in out
    assert "pip install 'xpnet[torch]'" in out
