"""A base install (``pip install xpnet``, no extra) is a whole product.

Each test runs in a fresh Python whose import system does not find jax, torch, dask,
matplotlib, array-api-strict, ndonnx or onnx, as on a machine where only the base
dependencies are installed, and checks that nothing of theirs was imported.
"""

from __future__ import annotations

import textwrap

import pytest
from helpers import run_without


def _ok(code: str, tmp_path=None) -> str:
    result = run_without(textwrap.dedent(code), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_train_with_every_optimizer_loss_and_activation():
    out = _ok(
        """
        import xpnet
        from xpnet.optim import SGD, Adam
        assert xpnet.available_backends() == ["numpy"], xpnet.available_backends()
        xp = xpnet.namespace("numpy")
        X, y = xpnet.datasets.load_iris_2d(backend="numpy")
        params = xpnet.init_params(2, 10, 3, xp=xp, seed=0)
        params, history = xpnet.train(X, y, params, epochs=20, lr=0.5, batch_size=16)
        assert history.loss[-1] < history.loss[0]
        loss, grads = xpnet.loss_and_grad(X, y, params)
        layers = xpnet.init_layers((2, 8, 3), xp=xp, seed=0)
        for opt in (SGD(0.1), SGD(0.1, momentum=0.9, nesterov=True), Adam(1e-2)):
            for activation in ("relu", "tanh", "logistic", "identity"):
                _, h = xpnet.train(X, y, layers, epochs=3, batch_size=32, optimizer=opt,
                                   activation=activation, alpha=1e-4)
                assert len(h.loss) == 3
        Y = xp.astype(y[:, None] == xp.arange(3), xp.float64)
        for loss in ("binary_cross_entropy", "squared_error", "poisson"):
            _, h = xpnet.train(X, Y, layers, epochs=2, loss=loss, optimizer=Adam(1e-3))
            assert len(h.loss) == 2
        print("trained")
        """
    )
    assert "trained" in out


def test_estimators_and_save_load(tmp_path):
    _ok(
        """
        import numpy as np, xpnet
        from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True)
        clf = xpnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
            reg = xpnet.MLPRegressor(max_iter=20, random_state=0).fit(X[:, :3], X[:, 3])
        xpnet.save("clf.safetensors", clf)
        back = xpnet.load("clf.safetensors")
        np.testing.assert_array_equal(back.predict(X), clf.predict(X))
        xpnet.save("reg.safetensors", reg)
        np.testing.assert_allclose(xpnet.load("reg.safetensors").predict(X[:, :3]),
                                   reg.predict(X[:, :3]))
        """,
        tmp_path,
    )


@pytest.mark.parametrize(
    ("what", "extra"),
    [
        ("xpnet.namespace('jax')", "xpnet[jax]"),
        ("xpnet.namespace('torch')", "xpnet[torch]"),
        ("xpnet.asarray([1.0], backend='array_api_strict')", "xpnet[strict]"),
        ("xpnet.datasets.make_classification_dask(100, 2, 2)", "xpnet[dask]"),
        ("xpnet.plot.new_figure()", "xpnet[plot]"),
    ],
)
def test_a_missing_library_names_its_extra(what, extra):
    out = _ok(
        f"""
        import xpnet, xpnet.plot
        try:
            {what}
        except ImportError as exc:
            print("ImportError:", exc)
        """
    )
    assert "ImportError:" in out
    assert extra in out
    assert "No module named" not in out.split("install")[0] or "install" in out


def test_commands(tmp_path):
    out = _ok(
        """
        import csv, numpy as np
        from sklearn.datasets import load_iris
        from xpnet.cli import main
        data = load_iris()
        with open("iris.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([*data.feature_names, "species"])
            for row, label in zip(data.data, data.target):
                w.writerow([*row, data.target_names[label]])
        for argv in (
            ["train", "--epochs", "5", "--no-progress"],
            ["check", "--backend", "numpy"],
            ["compare", "--epochs", "3"],
            ["fit", "iris.csv", "--target", "species", "--save", "m.safetensors",
             "--max-iter", "20", "--no-progress"],
            ["predict", "m.safetensors", "iris.csv", "--output", "pred.csv"],
        ):
            code = main(argv)
            print(argv[0], "exit", code)
            assert code == 0, argv
        """,
        tmp_path,
    )
    assert "fail" not in out.lower().replace("0 failed", "")
    assert (tmp_path / "pred.csv").exists()
