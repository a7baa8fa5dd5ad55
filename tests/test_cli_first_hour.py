"""A new user's first hour with ``python -m xpnet``: each case run as a user runs it.

Each test runs the command in a subprocess (``sys.executable -m xpnet``, the environment
passed through) and reads its exit code and output: a useful model from a CSV with the
defaults, float64 models on JAX, one error policy (one line that begins with the
argument's name, exit code 2, no traceback), and output that says what happens.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine

import xpnet
from xpnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--hidden", "8", "--max-iter", "30", "--learning-rate-init", "0.01", "--no-progress"]


def xpnet_cli(*argv: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m xpnet ARGV`` in a fresh process, as a user runs it."""
    command = [sys.executable, "-m", "xpnet", *map(str, argv)]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300
    )


def one_error_line(result: subprocess.CompletedProcess[str], name: str) -> str:
    """The run ended with exit code 2 and one line ``error: NAME: ...`` on stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}: "), lines[0]
    return lines[0]


def write_csv(path: Path, header: list[str], rows: Any, *, sep: str = ",") -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def wine_csv(tmp_path: Path) -> Path:
    """scikit-learn's wine data set as it comes (unscaled), target 'cultivar'."""
    wine = load_wine()
    rows = [[*x, t] for x, t in zip(wine.data, wine.target)]
    return write_csv(tmp_path / "wine.csv", [*wine.feature_names, "cultivar"], rows)


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    iris = load_iris()
    rows = [[*x, iris.target_names[t]] for x, t in zip(iris.data, iris.target)]
    return write_csv(tmp_path / "iris.csv", [*iris.feature_names, "species"], rows)


def line(text: str, key: str) -> str:
    """The summary line that starts with ``key``."""
    found = re.search(rf"^{re.escape(key)}\s+(.*)$", text, re.M)
    assert found, (key, text)
    return found.group(1)


# --- 1. float64 models on JAX ------------------------------------------------------------------


def test_load_casts_a_float64_model_for_jax_without_x64(tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="needs the [jax] extra")
    code = f"""
import warnings, numpy as np, xpnet, jax
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = xpnet.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
path = xpnet.save({str(tmp_path / "m.safetensors")!r}, model)
assert not jax.config.read("jax_enable_x64")
try:
    xpnet.load(path, backend="jax")
except ValueError as exc:
    print("refused:", exc)
loaded = xpnet.load(path, backend="jax", dtype="float32")
print("dtype:", loaded.coefs_[0].dtype)
X32 = xpnet.asarray(X, backend="jax", dtype="float32")
agree = np.mean(xpnet.to_numpy(loaded.predict(X32)) == model.predict(X))
print("agree:", agree)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    refused = "refused: backend: the model is float64 but JAX's x64 mode is off; load it with "
    assert refused + "dtype='float32'" in result.stdout
    assert "dtype: float32" in result.stdout
    assert float(line(result.stdout, "agree:")) == 1.0


def test_the_readme_save_and_load_example_runs_as_written(tmp_path: Path) -> None:
    """The README's library blocks, in order, as a user pastes them (JAX's x64 off)."""
    pytest.importorskip("torch", reason="needs the [torch] extra")
    pytest.importorskip("jax", reason="needs the [jax] extra")
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it as a library", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert any("xpnet.load(" in block for block in blocks)
    code = "\n".join(blocks) + "\nprint('loaded', type(clf).__name__)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "loaded MLPClassifier" in result.stdout


def test_predict_on_jax_uses_a_float64_model(iris_csv: Path, tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="needs the [jax] extra")
    model = tmp_path / "m.safetensors"
    assert (
        xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--save", model).returncode == 0
    )
    on_numpy = xpnet_cli("predict", model, iris_csv, "--proba")
    on_jax = xpnet_cli("predict", model, iris_csv, "--proba", "--backend", "jax")
    assert on_jax.returncode == 0, on_jax.stderr
    assert on_jax.stdout.splitlines()[0] == on_numpy.stdout.splitlines()[0]
    numbers = lambda text: np.array([row.split(",")[1:] for row in text.splitlines()[1:]], float)  # noqa: E731
    np.testing.assert_allclose(numbers(on_jax.stdout), numbers(on_numpy.stdout), rtol=1e-12)
    in_float32 = xpnet_cli("predict", model, iris_csv, "--backend", "jax", "--dtype", "float32")
    assert in_float32.returncode == 0, in_float32.stderr
    labels = lambda text: [row.split(",")[0] for row in text.splitlines()]  # noqa: E731
    assert labels(in_float32.stdout) == labels(on_numpy.stdout)


# --- 2. a useful model with the defaults ---------------------------------------------------------


def test_fit_with_defaults_on_unscaled_wine_is_useful(wine_csv: Path, tmp_path: Path) -> None:
    model = tmp_path / "wine.safetensors"
    result = xpnet_cli("fit", wine_csv, "--target", "cultivar", "--save", model)
    assert result.returncode == 0, result.stderr
    assert line(result.stdout, "scaling").startswith("standardized")
    validation = float(re.match(r"accuracy (\S+)", line(result.stdout, "validation")).group(1))
    assert validation >= 0.9, result.stdout
    assert "near chance" not in result.stderr
    # the scaler travels in the model file, and predict applies it
    pipeline = xpnet.load(model)
    assert [type(step).__name__ for _, step in pipeline.steps] == [
        "StandardScaler",
        "MLPClassifier",
    ]
    predicted = xpnet_cli("predict", model, wine_csv)
    assert predicted.returncode == 0, predicted.stderr
    wine = load_wine()
    expected = pipeline.predict(wine.data)
    assert [int(v) for v in predicted.stdout.splitlines()[1:]] == expected.tolist()
    assert np.mean(expected == wine.target) >= 0.9


def test_no_scale_keeps_the_features_as_they_are(wine_csv: Path, tmp_path: Path) -> None:
    model = tmp_path / "wine.safetensors"
    result = xpnet_cli(
        "fit", wine_csv, "--target", "cultivar", "--no-scale", *QUICK, "--save", model
    )
    assert result.returncode == 0, result.stderr
    assert line(result.stdout, "scaling") == "none (--no-scale)"
    assert type(xpnet.load(model)).__name__ == "MLPClassifier"


def test_a_score_near_chance_is_a_warning(tmp_path: Path) -> None:
    # constant features: nothing to learn, so the model can only guess the commonest class
    rows = [[1.0, 2.0, k % 3] for k in range(60)]
    data = write_csv(tmp_path / "flat.csv", ["a", "b", "y"], rows)
    result = xpnet_cli("fit", data, "--target", "y", *QUICK)
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"^warning: the validation accuracy 0\.\d+ is near chance \(0\.\d+ by always "
        r"predicting the most frequent class\)",
        result.stderr,
        re.M,
    ), result.stderr


def test_a_regression_near_chance_is_a_warning_too(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [[1.0, value] for value in rng.normal(size=60)]
    data = write_csv(tmp_path / "flat.csv", ["a", "y"], rows)
    result = xpnet_cli("fit", data, "--target", "y", "--task", "regression", *QUICK)
    assert result.returncode == 0, result.stderr
    assert "warning: the validation R^2 " in result.stderr
    assert "is near chance (0 by always predicting the mean)" in result.stderr


def test_not_converged_is_passed_on_and_the_summary_says_why_it_stopped(iris_csv: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--max-iter", "3")
    assert result.returncode == 0, result.stderr
    assert "warning: Stochastic Optimizer: Maximum iterations (3) reached" in result.stderr
    assert line(result.stdout, "stopped") == "at --max-iter 3 (not converged: raise --max-iter)"


def test_the_summary_says_when_it_stopped_for_no_improvement(iris_csv: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--tol", "10")
    assert result.returncode == 0, result.stderr
    stopped = line(result.stdout, "stopped")
    # scikit-learn's rule: the first epoch sets the best loss; no later one beats it by 10, and
    # the fit stops once more than n_iter_no_change epochs did not: after 12 epochs.
    from sklearn.neural_network import MLPClassifier

    iris = load_iris()
    reference = MLPClassifier((8,), learning_rate_init=0.01, max_iter=30, tol=10, random_state=0)
    assert reference.fit(iris.data, iris.target).n_iter_ == 12
    assert stopped == (
        "after 12 epochs: the training loss did not improve by --tol 10 for "
        "--n-iter-no-change 10 epochs"
    ), stopped
    assert "after 12 iterations" in line(result.stdout, "loss")


def test_features_and_drop_choose_the_columns(tmp_path: Path) -> None:
    iris = load_iris()
    rows = [[i, *x, t, "note"] for i, (x, t) in enumerate(zip(iris.data, iris.target))]
    header = ["id", "a", "b", "c", "d", "y", "comment"]
    data = write_csv(tmp_path / "iris.csv", header, rows)
    model = tmp_path / "m.safetensors"
    dropped = xpnet_cli(
        "fit", data, "--target", "y", "--drop", "id,comment", *QUICK, "--save", model
    )
    assert dropped.returncode == 0, dropped.stderr
    assert line(dropped.stdout, "data").startswith("135 samples x 4 features")
    assert list(xpnet.load(model).feature_names_in_) == ["a", "b", "c", "d"]
    chosen = xpnet_cli("fit", data, "--target", "y", "--features", "c,d", *QUICK)
    assert chosen.returncode == 0, chosen.stderr
    assert line(chosen.stdout, "data").startswith("135 samples x 2 features")
    one_error_line(xpnet_cli("fit", data, "--target", "y", "--drop", "idx"), "--drop")
    text = one_error_line(xpnet_cli("fit", data, "--target", "y"), "DATA")
    assert "column 'comment' is not numeric" in text
    assert "--drop 'comment'" in text


def test_an_unnamed_first_column_is_a_warning(tmp_path: Path) -> None:
    iris = load_iris()
    rows = [[i, *x, t] for i, (x, t) in enumerate(zip(iris.data, iris.target))]
    data = write_csv(tmp_path / "pandas.csv", ["", "a", "b", "c", "d", "y"], rows)
    result = xpnet_cli("fit", data, "--target", "y", *QUICK)
    assert result.returncode == 0, result.stderr
    assert "warning: DATA: the first column of" in result.stderr
    assert "--drop 'Unnamed: 0'" in result.stderr
    dropped = xpnet_cli("fit", data, "--target", "y", "--drop", "Unnamed: 0", *QUICK)
    assert line(dropped.stdout, "data").startswith("135 samples x 4 features")


def test_sep_reads_other_separators(tmp_path: Path) -> None:
    iris = load_iris()
    rows = [[*x, t] for x, t in zip(iris.data, iris.target)]
    data = write_csv(tmp_path / "semi.csv", ["a", "b", "c", "d", "y"], rows, sep=";")
    hint = one_error_line(xpnet_cli("fit", data, "--target", "y"), "DATA")
    assert "--sep ';'" in hint
    result = xpnet_cli("fit", data, "--target", "y", "--sep", ";", *QUICK)
    assert result.returncode == 0, result.stderr
    assert line(result.stdout, "data").startswith("135 samples x 4 features")


def test_an_empty_cell_is_a_missing_value(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "gap.csv", ["a", "y"], [[1, 0], ["", 1], [2, 1]])
    text = one_error_line(xpnet_cli("fit", data, "--target", "y"), "DATA")
    assert "column 'a' has a missing value (line 3: '')" in text


# --- 3. one error policy ------------------------------------------------------------------------


def test_a_binary_file_as_data(tmp_path: Path) -> None:
    data = tmp_path / "image.csv"
    data.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    text = one_error_line(xpnet_cli("fit", data, "--target", "y"), "DATA")
    assert "is not a text (UTF-8) CSV file" in text


def test_a_folder_as_data(tmp_path: Path) -> None:
    text = one_error_line(xpnet_cli("fit", tmp_path, "--target", "y"), "DATA")
    assert "is a folder, not a file" in text


def test_output_in_a_missing_folder_before_predicting(iris_csv: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    assert (
        xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--save", model).returncode == 0
    )
    result = xpnet_cli("predict", model, iris_csv, "--output", tmp_path / "missing" / "out.csv")
    assert "no such folder" in one_error_line(result, "--output")
    assert result.stdout == ""


def test_save_in_a_missing_folder_before_fitting(iris_csv: Path, tmp_path: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", "--save", tmp_path / "no" / "m")
    assert "no such folder" in one_error_line(result, "--save")
    assert result.stdout == ""  # nothing was fitted


def test_plot_in_a_missing_folder_before_training(tmp_path: Path) -> None:
    result = xpnet_cli(
        "train", "--epochs", "3", "--no-progress", "--plot", tmp_path / "no" / "r.png"
    )
    assert "no such folder" in one_error_line(result, "--plot")
    assert "loss" not in result.stdout  # before training


def test_model_that_is_not_a_model(iris_csv: Path) -> None:
    text = one_error_line(xpnet_cli("predict", iris_csv, iris_csv), "MODEL")
    assert "is not a readable safetensors file" in text


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60000, 2))
    rows = [[a, b, int(a > 0)] for a, b in X]
    data = write_csv(tmp_path / "big.csv", ["a", "b", "y"], rows)
    model = tmp_path / "m.safetensors"
    fitted = xpnet_cli("fit", data, "--target", "y", *QUICK, "--max-iter", "2", "--save", model)
    assert fitted.returncode == 0, fitted.stderr
    command = f"{sys.executable} -m xpnet predict {model} {data} --proba | head -1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert result.stdout == "prediction,proba_0,proba_1\n"
    assert result.stderr == ""  # no "Broken pipe", no traceback


def test_check_on_a_device_that_is_not_there() -> None:
    result = xpnet_cli("check", "--device", "cuda")
    assert "NumPy arrays live on 'cpu' only" in one_error_line(result, "--device")
    assert "FAIL" not in result.stdout


def test_check_on_cuda_without_cuda_is_one_line_on_torch() -> None:
    torch = pytest.importorskip("torch", reason="needs the [torch] extra")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = xpnet_cli("check", "--backend", "torch", "--device", "cuda")
    one_error_line(result, "--device")
    assert "FAIL" not in result.stdout


@pytest.mark.parametrize("command", ["fit", "train", "check", "predict"])
def test_an_unknown_backend_is_named_alike_by_every_command(
    command: str, iris_csv: Path, tmp_path: Path
) -> None:
    argv = {
        "fit": [iris_csv, "--target", "species"],
        "predict": [tmp_path / "m.safetensors", iris_csv],
        "train": [],
        "check": [],
    }[command]
    result = xpnet_cli(command, *argv, "--backend", "tensorflow")
    assert "unknown backend 'tensorflow'" in one_error_line(result, "--backend")


def test_tiny_data_gets_a_hint(tmp_path: Path) -> None:
    # scikit-learn's split refuses it: one row held out cannot hold both classes
    data = write_csv(tmp_path / "tiny.csv", ["a", "y"], [[1, 0], [2, 1], [3, 0], [4, 1]])
    text = one_error_line(xpnet_cli("fit", data, "--target", "y"), "DATA")
    assert "use --validation-fraction 0" in text
    result = xpnet_cli("fit", data, "--target", "y", "--validation-fraction", "0", *QUICK)
    assert result.returncode == 0, result.stderr
    assert not re.search("^validation", result.stdout, re.M), result.stdout


def test_a_small_held_out_share_gets_a_hint(tmp_path: Path) -> None:
    rows = [[k, k % 3] for k in range(30)]
    data = write_csv(tmp_path / "small.csv", ["a", "y"], rows)
    result = xpnet_cli("fit", data, "--target", "y", *QUICK)
    assert result.returncode == 0, result.stderr
    assert "warning: DATA: only 3 rows are held out for validation" in result.stderr
    assert "--validation-fraction 0" in result.stderr


def test_proba_of_a_regressor_is_refused(tmp_path: Path) -> None:
    rows = [[x, 2.5 * x + 0.1] for x in np.linspace(0, 1, 40)]
    data = write_csv(tmp_path / "line.csv", ["x", "y"], rows)
    model = tmp_path / "r.safetensors"
    assert xpnet_cli("fit", data, "--target", "y", *QUICK, "--save", model).returncode == 0
    text = one_error_line(xpnet_cli("predict", model, data, "--proba"), "--proba")
    assert "MLPRegressor" in text


def test_bad_option_values_name_the_option(iris_csv: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", "--alpha", "-1", *QUICK)
    assert "alpha" in one_error_line(result, "--alpha")
    result = xpnet_cli("train", "--hidden", "8,x")
    assert "expected H or H1,H2" in one_error_line(result, "--hidden")
    one_error_line(xpnet_cli("fit"), "DATA")
    one_error_line(xpnet_cli("train", "--nope"), "--nope")


# --- 4. show what happens -----------------------------------------------------------------------


class _Flushed(io.StringIO):
    """A stdout that remembers what had been flushed (what a user would have seen)."""

    flushed = ""

    def flush(self) -> None:
        self.flushed = self.getvalue()


def test_check_prints_each_row_as_it_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnet import testing

    stdout, seen = _Flushed(), []

    def first(backend: str, **_: Any) -> testing.CheckResult:
        return testing.CheckResult("first", True, 0.0, 1.0)

    def second(backend: str, **_: Any) -> testing.CheckResult:
        seen.append(stdout.flushed)
        return testing.CheckResult("second", True, 0.0, 1.0)

    monkeypatch.setattr(testing, "CHECKS", {"first": first, "second": second})
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["check"]) == 0
    assert re.search(r"^first\s+pass", seen[0], re.M), seen  # shown before the second ran
    assert "second" not in seen[0]


def test_compare_prints_each_row_as_it_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnet.cli import compare

    stdout, seen = _Flushed(), []
    real = compare.run_iris

    def run_iris(*args: Any, **kwargs: Any) -> Any:
        seen.append(stdout.flushed)
        return real(*args, **kwargs)

    monkeypatch.setattr(compare, "run_iris", run_iris)
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["compare", "--epochs", "2", "--backends", "numpy,np"]) == 0
    assert not re.search(r"^numpy\s+\d", seen[0], re.M)
    assert re.search(r"^numpy\s+\d\.\d{6}\s", seen[1], re.M), seen[1]


def test_fit_passes_scikit_learns_warnings_on(iris_csv: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--batch-size", "1000")
    assert result.returncode == 0, result.stderr
    assert "warning: Got `batch_size` less than 1 or larger than sample size" in result.stderr


@pytest.mark.parametrize("command", ["train", "compare", "fit", "predict", "check"])
def test_every_help_shows_the_defaults(command: str, capsys: pytest.CaptureFixture) -> None:
    from xpnet.cli import _parser

    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    _, parsers = _parser(_modules())
    for action in parsers[command]._actions:
        if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
            default = action.default
            if isinstance(default, tuple):
                default = ",".join(map(str, default))
            name = action.option_strings[-1]
            assert f"(default: {default})" in shown, (name, shown)
            assert action.help, name


def _modules() -> Any:
    from xpnet.cli import _modules as modules

    return modules()


def test_version() -> None:
    result = xpnet_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"xpnet {xpnet.__version__}\n"


def test_the_summary_lists_the_options_the_user_set(iris_csv: Path) -> None:
    result = xpnet_cli("fit", iris_csv, "--target", "species", *QUICK, "--alpha", "0.001")
    assert result.returncode == 0, result.stderr
    options = line(result.stdout, "options")
    assert options == (
        "--target species --hidden 8 --max-iter 30 --learning-rate-init 0.01 --no-progress "
        "--alpha 0.001"
    ), options
    train = xpnet_cli("train", "--epochs", "4", "--lr", "0.2", "--no-progress")
    assert line(train.stdout, "options") == "--epochs 4 --lr 0.2 --no-progress"


def test_train_reports_the_training_time_apart_from_loading() -> None:
    result = xpnet_cli("train", "--epochs", "4", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"\d+\.\d\d s training \(\d+\.\d{3} ms per epoch, median\), \d+\.\d\d s loading the "
        r"backend and data",
        line(result.stdout, "time"),
    ), result.stdout


def test_threads_limits_torch_and_puts_it_back(capsys: pytest.CaptureFixture) -> None:
    torch = pytest.importorskip("torch", reason="needs the [torch] extra")
    before = torch.get_num_threads()
    seen = []
    from xpnet.cli import train

    real = train.run_iris

    def run_iris(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "run_iris", run_iris)
        argv = ["train", "--backend", "torch", "--threads", "1", "--epochs", "2", "--no-progress"]
        assert main(argv) == 0
    assert seen == [1]
    assert torch.get_num_threads() == before
    assert "--threads 1" in capsys.readouterr().out


def test_fit_resume_continues_a_saved_run_exactly(wine_csv: Path, tmp_path: Path) -> None:
    """5 epochs, save, --resume for 5 more: the 10-epoch run's weights (wine's 160 training
    rows fit in one batch of the default 200, so the epochs are the same either way)."""
    import xpnet

    options = ["--target", "cultivar", "--no-progress", "--hidden", "8"]
    half, resumed, whole = (tmp_path / f"{n}.safetensors" for n in ("half", "resumed", "whole"))
    assert xpnet_cli("fit", wine_csv, *options, "--max-iter", 5, "--save", half).returncode == 0
    result = xpnet_cli(
        "fit", wine_csv, *options, "--max-iter", 5, "--resume", half, "--save", resumed
    )
    assert result.returncode == 0, result.stderr
    assert "after 5 more epochs" in result.stdout
    assert xpnet_cli("fit", wine_csv, *options, "--max-iter", 10, "--save", whole).returncode == 0
    ours, theirs = xpnet.load(resumed)[-1], xpnet.load(whole)[-1]
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=1e-12)


def test_fit_resume_of_a_missing_file_is_one_error_line(wine_csv: Path, tmp_path: Path) -> None:
    result = xpnet_cli("fit", wine_csv, "--target", "cultivar", "--resume", tmp_path / "no.st")
    one_error_line(result, "--resume")
