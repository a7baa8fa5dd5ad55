"""Exact resume: a model file keeps what training needs to go on (optimizer state, rate,
stopping count), so ten ``partial_fit`` calls equal five, save, load on any backend, five
more; a file without that state loads for prediction and says why it cannot resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import Backend
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import xpnet

SOLVERS = [
    ("adam", {}),
    ("sgd", {"learning_rate": "invscaling"}),
    ("sgd", {"momentum": 0.9, "nesterovs_momentum": False}),
    ("sgd", {"momentum": 0.0, "learning_rate": "adaptive"}),
]


def _data():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(("solver", "options"), SOLVERS)
@pytest.mark.parametrize("backend", [b for b in Backend if b.installed and b.value != "dask"])
def test_ten_partial_fits_equal_five_save_load_five(tmp_path, solver, options, backend) -> None:
    X, y = _data()
    make = lambda: xpnet.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=(6,), solver=solver, random_state=0, **options
    )
    straight = make()
    for _ in range(10):
        straight.partial_fit(X, y, classes=[0, 1, 2])
    first = make()
    for _ in range(5):
        first.partial_fit(X, y, classes=[0, 1, 2])
    path = xpnet.save(tmp_path / "half.safetensors", first)
    resumed = xpnet.load(path, backend=backend.library)
    Xb, yb = xpnet.asarray(X, backend=backend.library), xpnet.asarray(y, backend=backend.library)
    for _ in range(5):
        resumed.partial_fit(Xb, yb)
    assert resumed.t_ == straight.t_
    np.testing.assert_allclose(resumed.loss_curve_, straight.loss_curve_, rtol=1e-12)
    for ours, theirs in zip(resumed.coefs_, straight.coefs_):
        np.testing.assert_allclose(xpnet.to_numpy(ours), xpnet.to_numpy(theirs), rtol=1e-12)


def test_a_file_without_optimizer_state_predicts_and_says_why_it_cannot_resume(
    tmp_path,
) -> None:
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    X, y = _data()
    clf = xpnet.MLPClassifier(hidden_layer_sizes=(6,), random_state=0, max_iter=5)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    path = xpnet.save(tmp_path / "new.safetensors", clf)
    with safe_open(str(path), "np") as f:
        document = json.loads(f.metadata()["xpnet"])
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer.")}
    assert len(tensors) < len(load_file(str(path)))  # the new file holds Adam's state
    document.pop("training")
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata={"xpnet": json.dumps(document)})
    loaded = xpnet.load(old)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    with pytest.warns(UserWarning, match="without its optimizer state"):
        loaded.partial_fit(X, y)
