"""What scikit-learn refuses its MLP users, checked against scikit-learn's own numbers:
the user's validation data, class weights, and scikit-learn 1.9's callbacks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
from helpers import Backend
from sklearn.datasets import load_iris, make_regression
from sklearn.metrics import log_loss, r2_score
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

import xpnet

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def to_xp(backend, to_xp):
    """The in-memory backends (fits on Dask arrays: tests/test_estimators_dask.py)."""
    if backend is Backend.DASK:
        pytest.skip("fits on Dask arrays: tests/test_estimators_dask.py")
    return to_xp


def _iris():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    rows = rng.permutation(150)
    return X[rows[:110]], y[rows[:110]], X[rows[110:]], y[rows[110:]]


def test_validation_curve_entry_k_is_the_model_after_k_epochs(to_xp) -> None:
    X, y, Xv, yv = _iris()
    options = dict(hidden_layer_sizes=(7,), random_state=0, learning_rate_init=0.01)
    clf = xpnet.MLPClassifier(max_iter=6, **options).fit(
        to_xp(X), to_xp(y), X_val=to_xp(Xv), y_val=to_xp(yv)
    )
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == 6
    for k in range(1, 7):  # scikit-learn's model after k epochs, its metrics on the rows
        sk = SkClassifier(max_iter=k, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk.fit(X, y)
        assert clf.validation_scores_[k - 1] == pytest.approx(sk.score(Xv, yv), abs=1e-12)
        assert clf.validation_loss_curve_[k - 1] == pytest.approx(
            log_loss(yv, sk.predict_proba(Xv)) + _l2(sk, len(yv)), rel=1e-8
        )
    # without early stopping the fit itself is scikit-learn's
    np.testing.assert_allclose(xpnet.to_numpy(clf.coefs_[0]), sk.coefs_[0], rtol=1e-8)


def _l2(sk, n: int) -> float:
    return 0.5 * sk.alpha * sum(float(np.sum(W * W)) for W in sk.coefs_) / n


def test_early_stopping_uses_the_given_rows() -> None:
    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    X, y = StandardScaler().fit_transform(X), y / 100
    Xv, yv = X[150:], y[150:]
    reg = xpnet.MLPRegressor(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=300,
        random_state=0,
        learning_rate_init=0.01,
    ).fit(X[:150], y[:150], X_val=Xv, y_val=yv)
    best = int(np.argmax(reg.validation_scores_))
    assert reg.best_validation_score_ == pytest.approx(reg.validation_scores_[best])
    # the model kept is the best epoch's, scored on the user's rows
    assert r2_score(yv, reg.predict(Xv)) == pytest.approx(reg.best_validation_score_, rel=1e-10)
    assert len(reg.validation_scores_) < 300


def test_validation_arguments_are_checked() -> None:
    X, y, Xv, yv = _iris()
    clf = xpnet.MLPClassifier(max_iter=2)
    with pytest.raises(ValueError, match=r"^X_val, y_val: give both"):
        clf.fit(X, y, X_val=Xv)
    with pytest.raises(ValueError, match=r"^X_val: validation data need solver"):
        xpnet.MLPClassifier(solver="lbfgs").fit(X, y, X_val=Xv, y_val=yv)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0, 2: 0.5}])
def test_class_weight_is_the_fit_with_computed_sample_weights(to_xp, class_weight) -> None:
    X, y, _, _ = _iris()
    keep = (y != 2) | (np.arange(len(y)) % 3 == 0)  # unbalanced classes
    X, y = X[keep], y[keep]
    given = np.linspace(0.5, 1.5, len(y))
    options = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=20)
    clf = xpnet.MLPClassifier(class_weight=class_weight, **options)
    clf.fit(to_xp(X), to_xp(y), sample_weight=to_xp(given))
    weights = compute_sample_weight(class_weight, y) * given
    sk = SkClassifier(**options).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(clf.loss_curve_, sk.loss_curve_, rtol=1e-8)
    for ours, theirs in zip(clf.coefs_, sk.coefs_):
        np.testing.assert_allclose(xpnet.to_numpy(ours), theirs, rtol=1e-7, atol=1e-12)


def test_regressor_validation_score_is_r2(to_xp) -> None:
    X, y = make_regression(120, 4, random_state=1)
    y = y / 100
    options = dict(hidden_layer_sizes=(5,), random_state=0, max_iter=4)
    reg = xpnet.MLPRegressor(**options).fit(
        to_xp(X[:90]), to_xp(y[:90]), X_val=to_xp(X[90:]), y_val=to_xp(y[90:])
    )
    sk = SkRegressor(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X[:90], y[:90])
    assert reg.validation_scores_[-1] == pytest.approx(sk.score(X[90:], y[90:]), rel=1e-8)


callback = pytest.importorskip("sklearn.callback", reason="needs scikit-learn >= 1.9")


def test_scoring_monitor_records_a_score_per_epoch(to_xp) -> None:
    X, y, _, _ = _iris()
    monitor = callback.ScoringMonitor(scoring="accuracy")
    options = dict(hidden_layer_sizes=(5,), random_state=0, learning_rate_init=0.05)
    clf = xpnet.MLPClassifier(max_iter=4, **options)
    clf.set_callbacks(monitor).fit(to_xp(X), to_xp(y))
    entries = [e for e in monitor.get_logs().data if e["task_name"] == "epoch"]
    assert [e["task_id"] for e in entries] == [0, 1, 2, 3]
    for k, entry in enumerate(entries, start=1):  # the model after k epochs, scored on X
        sk = SkClassifier(max_iter=k, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk.fit(X, y)
        assert entry["accuracy"] == pytest.approx(sk.score(X, y))


def test_set_callbacks_refuses_what_is_no_callback() -> None:
    with pytest.raises(TypeError, match="callbacks must be instances"):
        xpnet.MLPRegressor().set_callbacks(print)


def test_progress_bar_runs_inside_a_grid_search(capsys) -> None:
    pytest.importorskip("rich", reason="scikit-learn's ProgressBar needs rich (the oracles extra)")
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = _iris()
    clf = xpnet.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    search = GridSearchCV(clf, {"alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(callback.ProgressBar())
    search.fit(X, y)
    assert search.best_estimator_.n_iter_ == 3


def test_validation_rows_go_through_a_pipeline_scaler() -> None:
    """scikit-learn's transform_input=["X_val"]: the scaler fitted on the training rows
    transforms X_val before the estimator sees it."""
    from sklearn.pipeline import Pipeline

    X, y, Xv, yv = _iris()
    X, Xv = X * 3 + 1, Xv * 3 + 1  # not standardized: the scaler has work to do
    with sklearn.config_context(enable_metadata_routing=True):
        clf = xpnet.MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
        clf.set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", clf)], transform_input=["X_val"])
        pipe.fit(X, y, X_val=Xv, y_val=yv)
    scaler = StandardScaler().fit(X)
    direct = xpnet.MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(
        scaler.transform(X), y, X_val=scaler.transform(Xv), y_val=yv
    )
    assert pipe[-1].validation_scores_ == direct.validation_scores_
    assert pipe[-1].validation_loss_curve_ == direct.validation_loss_curve_


def test_callbacks_inside_a_pipeline() -> None:
    from sklearn.pipeline import make_pipeline

    X, y, _, _ = _iris()
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = xpnet.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf.set_callbacks(monitor)).fit(X * 3 + 1, y)
    epochs = [e for e in monitor.get_logs().data if e["task_name"] == "epoch"]
    assert len(epochs) == 3
    assert pipe[-1].n_iter_ == 3


def test_with_an_older_scikit_learn_set_callbacks_names_the_version() -> None:
    """Without sklearn.callback (scikit-learn < 1.9) the estimators fit, and set_callbacks
    says which version it needs."""
    import subprocess
    import sys

    code = (
        # scikit-learn 1.9 itself imports its callbacks: load what xpnet needs of it, then
        # make sklearn.callback unimportable, as in an older scikit-learn
        "import sys, sklearn.metrics, sklearn.model_selection, sklearn.preprocessing\n"
        "import sklearn.utils.class_weight, sklearn.utils.metaestimators\n"
        "sys.modules['sklearn.callback'] = None\n"
        "import numpy as np, xpnet, warnings; warnings.simplefilter('ignore')\n"
        "X = np.random.default_rng(0).standard_normal((30, 3)); y = np.arange(30) % 2\n"
        "clf = xpnet.MLPClassifier(max_iter=3).fit(X, y)\n"
        "try:\n    clf.set_callbacks(object())\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "scikit-learn 1.9" in result.stdout
