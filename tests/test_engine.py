"""The one training engine behind ``train`` and the estimators.

``train``'s new options (``sample_weight``, ``validation``) checked against the public
gradient and loss functions; the estimators' JAX epochs compiled once per shape bucket, so
that cross-validation folds of different sizes share one compilation.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from helpers import Backend

import xpnet
from xpnet._drivers import row_bucket, step_bucket

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n: int = 60, d: int = 4, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    w = rng.uniform(0.2, 2.0, n)
    return X, y, w


def test_sample_weight_full_batch_is_the_weighted_gradient_step(backend, xp, to_xp) -> None:
    X_np, y_np, w_np = _data()
    X, y, w = to_xp(X_np), to_xp(y_np), to_xp(w_np)
    params = xpnet.init_params(4, 5, 3, xp=xp, seed=1, dtype=X.dtype)
    if backend is Backend.DASK:
        with pytest.raises(TypeError, match=r"^sample_weight: not supported on Dask"):
            xpnet.train(X, y, params, epochs=1, lr=0.3, sample_weight=w)
        return
    trained, history = xpnet.train(X, y, params, epochs=1, lr=0.3, sample_weight=w)
    loss, grads = xpnet.loss_and_grad(X, y, params, sample_weight=w)
    expected = xpnet.sgd_step(params, grads, 0.3)
    assert xpnet.max_relative_error(trained, expected) < 1e-12
    assert history.loss[0] == pytest.approx(float(loss), rel=1e-12)


def test_sample_weight_minibatches_weight_each_batch(backend, xp, to_xp) -> None:
    if backend is Backend.DASK:
        pytest.skip("sample weights on Dask: refused (see the full-batch test)")
    X_np, y_np, w_np = _data(n=30)
    X, y, w = to_xp(X_np), to_xp(y_np), to_xp(w_np)
    params = xpnet.init_params(4, 5, 3, xp=xp, seed=1, dtype=X.dtype)
    trained, history = xpnet.train(
        X, y, params, epochs=1, lr=0.2, batch_size=10, shuffle=False, sample_weight=w
    )
    expected, total = params, 0.0
    for start in range(0, 30, 10):
        rows = slice(start, start + 10)
        loss, grads = xpnet.loss_and_grad(
            to_xp(X_np[rows]), to_xp(y_np[rows]), expected, sample_weight=to_xp(w_np[rows])
        )
        total += float(loss) * w_np[rows].sum()
        expected = xpnet.sgd_step(expected, grads, 0.2)
    assert xpnet.max_relative_error(trained, expected) < 1e-12
    assert history.loss[0] == pytest.approx(total / w_np.sum(), rel=1e-12)


def test_validation_fills_history_with_the_epoch_end_model(xp, to_xp) -> None:
    X_np, y_np, _ = _data(n=40)
    Xv_np, yv_np, _ = _data(n=15, seed=3)
    X, y, Xv, yv = to_xp(X_np), to_xp(y_np), to_xp(Xv_np), to_xp(yv_np)
    params = xpnet.init_layers((4, 6, 3), xp=xp, seed=0, dtype=X.dtype)
    seen = []

    def keep(epoch, model, record):
        seen.append(model)

    _, watched = xpnet.train(
        X,
        y,
        params,
        epochs=3,
        lr=0.1,
        batch_size=8,
        alpha=1e-3,
        validation=(Xv, yv),
        callback=keep,
    )
    _, quiet = xpnet.train(
        X, y, params, epochs=3, lr=0.1, batch_size=8, alpha=1e-3, validation=(Xv, yv)
    )
    assert len(watched.val_loss) == len(watched.val_accuracy) == 3
    for k, model in enumerate(seen):
        expected = float(xpnet.gradcheck.mean_loss(Xv, yv, model, alpha=1e-3))
        accuracy = float(np.mean(xpnet.to_numpy(xpnet.predict(Xv, model)) == yv_np))
        assert watched.val_loss[k] == pytest.approx(expected, rel=1e-9)
        assert quiet.val_loss[k] == pytest.approx(expected, rel=1e-9)
        assert watched.val_accuracy[k] == pytest.approx(accuracy)
        assert quiet.val_accuracy[k] == pytest.approx(accuracy)


def test_validation_must_be_a_pair() -> None:
    X, y, _ = _data(n=10)
    params = xpnet.init_params(4, 3, 3, seed=0)
    with pytest.raises(TypeError, match=r"^validation: expected a tuple"):
        xpnet.train(X, y, params, epochs=1, validation=X)


@contextlib.contextmanager
def _compilations() -> Iterator[list[str]]:
    """The names of JAX's compilations in the block (``"Compiling jit(epoch)"``, ...), from
    its ``log_compiles`` records, in order."""
    import jax

    compiled: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith("Compiling "):
                compiled.append(message.split(" with ")[0])

    handler, logger = Count(), logging.getLogger("jax")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield compiled
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_buckets() -> None:
    assert [step_bucket(s) for s in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 4, 8, 16]
    assert row_bucket(455) == row_bucket(456) == 480
    for n in range(1, 3000, 7):
        assert n <= row_bucket(n) <= n + n / 8 + 1


def test_jax_estimator_compiles_nothing_per_data_set_size() -> None:
    """On the CPU, a JAX fit and predict on a data set of another size (same row bucket)
    compile nothing at all: the checks, padding and label decoding read host views, the
    epochs and the output reuse their padded shapes."""
    Backend.JAX.installed or pytest.skip("needs the [jax] extra")
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("host views exist on the CPU only")
    X_np, y_np, _ = _data(n=91, d=5)
    assert row_bucket(90) == row_bucket(91)
    clf = xpnet.MLPClassifier(
        hidden_layer_sizes=(7,), batch_size=32, max_iter=3, random_state=0
    )  # batch_size="auto" would make the batch (and its compilation) the data set's size

    def fit_predict(n: int) -> None:
        X, y = xpnet.asarray(X_np[:n], backend="jax"), xpnet.asarray(y_np[:n], backend="jax")
        clf.fit(X, y).predict(X)
        clf.predict_proba(xpnet.asarray(X_np[: n - 3], backend="jax"))

    with _compilations() as compiled, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_predict(90)
        first = list(compiled)
        fit_predict(91)  # rows 90 and 91: one bucket (96)
    assert compiled == first, compiled[len(first) :]


def test_jax_estimator_folds_share_one_compiled_epoch() -> None:
    """cross_val_score on JAX input: after one fold's fit, the other folds (455 or 456
    rows) compile no epoch of their own (they reuse the padded shapes)."""
    Backend.JAX.installed or pytest.skip("needs the [jax] extra")
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xj, yj = xpnet.asarray(X, backend="jax"), xpnet.asarray(y, backend="jax")
    train_rows, _ = next(KFold(5).split(X))
    clf = xpnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with _compilations() as compilations, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xj[train_rows], yj[train_rows])
        compiled = [c for c in compilations if c == "Compiling jit(epoch)"]
        first = len(compiled)
        scores = cross_val_score(clf, Xj, yj, cv=5)
        compiled = [c for c in compilations if c == "Compiling jit(epoch)"]
    assert first >= 1  # the fit compiled its epoch (once) ...
    assert len(compiled) == first  # ... and five folds of two sizes compiled none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cross_val_score(clf, X, y, cv=5)
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


# --- the estimators' compile option -------------------------------------------------------------


def _fit_with(compile: str, X, y):
    clf = xpnet.MLPClassifier(
        hidden_layer_sizes=(6,), batch_size=16, max_iter=4, random_state=0, compile=compile
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence; dynamo's notes on array-api-compat
        return clf.fit(X, y)


@pytest.mark.parametrize("mode", ["none", "jit", "epoch"])
def test_estimator_compile_modes_give_the_same_fit(backend, to_xp, mode) -> None:
    """Every compile mode fits the numbers of the default, on every in-memory backend
    (torch's ``"jit"`` is ``torch.compile``: once, on torch, to keep the suite quick)."""
    if backend is Backend.DASK:
        pytest.skip(
            "Dask fits stream chunks eagerly, whatever the mode (tests/test_estimators_dask.py)"
        )
    if mode == "jit" and backend is Backend.TORCH:
        torch = pytest.importorskip("torch")
        if not torch._dynamo.is_dynamo_supported():
            pytest.skip("torch.compile is not supported here")
    X_np, y_np, _ = _data(n=50)
    X, y = to_xp(X_np), to_xp(y_np)
    default, chosen = _fit_with("auto", X, y), _fit_with(mode, X, y)
    assert chosen.n_iter_ == default.n_iter_ == 4
    np.testing.assert_allclose(chosen.loss_curve_, default.loss_curve_, rtol=1e-10)
    for a, b in zip(chosen.coefs_ + chosen.intercepts_, default.coefs_ + default.intercepts_):
        np.testing.assert_allclose(xpnet.to_numpy(a), xpnet.to_numpy(b), rtol=1e-10, atol=1e-13)


def test_estimator_compile_mode_is_checked() -> None:
    X, y, _ = _data(n=20)
    with pytest.raises(ValueError, match=r"^compile: must be one of"):
        xpnet.MLPClassifier(compile="fast").fit(X, y)
    assert xpnet.MLPRegressor(compile="none").get_params()["compile"] == "none"
