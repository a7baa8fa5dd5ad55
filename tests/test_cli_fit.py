"""``python -m xpnet fit`` / ``predict`` on CSV and .npz files, and their one-line errors."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression

import xpnet
from xpnet.cli import main


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    iris = load_iris()
    rows = [[*x, iris.target_names[t]] for x, t in zip(iris.data, iris.target)]
    return _write_csv(tmp_path / "iris.csv", [*iris.feature_names, "species"], rows)


FIT = ["--hidden", "8", "--max-iter", "40", "--learning-rate-init", "0.01", "--no-progress"]


def test_fit_prints_a_summary_and_saves(iris_csv: Path, tmp_path: Path, capsys) -> None:
    model = tmp_path / "iris.safetensors"
    assert main(["fit", str(iris_csv), "--target", "species", *FIT, "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^data\s+135 samples x 4 features, 3 classes$", out, re.M), out
    assert re.search(r"^loss\s+[0-9.e-]+ -> [0-9.e-]+ after 40 iterations", out, re.M), out
    assert re.search(r"^train\s+accuracy 0\.\d{4}$", out, re.M), out
    assert re.search(r"^validation\s+accuracy 0\.\d{4} \(0\.1 held out\)$", out, re.M), out
    assert re.search(r"^time\s+[0-9.]+ s$", out, re.M), out
    assert model.is_file()
    predictions = tmp_path / "predictions.csv"
    assert (
        main(["predict", str(model), str(iris_csv), "--output", str(predictions), "--proba"]) == 0
    )
    with predictions.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert len(rows) == 151
    labels = [r[0] for r in rows[1:]]
    accuracy = np.mean(np.array(labels) == load_iris().target_names[load_iris().target])
    assert accuracy > 0.6
    np.testing.assert_allclose([sum(map(float, r[1:])) for r in rows[1:]], 1.0, rtol=1e-9)


@pytest.mark.parametrize("backend", xpnet.available_backends())
def test_fit_on_every_backend_same_numbers(backend: str, iris_csv: Path, capsys) -> None:
    argv = ["fit", str(iris_csv), "--target", "species", *FIT, "--solver", "sgd"]
    assert main([*argv, "--backend", "numpy"]) == 0
    reference = capsys.readouterr().out
    assert main([*argv, "--backend", backend]) == 0
    out = capsys.readouterr().out
    loss = re.compile(r"^loss.*$", re.M)
    assert loss.search(out).group() == loss.search(reference).group()


def test_regression_on_npz_with_early_stopping(tmp_path: Path, capsys) -> None:
    X, y = make_regression(80, 3, noise=1.0, random_state=0)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y / 10)
    argv = ["fit", str(data), "--early-stopping", "--hidden", "16", "--max-iter", "30"]
    argv += [
        "--learning-rate-init",
        "0.05",
        "--no-progress",
        "--save",
        str(tmp_path / "r.safetensors"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "MLPRegressor" in out
    assert re.search(r"^train\s+R\^2 ", out, re.M), out
    assert re.search(r"^validation\s+R\^2 .* \(early-stopping holdout\)$", out, re.M), out
    assert main(["predict", str(tmp_path / "r.safetensors"), str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction"
    assert len(lines) == 81


def _error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err


def test_bad_input_is_one_line_and_exit_code_2(iris_csv: Path, tmp_path: Path, capsys) -> None:
    assert "no column 'kind'" in _error(["fit", str(iris_csv), "--target", "kind"], capsys)
    text = _write_csv(tmp_path / "text.csv", ["a", "b", "y"], [[1, "x", 0], [2, 3, 1]])
    assert "column 'b' is not numeric" in _error(["fit", str(text), "--target", "y"], capsys)
    nan = _write_csv(tmp_path / "nan.csv", ["a", "y"], [[1, 0], ["nan", 1], [2, 1]])
    assert "column 'a' has a missing value (line 3: 'nan')" in _error(
        ["fit", str(nan), "--target", "y"], capsys
    )
    missing = _write_csv(tmp_path / "gap.csv", ["a", "y"], [[1, 0], ["", 1]])
    assert "column 'a' has a missing value (line 3: '')" in _error(
        ["fit", str(missing), "--target", "y"], capsys
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _error(["fit", str(empty), "--target", "y"], capsys)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,y\n")
    assert "no rows" in _error(["fit", str(header_only), "--target", "y"], capsys)
    lbfgs = ["fit", str(iris_csv), "--target", "species", "--solver", "lbfgs", "--early-stopping"]
    assert "--early-stopping: works with" in _error(lbfgs, capsys)
    assert "no such file" in _error(["fit", str(tmp_path / "nope.csv"), "--target", "y"], capsys)
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(iris_csv), "--target", "species", *FIT, "--save", str(model)]) == 0
    capsys.readouterr()
    narrow = tmp_path / "narrow.npz"
    np.savez(narrow, X=np.ones((3, 2)))
    assert "expects 4" in _error(["predict", str(model), str(narrow)], capsys)
    fewer = _write_csv(tmp_path / "fewer.csv", ["sepal length (cm)"], [[1.0]])
    assert "needs the columns" in _error(["predict", str(model), str(fewer)], capsys)
    assert "MODEL: " in _error(["predict", str(iris_csv), str(iris_csv)], capsys)


def test_bad_options_are_one_line_too(iris_csv: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["fit", str(iris_csv), "--target", "species", "--hidden", "a,b"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --hidden: expected sizes like 64,32")
    assert err.count("\n") == 1


def test_as_a_new_user_runs_it(iris_csv: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    command = [sys.executable, "-m", "xpnet", "fit", str(iris_csv), "--target", "species"]
    done = subprocess.run([*command, *FIT, "--save", str(model)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout
    bad = subprocess.run(
        [*command[:4], str(iris_csv), "--target", "x"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: --target: no column 'x'")
    assert "Traceback" not in bad.stderr
