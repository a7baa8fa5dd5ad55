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
        pytest.skip("the estimators train on in-memory arrays (tests/test_estimators.py)")
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
