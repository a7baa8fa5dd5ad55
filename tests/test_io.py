"""xpnet.save / xpnet.load: safetensors files, across backends, and refusing bad files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import Backend
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import xpnet
from xpnet import MLPClassifier, MLPRegressor
from xpnet._compat import array_namespace


def _fitted(kind: str, X: Any, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "regressor":
            return MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
        return MLPClassifier((4, 3), max_iter=5, early_stopping=True, random_state=0).fit(X, y)


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "regressor":
        return make_regression(40, 3, n_targets=2, random_state=0)
    X, y = make_classification(40, 3, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    if kind == "strings":
        return X, np.array(["cat", "dog", "emu"])[y]
    return X, y


@pytest.mark.parametrize("kind", ["classifier", "strings", "regressor"])
def test_fit_on_one_backend_load_on_every_backend(
    kind: str, backend: Backend, to_xp: Any, tmp_path: Path
) -> None:
    if backend is Backend.DASK:
        pytest.skip("early stopping on Dask needs X_val; Dask fits saved: test_estimators_dask.py")
    X, y = _data(kind)
    model = _fitted(kind, to_xp(X), y if kind == "strings" else to_xp(y))
    path = xpnet.save(tmp_path / "model.safetensors", model)
    expected = model.predict(to_xp(X))
    for target in xpnet.available_backends():
        loaded = xpnet.load(path, backend=target)
        assert type(loaded) is type(model)
        assert loaded.get_params() == {
            **model.get_params(),
            "hidden_layer_sizes": tuple(model.hidden_layer_sizes),
        }
        X_target = xpnet.asarray(X, backend=target)
        predicted = loaded.predict(X_target)
        if kind != "strings":
            assert array_namespace(predicted) is array_namespace(X_target)
        if kind == "regressor" and target != backend.library:  # another BLAS: last bits differ
            np.testing.assert_allclose(
                xpnet.to_numpy(predicted), xpnet.to_numpy(expected), rtol=1e-12
            )
        else:
            np.testing.assert_array_equal(xpnet.to_numpy(predicted), xpnet.to_numpy(expected))
        for name in ("n_iter_", "loss_", "loss_curve_", "n_features_in_", "out_activation_"):
            assert getattr(loaded, name) == getattr(model, name), name
        for W, W0 in zip(loaded.coefs_ + loaded.intercepts_, model.coefs_ + model.intercepts_):
            np.testing.assert_array_equal(xpnet.to_numpy(W), xpnet.to_numpy(W0))
        if kind != "regressor":
            np.testing.assert_array_equal(
                xpnet.to_numpy(loaded.classes_), xpnet.to_numpy(model.classes_)
            )
            assert loaded.validation_scores_ == model.validation_scores_


def test_loaded_classifier_keeps_training(tmp_path: Path) -> None:
    X, y = _data("classifier")
    model = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    loaded = xpnet.load(xpnet.save(tmp_path / "m.safetensors", model))
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == 1
    assert loaded.t_ == 2 * X.shape[0]
    np.testing.assert_array_equal(loaded.classes_, [0, 1, 2])


def test_layers_and_params_round_trip(backend: Backend, to_xp: Any, tmp_path: Path) -> None:
    layers = xpnet.init_layers((3, 5, 2), xp=backend.library, seed=1, dtype="float32")
    loaded = xpnet.load(
        xpnet.save(tmp_path / "layers.safetensors", layers), backend=backend.library
    )
    assert isinstance(loaded, tuple)
    assert all(isinstance(l, xpnet.Layer) for l in loaded)
    for a, b in zip(loaded, layers):
        for u, v in zip(a, b):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(xpnet.to_numpy(u), xpnet.to_numpy(v))
    params = xpnet.init_params(2, 4, 3, xp=backend.library, seed=0)
    restored = xpnet.load(xpnet.save(tmp_path / "params.safetensors", params))
    assert isinstance(restored, xpnet.Params)
    np.testing.assert_array_equal(restored.W2, xpnet.to_numpy(params.W2))


def test_bad_files_give_a_clear_error_naming_the_path(tmp_path: Path) -> None:
    X, y = _data("classifier")
    good = xpnet.save(tmp_path / "good.safetensors", _fitted("classifier", X, y))
    data = good.read_bytes()
    cases = {
        "missing.safetensors": None,
        "garbage.safetensors": b"\x00\x01not a model at all" * 10,
        "truncated.safetensors": data[: len(data) // 2],
        "empty.safetensors": b"",
        "pickle.safetensors": b"\x80\x04\x95" + b"cos\nsystem\n(S'echo hacked'\ntR." * 3,
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ValueError, match=f"^path: .*{name}"):
            xpnet.load(path)
    from safetensors.numpy import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": np.ones((2, 2))}, foreign, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"^path: .*not written by xpnet.save"):
        xpnet.load(foreign)
    tampered = tmp_path / "tampered.safetensors"
    save_file({"coefs.0": np.ones((2, 2))}, tampered, metadata={"xpnet": "{not json"})
    with pytest.raises(ValueError, match=r"^path: .*corrupt xpnet metadata"):
        xpnet.load(tampered)
    incomplete = tmp_path / "incomplete.safetensors"
    document = {"format": 1, "kind": "MLPClassifier", "params": {}}
    save_file({"coefs.0": np.ones((2, 2))}, incomplete, metadata={"xpnet": json.dumps(document)})
    with pytest.raises(ValueError, match=r"^path: .*not a valid xpnet model"):
        xpnet.load(incomplete)


def test_save_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^model: the MLPClassifier is not fitted"):
        xpnet.save(tmp_path / "m.safetensors", MLPClassifier())
    with pytest.raises(TypeError, match=r"^model: expected a fitted"):
        xpnet.save(tmp_path / "m.safetensors", {"W": np.ones(2)})
    with pytest.raises(TypeError, match=r"^path: expected a str"):
        xpnet.save(None, xpnet.init_layers((2, 2)))


# --- Pipelines of scalers and an estimator; casting on load ---------------------------------

SCALERS = ["StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler"]


def _pipeline(scaler: str, X: Any, y: Any) -> Any:
    from sklearn import preprocessing
    from sklearn.pipeline import make_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        options = {"feature_range": (-1, 2)} if scaler == "MinMaxScaler" else {}
        step = getattr(preprocessing, scaler)(**options)
        return make_pipeline(step, MLPClassifier((5,), max_iter=10, random_state=0)).fit(X, y)


@pytest.mark.parametrize("scaler", SCALERS)
def test_a_pipeline_of_a_scaler_and_an_estimator_round_trips(scaler: str, tmp_path: Path) -> None:
    X, y = _data("strings")
    X = X * np.array([1.0, 100.0, 1e-3]) + 50  # columns on very different scales
    pipeline = _pipeline(scaler, X, y)
    path = xpnet.save(tmp_path / "pipe.safetensors", pipeline)
    loaded = xpnet.load(path)
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipeline.steps]
    original, restored = pipeline.steps[0][1], loaded.steps[0][1]
    assert type(restored) is type(original)
    assert restored.get_params() == original.get_params()
    # scikit-learn's own transform with the restored statistics: the same numbers, bit for bit
    np.testing.assert_array_equal(restored.transform(X), original.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    from safetensors import safe_open

    with safe_open(path, framework="np") as file:  # the statistics are tensors, not pickle
        assert "steps.0.scale_" in set(file.keys())


def test_a_loaded_pipeline_puts_its_estimator_on_the_backend(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs the [torch] extra")
    X, y = _data("classifier")
    path = xpnet.save(tmp_path / "pipe.safetensors", _pipeline("StandardScaler", X, y))
    loaded = xpnet.load(path, backend="torch", dtype="float32")
    scaler, model = loaded.steps[0][1], loaded.steps[-1][1]
    assert isinstance(scaler.mean_, np.ndarray)  # the statistics stay NumPy (no dispatch)
    assert all(W.dtype == torch.float32 for W in model.coefs_)


def test_only_scalers_and_a_fitted_estimator_can_be_saved(tmp_path: Path) -> None:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data("classifier")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pca = make_pipeline(PCA(2), MLPClassifier(max_iter=5)).fit(X, y)
    with pytest.raises(TypeError, match=r"^model: step 'pca' of the Pipeline is PCA"):
        xpnet.save(tmp_path / "p", pca)
    unfitted = make_pipeline(StandardScaler(), MLPClassifier())
    with pytest.raises(ValueError, match=r"^model: step 'standardscaler' .* not fitted"):
        xpnet.save(tmp_path / "p", unfitted)
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match=r"^model: the last step of the Pipeline must be"):
        xpnet.save(tmp_path / "p", make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))


@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_load_casts_the_weights_to_dtype(name: str, tmp_path: Path) -> None:
    if name not in xpnet.available_backends():
        pytest.skip(f"needs the [{name}] extra")
    X, y = _data("classifier")
    model = _fitted("classifier", X, y)
    path = xpnet.save(tmp_path / "m.safetensors", model)
    loaded = xpnet.load(path, backend=name, dtype="float32")
    for saved, cast in zip(model.coefs_ + model.intercepts_, loaded.coefs_ + loaded.intercepts_):
        assert str(cast.dtype).endswith("float32")
        np.testing.assert_array_equal(xpnet.to_numpy(cast), saved.astype(np.float32))
    np.testing.assert_array_equal(xpnet.to_numpy(loaded.classes_), model.classes_)  # not cast
    with pytest.raises(TypeError, match=r"^dtype: expected 'float32' or 'float64'"):
        xpnet.load(path, dtype="int32")


def test_a_pipeline_loaded_with_dispatch_on_keeps_its_statistics_on_the_backend(
    tmp_path: Path,
) -> None:
    """scikit-learn's array-API dispatch (it needs SCIPY_ARRAY_API=1 before scipy loads)."""
    pytest.importorskip("array_api_strict", reason="needs the [strict] extra")
    import os
    import subprocess
    import sys

    code = f"""
import warnings, numpy as np, sklearn, xpnet
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_breast_cancer(return_X_y=True)
Xs = xpnet.asarray(X, backend="array_api_strict")
ys = xpnet.asarray(y, backend="array_api_strict")
with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = xpnet.MLPClassifier((8,), max_iter=20, random_state=0)
    pipe = make_pipeline(StandardScaler(), model).fit(Xs, ys)
    path = xpnet.save({str(tmp_path / "p.safetensors")!r}, pipe)
    loaded = xpnet.load(path, backend="array_api_strict")
    print("mean_", xpnet.backend_name(loaded[0].mean_))
    same = xpnet.to_numpy(loaded.predict(Xs)) == xpnet.to_numpy(pipe.predict(Xs))
    print("same", bool(np.all(same)))
print("without dispatch", type(xpnet.load(path, backend="array_api_strict")[0].mean_).__name__)
"""
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "mean_ array_api_strict" in result.stdout
    assert "same True" in result.stdout
    assert "without dispatch ndarray" in result.stdout


def test_the_dispatch_example_of_the_estimators_guide_shows_what_it_prints() -> None:
    """docs/estimators.md shows where scikit-learn's dispatch stops; its output is checked."""
    for module in ("torch", "jax", "array_api_strict"):
        pytest.importorskip(module, reason=f"needs the [{module}] extra")
    import os
    import shlex
    import subprocess
    import sys

    page = (Path(__file__).resolve().parents[1] / "docs" / "estimators.md").read_text()
    block = page.split("<!-- dispatch-example -->\n```console\n", 1)[1].split("```", 1)[0]
    command, shown = block.split("\n'\n", 1)
    assert command.startswith("$ SCIPY_ARRAY_API=1 python -W ignore -c '")
    code = command.split("python -W ignore -c '", 1)[1]
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown, (result.stdout, shlex.quote(shown))
