"""``python -m xpnet``: train, compare, --help and errors, in-process plus one subprocess run."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import xpnet
from xpnet.cli import main

FLOAT = r"[0-9]+\.[0-9]+"
TRAIN_OPTIONS = [
    "--epochs",
    "--lr",
    "--decay",
    "--batch-size",
    "--hidden",
    "--seed",
    "--init",
    "--dtype",
    "--device",
    "--activation",
    "--optimizer",
    "--momentum",
    "--nesterov",
    "--alpha",
]


def test_train_prints_the_final_loss_and_accuracy(capsys) -> None:
    assert main(["train", "--backend", "numpy", "--epochs", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^loss\s+{FLOAT} -> {FLOAT}", out, re.MULTILINE), out
    assert re.search(r"^accuracy\s+[0-9.]+%", out, re.MULTILINE), out


@pytest.mark.parametrize("backend", xpnet.available_backends())
def test_train_on_every_installed_backend(backend: str, capsys) -> None:
    argv = ["train", "--backend", backend, "--epochs", "3", "--no-progress", "--batch-size", "50"]
    assert main(argv) == 0
    assert backend in capsys.readouterr().out


def test_train_with_every_option(capsys) -> None:
    argv = ["train", "--epochs", "4", "--lr", "0.1", "--decay", "0.01", "--batch-size", "1"]
    argv += ["--hidden", "5", "--seed", "3", "--init", "lecture", "--dtype", "float32"]
    argv += ["--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "float32" in out
    assert "batches of 1" in out


def test_train_a_deeper_network_with_adam_equals_the_library(capsys) -> None:
    argv = ["train", "--hidden", "8,6", "--activation", "tanh", "--optimizer", "adam"]
    argv += ["--lr", "0.01", "--alpha", "0.001", "--epochs", "20", "--batch-size", "32"]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2-8-6-3 tanh network, Adam lr 0.01, alpha 0.001" in out
    X, y = xpnet.datasets.load_iris_2d(dtype="float64")
    layers = xpnet.init_layers((2, 8, 6, 3), dtype="float64")
    layers, _ = xpnet.train(
        X,
        y,
        layers,
        epochs=20,
        batch_size=32,
        optimizer=xpnet.optim.Adam(0.01),
        activation="tanh",
        alpha=0.001,
    )
    loss = float(xpnet.gradcheck.mean_loss(X, y, layers, activation="tanh", alpha=0.001))
    assert re.search(rf"-> {loss:.4f}", out), (loss, out)


def test_train_with_nesterov_momentum(capsys) -> None:
    argv = ["train", "--hidden", "6,6", "--momentum", "0.9", "--nesterov", "--lr", "0.05"]
    assert main([*argv, "--epochs", "10", "--no-progress"]) == 0
    assert "Nesterov momentum 0.9 SGD lr 0.05" in capsys.readouterr().out


def test_bad_new_option_values_exit_with_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--hidden", "8,x"])
    assert exit_info.value.code == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["train", "--momentum", "1.5", "--no-progress"]) == 2
    assert "momentum" in capsys.readouterr().err
    assert main(["train", "--alpha", "-1", "--no-progress"]) == 2
    assert "alpha" in capsys.readouterr().err


def test_train_shows_a_progress_bar_by_default(capsys) -> None:
    assert main(["train", "--epochs", "3"]) == 0
    captured = capsys.readouterr()
    assert "3/3" in captured.err
    assert "accuracy" in captured.out


def test_compare_prints_one_row_per_backend(capsys) -> None:
    assert main(["compare", "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("backend") and "final loss" in line for line in lines)
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1]}
    losses = set()
    for backend in xpnet.available_backends():
        assert backend in rows, out
        _, loss, accuracy, diff, *_ = rows[backend]
        losses.add(loss)
        assert float(diff) < 1e-10  # one code path, one answer
        assert 0.0 <= float(accuracy) <= 1.0
    assert len(losses) == 1, out  # the same final loss to the printed 6 places


def test_compare_a_chosen_subset(capsys) -> None:
    pytest.importorskip("array_api_strict")
    assert main(["compare", "--epochs", "2", "--backends", "numpy,array_api_strict"]) == 0
    out = capsys.readouterr().out
    body = [line.split()[0] for line in out.splitlines()[3:] if line.strip()]
    assert body == ["numpy", "array_api_strict"]


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        ([], ["train", "compare", "bench"]),
        (["train"], [*TRAIN_OPTIONS, "--backend", "--no-progress", "--plot"]),
        (["compare"], [*TRAIN_OPTIONS, "--backends"]),
    ],
)
def test_help_explains_every_option(argv: list[str], options: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in options:
        assert option in out


def test_unknown_backend_exits_with_2_and_a_message(capsys) -> None:
    assert main(["train", "--backend", "tensorflow", "--epochs", "1"]) == 2
    assert "tensorflow" in capsys.readouterr().err
    assert main(["compare", "--backends", "numpy,mxnet", "--epochs", "1"]) == 2
    assert "mxnet" in capsys.readouterr().err


def test_bad_option_values_exit_with_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dtype", "float16"])
    assert exit_info.value.code == 2
    assert "--dtype" in capsys.readouterr().err
    assert main(["train", "--epochs", "-1", "--no-progress"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_missing_command_exits_with_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_python_dash_m_xpnet_train_smoke() -> None:
    argv = ["train", "--backend", "numpy", "--epochs", "5", "--no-progress"]
    command = [sys.executable, "-m", "xpnet", *argv]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "loss" in result.stdout
    assert "accuracy" in result.stdout
