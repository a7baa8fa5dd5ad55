"""Sparse input: SciPy CSR/CSC matrices and arrays fit and predict on the NumPy backend
without densifying the matrix (rows are taken a batch at a time and multiplied as they
are), with the dense fit's numbers and scikit-learn's sparse fit's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import xpnet

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FORMATS = [sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.csc_array]


class NeverDense(sp.csr_matrix):
    """A CSR matrix that refuses to become dense: the fit must not densify it."""

    def toarray(self, *args, **kwargs):
        raise AssertionError("the whole sparse matrix was densified")

    todense = toarray


def _data(n: int = 240, d: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[X < 1.0] = 0.0  # about 84% zeros
    return X, rng.integers(0, 3, n), X @ rng.standard_normal(d) / 5


def _close(ours, theirs, rtol):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(xpnet.to_numpy(a), b, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_classifier_sparse_equals_dense_and_scikit_learn(solver, fmt) -> None:
    X, y, _ = _data()
    options = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0, max_iter=12)
    sparse = xpnet.MLPClassifier(**options).fit(fmt(X), y)
    dense = xpnet.MLPClassifier(**options).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkClassifier(**options).fit(fmt(X), y)
    _close(sparse.coefs_, [xpnet.to_numpy(W) for W in dense.coefs_], 1e-10)
    _close(sparse.coefs_, theirs.coefs_, 1e-8)
    np.testing.assert_allclose(sparse.loss_curve_ if solver != "lbfgs" else [sparse.loss_],
                               theirs.loss_curve_ if solver != "lbfgs" else [theirs.loss_],
                               rtol=1e-8)  # fmt: skip
    np.testing.assert_allclose(
        sparse.predict_proba(fmt(X)), dense.predict_proba(X), rtol=1e-10, atol=1e-15
    )


def test_regressor_sparse_equals_dense() -> None:
    X, _, t = _data(seed=1)
    options = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=10)
    sparse = xpnet.MLPRegressor(**options).fit(sp.csr_array(X), t)
    dense = xpnet.MLPRegressor(**options).fit(X, t)
    theirs = SkRegressor(**options).fit(sp.csr_array(X), t)
    _close(sparse.coefs_, [xpnet.to_numpy(W) for W in dense.coefs_], 1e-10)
    _close(sparse.coefs_, theirs.coefs_, 1e-8)
    np.testing.assert_allclose(sparse.predict(sp.csr_array(X)), dense.predict(X), rtol=1e-10)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_matrix_is_never_densified(early_stopping) -> None:
    X, y, _ = _data()
    clf = xpnet.MLPClassifier(
        hidden_layer_sizes=(5,), max_iter=3, random_state=0, early_stopping=early_stopping
    )
    clf.fit(NeverDense(X), y)
    assert clf.predict(NeverDense(X)).shape == (240,)
    if not early_stopping:
        clf.partial_fit(NeverDense(X), y)


def test_torch_sparse_tensors_are_a_clear_type_error() -> None:
    torch = pytest.importorskip("torch", reason="needs the [torch] extra")
    X, y, _ = _data()
    with pytest.raises(TypeError, match=r"^X: torch sparse tensors"):
        xpnet.MLPClassifier(max_iter=2).fit(torch.asarray(X).to_sparse(), torch.asarray(y))
