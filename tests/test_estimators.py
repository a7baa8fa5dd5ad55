"""xpnet.MLPClassifier / MLPRegressor against scikit-learn's own estimators (the oracle).

For the same data, parameters and ``random_state``, every fitted number (loss curve,
weights, intercepts, iteration counts, validation scores, predictions) equals
scikit-learn's to rtol 1e-8 in float64, on every backend: scikit-learn fits on NumPy,
xpnet on the backend under test, and the results are compared on the host.
"""

from __future__ import annotations

import functools
import pickle
import warnings
from typing import Any

import numpy as np
import pytest
import sklearn
import sklearn.neural_network as sk
from helpers import Backend
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_array_api_input, parametrize_with_checks

import xpnet
from xpnet import MLPClassifier, MLPRegressor
from xpnet._compat import array_namespace, device

RTOL = 1e-8


# --- data: tiny, so that the whole file runs in seconds ---------------------------------------


@functools.cache
def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    if name == "multiclass":
        return make_classification(40, 5, n_informative=3, n_classes=3, random_state=0)
    if name == "binary":
        return make_classification(40, 4, random_state=1)
    if name == "multilabel":
        X, _ = make_classification(40, 4, random_state=2)
        return X, (rng.rand(40, 3) > 0.5).astype(np.int64)
    if name == "strings":
        X, y = make_classification(
            40, 4, n_informative=3, n_redundant=1, n_classes=3, random_state=3
        )
        return X, np.array(["setosa", "versicolor", "virginica"])[y]
    if name == "regression":
        X, y = make_regression(40, 4, noise=0.1, random_state=0)
        return X, y / 100.0
    if name == "regression2":
        X, y = make_regression(40, 4, n_targets=2, random_state=1)
        return X, y / 100.0
    if name == "counts":
        X = rng.rand(40, 3)
        return X, rng.poisson(np.exp(X @ np.array([0.5, -0.3, 1.0])))
    raise KeyError(name)


WEIGHTS = np.random.RandomState(7).uniform(0.5, 2.0, 40)

#: (id, estimator, data set, parameters, use sample_weight)
CASES = [
    ("sgd-multiclass", "clf", "multiclass", dict(solver="sgd", batch_size=16), False),
    ("adam-multiclass-2layers", "clf", "multiclass", dict(hidden_layer_sizes=(6, 4)), False),
    ("lbfgs-multiclass", "clf", "multiclass", dict(solver="lbfgs", max_iter=20), False),
    ("adam-binary-tanh", "clf", "binary", dict(activation="tanh"), False),
    ("sgd-binary-logistic", "clf", "binary", dict(solver="sgd", activation="logistic"), False),
    ("lbfgs-binary", "clf", "binary", dict(solver="lbfgs", max_iter=20), False),
    ("adam-multilabel", "clf", "multilabel", dict(batch_size=10), False),
    ("lbfgs-multilabel", "clf", "multilabel", dict(solver="lbfgs", max_iter=15), False),
    ("adam-strings", "clf", "strings", dict(), False),
    ("sgd-invscaling", "clf", "multiclass", dict(solver="sgd", learning_rate="invscaling"), False),
    (
        "sgd-adaptive",
        "clf",
        "multiclass",
        dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=0.05, max_iter=25),
        False,
    ),
    (
        "sgd-momentum-no-nesterov",
        "clf",
        "multiclass",
        dict(solver="sgd", nesterovs_momentum=False),
        False,
    ),
    ("sgd-no-momentum", "clf", "multiclass", dict(solver="sgd", momentum=0.0), False),
    (
        "sgd-no-shuffle",
        "clf",
        "multiclass",
        dict(solver="sgd", shuffle=False, batch_size=7),
        False,
    ),
    ("adam-stop-on-tol", "clf", "binary", dict(tol=0.05, n_iter_no_change=2, max_iter=40), False),
    (
        "adam-early-stopping",
        "clf",
        "multiclass",
        dict(early_stopping=True, validation_fraction=0.25, n_iter_no_change=3, max_iter=30),
        False,
    ),
    ("adam-sample-weight", "clf", "multiclass", dict(alpha=0.01), True),
    ("lbfgs-sample-weight", "clf", "binary", dict(solver="lbfgs", max_iter=15), True),
    ("adam-regression", "reg", "regression", dict(), False),
    ("sgd-regression-2-outputs", "reg", "regression2", dict(solver="sgd"), False),
    ("lbfgs-regression", "reg", "regression2", dict(solver="lbfgs", max_iter=20), False),
    ("adam-poisson", "reg", "counts", dict(loss="poisson"), False),
    (
        "sgd-early-stopping-weighted",
        "reg",
        "regression",
        dict(solver="sgd", early_stopping=True, validation_fraction=0.25, max_iter=20),
        True,
    ),
]

DEFAULTS = dict(hidden_layer_sizes=(5,), max_iter=12, random_state=0, learning_rate_init=0.02)


def _estimators(kind: str) -> tuple[type, type]:
    return (MLPClassifier, sk.MLPClassifier) if kind == "clf" else (MLPRegressor, sk.MLPRegressor)


@functools.cache
def reference(case_id: str) -> Any:
    """scikit-learn's estimator fitted on the case (NumPy float64), computed once."""
    _, kind, data, params, weighted = next(c for c in CASES if c[0] == case_id)
    X, y = dataset(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _estimators(kind)[1](**{**DEFAULTS, **params}).fit(
            X, y, sample_weight=WEIGHTS if weighted else None
        )


def host(x: Any) -> np.ndarray:
    return xpnet.to_numpy(x)


def assert_same_fit(ours: Any, theirs: Any, *, X_ns: Any, X_device: Any) -> None:
    """Every fitted number of ``ours`` equals scikit-learn's; arrays in X's library/device."""
    for name in ("coefs_", "intercepts_"):
        arrays = getattr(ours, name)
        assert isinstance(arrays, list)
        for ours_a, theirs_a in zip(arrays, getattr(theirs, name), strict=True):
            assert array_namespace(ours_a) is X_ns
            assert device(ours_a) == X_device
            np.testing.assert_allclose(host(ours_a), theirs_a, rtol=RTOL, atol=1e-12)
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=RTOL)
    for name in ("loss_curve_", "validation_scores_"):
        if getattr(theirs, name, None) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=RTOL)
        else:
            assert getattr(ours, name, None) is None, name
    for name in ("best_loss_", "best_validation_score_"):
        if getattr(theirs, name, None) is not None:
            assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=RTOL)


@pytest.fixture(autouse=True)
def _not_on_dask(request: pytest.FixtureRequest) -> None:
    """The comparisons here expect the fitted arrays in X's library; on Dask data the model
    lives on the host (NumPy) while the chunks stream through it: its fits are checked
    against the in-memory fit in tests/test_estimators_dask.py, its predictions below."""
    if "backend" in request.fixturenames and request.getfixturevalue("backend").library == "dask":
        pytest.skip("fits on Dask arrays: tests/test_estimators_dask.py")


def test_a_fitted_model_predicts_on_dask_chunk_by_chunk() -> None:
    da = pytest.importorskip("dask.array")
    X_np, y_np = dataset("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = xpnet.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
        model.fit(X_np, y_np)
    X = da.from_array(X_np, chunks=10)
    proba = model.predict_proba(X)
    assert type(proba).__module__.startswith("dask")  # lazy until computed
    np.testing.assert_allclose(np.asarray(proba), model.predict_proba(X_np), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(model.predict(X)), model.predict(X_np))
    bad = X_np.copy()
    bad[13, 2] = np.nan
    with pytest.raises(ValueError, match="X"):  # the value check runs in the graph
        np.asarray(model.predict(da.from_array(bad, chunks=10)))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_equals_scikit_learn(case: tuple, backend: Backend, to_xp: Any) -> None:
    case_id, kind, data, params, weighted = case
    X, y = dataset(data)
    theirs = reference(case_id)
    X_xp = to_xp(X)
    y_xp = y if y.dtype.kind == "U" else to_xp(y)
    weights = to_xp(WEIGHTS) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = _estimators(kind)[0](**{**DEFAULTS, **params}).fit(X_xp, y_xp, weights)
    xp = array_namespace(X_xp)
    assert_same_fit(ours, theirs, X_ns=xp, X_device=device(X_xp))
    predicted = ours.predict(X_xp)
    if y.dtype.kind == "U":
        np.testing.assert_array_equal(predicted, theirs.predict(X))
    else:
        assert array_namespace(predicted) is xp
        np.testing.assert_allclose(host(predicted), theirs.predict(X), rtol=RTOL)
    if kind == "clf":
        proba = ours.predict_proba(X_xp)
        assert array_namespace(proba) is xp
        np.testing.assert_allclose(host(proba), theirs.predict_proba(X), rtol=RTOL, atol=1e-14)
        log_proba = host(ours.predict_log_proba(X_xp))
        np.testing.assert_allclose(log_proba, theirs.predict_log_proba(X), rtol=1e-6)
    assert ours.score(X_xp, y_xp) == pytest.approx(theirs.score(X, y), rel=RTOL)


def test_validation_loss_curve_is_the_loss_on_the_held_out_rows(
    backend: Backend, to_xp: Any
) -> None:
    """Oracle: scikit-learn's ``log_loss`` on the rows ``train_test_split`` holds out after
    the initial draws (multiclass: not stratified, as scikit-learn), plus the L2 term."""
    X, y = dataset("multiclass")
    params = dict(
        hidden_layer_sizes=(5,),
        early_stopping=True,
        validation_fraction=0.25,
        max_iter=4,
        random_state=0,
        learning_rate_init=0.05,
        alpha=0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**params).fit(to_xp(X), to_xp(y))
    assert len(ours.validation_loss_curve_) == len(ours.validation_scores_) == ours.n_iter_ == 4
    assert int(np.argmax(ours.validation_scores_)) == 3  # the kept weights are the last ones
    rng = np.random.RandomState(0)
    for fan_in, fan_out in ((5, 5), (5, 3)):  # the initial weights and intercepts
        rng.uniform(size=(fan_in, fan_out))
        rng.uniform(size=fan_out)
    _, held_out = train_test_split(np.arange(40), random_state=rng, test_size=0.25)
    proba = host(ours.predict_proba(to_xp(X[held_out])))
    penalty = 0.5 * 0.01 * sum(np.sum(host(W) ** 2) for W in ours.coefs_) / len(held_out)
    expected = log_loss(y[held_out], proba, labels=[0, 1, 2]) + penalty
    assert ours.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-10)
    assert ours.validation_scores_[-1] == ours.score(to_xp(X[held_out]), to_xp(y[held_out]))


def _sequence(make: Any, X: Any, y: Any, classes: Any) -> Any:
    """warm_start refits and partial_fit calls, the same on both libraries."""
    warm = make(solver="sgd", warm_start=True, max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        warm.set_params(max_iter=3)
        warm.fit(X, y)
    streaming = make(solver="adam", random_state=np.random.RandomState(3))
    for start in (0, 15, 25):
        streaming.partial_fit(X[start : start + 15, ...], y[start : start + 15], classes=classes)
    adaptive = make(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1)
    for _ in range(3):
        adaptive.partial_fit(X, y, classes=classes)
    return warm, streaming, adaptive


def test_warm_start_and_partial_fit_equal_scikit_learn(backend: Backend, to_xp: Any) -> None:
    X, y = dataset("multiclass")
    ours = _sequence(
        functools.partial(MLPClassifier, (5,), random_state=0), to_xp(X), to_xp(y), [0, 1, 2]
    )
    theirs = _sequence(functools.partial(sk.MLPClassifier, (5,), random_state=0), X, y, [0, 1, 2])
    X_xp = to_xp(X)
    for a, b in zip(ours, theirs):
        assert_same_fit(a, b, X_ns=array_namespace(X_xp), X_device=device(X_xp))


def test_partial_fit_regressor_equals_scikit_learn(backend: Backend, to_xp: Any) -> None:
    X, y = dataset("regression")
    ours = MLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    theirs = sk.MLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    for start in (0, 20):
        ours.partial_fit(to_xp(X[start : start + 20]), to_xp(y[start : start + 20]))
        theirs.partial_fit(X[start : start + 20], y[start : start + 20])
    X_xp = to_xp(X)
    assert_same_fit(ours, theirs, X_ns=array_namespace(X_xp), X_device=device(X_xp))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_trains_in_float32(solver: str, backend: Backend, to_xp: Any) -> None:
    X, y = dataset("multiclass")
    params = {**DEFAULTS, "solver": solver}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**params).fit(to_xp(X, dtype="float32"), to_xp(y))
        theirs = sk.MLPClassifier(**params).fit(X.astype(np.float32), y)
    for W in ours.coefs_ + ours.intercepts_:
        assert str(W.dtype).endswith("float32")
    assert str(ours.predict_proba(to_xp(X, dtype="float32")).dtype).endswith("float32")
    # float32 rounding, not float64 equality: close to scikit-learn's float32 fit
    np.testing.assert_allclose(host(ours.coefs_[0]), theirs.coefs_[0], rtol=1e-3, atol=1e-4)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-4)


# --- scikit-learn's behaviours beyond the numbers ------------------------------------------------


def test_convergence_warning_and_nonfinite_weights() -> None:
    X, y = dataset("multiclass")
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((3,), max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier((3,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    huge = MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow on the way there
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            huge.fit(X * 1e100, X[:, 0] * 1e100)


def test_errors_as_scikit_learn() -> None:
    X, y = dataset("multiclass")
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    clf = MLPClassifier((3,), max_iter=2, random_state=0, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, (y + 1) % 4)
    with pytest.raises(ValueError, match="X has 4 features, but MLPClassifier is expecting 5"):
        clf.predict(X[:, :4])
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPClassifier(early_stopping=True, validation_fraction=0.01).fit(X[:20], y[:20])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(alpha=-1.0), "alpha: must be in"),
        (dict(solver="newton"), "solver: must be one of"),
        (dict(hidden_layer_sizes=(3, 0)), "hidden_layer_sizes: must be > 0"),
        (dict(hidden_layer_sizes="3"), "hidden_layer_sizes: must be an int"),
        (dict(max_iter=1.5), "max_iter: must be an int"),
        (dict(batch_size="all"), "batch_size: must be 'auto' or an int"),
        (dict(momentum=1.5), "momentum: must be in"),
        (dict(early_stopping=None), "early_stopping: must be a bool"),
        (dict(random_state="seed"), "random_state: must be None"),
        (dict(n_iter_no_change=0), "n_iter_no_change: must be in"),
    ],
)
def test_bad_parameters_name_themselves(params: dict, message: str) -> None:
    X, y = dataset("binary")
    with pytest.raises((ValueError, TypeError), match=f"^{message}"):
        MLPClassifier(**params).fit(X, y)


def test_bad_data_names_the_argument(backend: Backend, to_xp: Any) -> None:
    """The same exception type on every backend, its message starting with the argument."""
    X, y = dataset("binary")
    bad = {
        "X": [
            (to_xp(np.where(X > 1.5, np.nan, X)), to_xp(y), None),
            (to_xp(X[:, 0]), to_xp(y), None),
            (to_xp(X[:0]), to_xp(y[:0]), None),
        ],
        "y": [
            (to_xp(X), None, None),
            (to_xp(X), to_xp(y[:10]), None),
        ],
        "sample_weight": [
            (to_xp(X), to_xp(y), to_xp(WEIGHTS[:10])),
            (to_xp(X), to_xp(y), to_xp(np.zeros(40))),
        ],
    }
    for name, calls in bad.items():
        for X_bad, y_bad, weight in calls:
            with pytest.raises(ValueError, match=f"^{name}: "):
                MLPClassifier().fit(X_bad, y_bad, sample_weight=weight)
    with pytest.raises(ValueError, match=r"^y: .*numeric"):
        MLPRegressor().fit(to_xp(X), np.array(["a", "b"] * 20))
    fitted = MLPClassifier((2,), solver="lbfgs", max_iter=3).fit(to_xp(X), to_xp(y))
    with pytest.raises(ValueError, match=r"^X: .*4 features"):
        fitted.predict(to_xp(X[:, :3]))


def test_verbose_prints_scikit_learns_lines(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = dataset("binary")
    params = dict(hidden_layer_sizes=(3,), max_iter=3, random_state=0, verbose=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(**params).fit(X, y)
        ours = capsys.readouterr().out
        sk.MLPClassifier(**params).fit(X, y)
        theirs = capsys.readouterr().out
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    assert ours.count("Iteration") == theirs.count("Iteration") == 3


# --- part of the scikit-learn ecosystem ---------------------------------------------------------


def test_clone_pickle_pipeline_search_cross_validation() -> None:
    X, y = dataset("multiclass")
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=50, random_state=0)
    fitted = clone(clf).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    assert clone(fitted).get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    assert pipe.score(X, y) > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(clf, {"alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
        scores = cross_val_score(
            MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=30),
            *dataset("regression"),
            cv=2,
        )
    assert search.best_params_["alpha"] in (1e-4, 1e-1)
    assert scores.shape == (2,)


def test_pickle_on_backend(backend: Backend, to_xp: Any) -> None:
    X, y = dataset("binary")
    fitted = MLPClassifier((3,), solver="lbfgs", max_iter=10, random_state=0).fit(
        to_xp(X), to_xp(y)
    )
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        host(restored.predict_proba(to_xp(X))), host(fitted.predict_proba(to_xp(X)))
    )


def test_follows_input_without_dispatch(to_xp: Any, backend: Backend) -> None:
    """Fitted on NumPy, predicting on another backend gives that backend's arrays."""
    X, y = dataset("multiclass")
    fitted = MLPClassifier((3,), solver="lbfgs", max_iter=10, random_state=0).fit(X, y)
    X_xp = to_xp(X)
    labels = fitted.predict(X_xp)
    assert array_namespace(labels) is array_namespace(X_xp)
    np.testing.assert_array_equal(host(labels), fitted.predict(X))


#: Checks that fail on purpose, each with its reason.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


@parametrize_with_checks(
    [
        MLPClassifier(hidden_layer_sizes=(10,), learning_rate_init=0.01, random_state=0),
        MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.01, random_state=0),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_scikit_learn_estimator_checks(estimator: Any, check: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("namespace", ["torch", "array_api_strict"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_check_array_api_input(Estimator: type, namespace: str) -> None:
    pytest.importorskip(namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_array_api_input(
            Estimator.__name__,
            Estimator(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
            array_namespace=namespace,
            device_name="CPU_DEVICE" if namespace == "array_api_strict" else "cpu",
            dtype_name="float64",
            check_values=True,
        )


def test_array_api_tag() -> None:
    assert MLPClassifier().__sklearn_tags__().array_api_support
    assert MLPRegressor().__sklearn_tags__().array_api_support
    assert sklearn.get_config()["array_api_dispatch"] is False
