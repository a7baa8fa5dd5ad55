"""scikit-learn's MLPClassifier configured as xpnet's SGD: the reference to beat."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def make_classifier(hidden: int, batch_size: int | None, n: int, lr: float, epochs: int) -> Any:
    """Plain SGD: no momentum, no L2 penalty, constant rate, no early stopping or tolerance,
    shuffled sample indices each epoch (gathered per batch, as xpnet does)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=n if batch_size is None else batch_size,
        learning_rate="constant",
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        early_stopping=False,
        warm_start=True,
        random_state=0,
    )


def _initialise(clf: Any, X: np.ndarray, y: np.ndarray) -> None:
    """Create the model's attributes with a one-epoch fit on a few samples of every class, so
    that the timed ``fit`` calls (``warm_start``) start from weights we set."""
    sample = np.concatenate([np.unique(y, return_index=True)[1], np.arange(min(32, len(y)))])
    max_iter = clf.max_iter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.set_params(max_iter=1)
        clf.fit(X[sample], y[sample])
    clf.set_params(max_iter=max_iter)


def sklearn_trainer(X: np.ndarray, y: np.ndarray, params: Any, *, workload: Any) -> Any:
    """A function that trains ``workload.epochs`` epochs with ``MLPClassifier.fit`` from
    ``params`` (set as ``coefs_``/``intercepts_`` of a warm-started model)."""
    from sklearn.exceptions import ConvergenceWarning

    w = workload
    clf = make_classifier(w.hidden, w.batch_size, w.n, w.lr, w.epochs)
    initial = [np.array(p, copy=True) for p in params]

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not hasattr(clf, "coefs_"):
                _initialise(clf, X, y)
                clf.set_params(max_iter=w.epochs)
            clf.coefs_ = [initial[0].copy(), initial[2].copy()]
            clf.intercepts_ = [initial[1].copy(), initial[3].copy()]
            clf.fit(X, y)
        return clf

    return run


def sklearn_same_order_check(X: np.ndarray, y: np.ndarray, params: Any, workload: Any) -> float:
    """Largest parameter difference between scikit-learn and xpnet after 3 unshuffled epochs
    from the same weights: shows that both do the same arithmetic (up to sklearn's clipping
    of probabilities inside its log-loss)."""
    from sklearn.exceptions import ConvergenceWarning

    from .. import train

    w = workload
    epochs = 3
    clf = make_classifier(w.hidden, w.batch_size, w.n, w.lr, epochs)
    clf.set_params(shuffle=False, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _initialise(clf, X, y)
        clf.set_params(max_iter=epochs)
        clf.coefs_ = [np.array(params[0], copy=True), np.array(params[2], copy=True)]
        clf.intercepts_ = [np.array(params[1], copy=True), np.array(params[3], copy=True)]
        clf.fit(X, y)
    ours, _ = train(X, y, params, epochs=epochs, lr=w.lr, batch_size=w.batch_size, shuffle=False)
    theirs = (clf.coefs_[0], clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1])
    return max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(ours, theirs))
