"""scikit-learn's MLPClassifier configured as xpnet's training: the reference to beat."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def make_classifier(workload: Any, epochs: int) -> Any:
    """The workload's network and optimizer: plain SGD (no momentum, constant rate) or Adam
    (scikit-learn's defaults ``beta_1=0.9, beta_2=0.999, epsilon=1e-8``, as xpnet's); no L2
    penalty, no early stopping or tolerance, shuffled sample indices each epoch (gathered
    per batch, as xpnet does)."""
    from sklearn.neural_network import MLPClassifier

    w = workload
    return MLPClassifier(
        hidden_layer_sizes=w.sizes[1:-1],
        activation="relu",
        solver=w.optimizer,
        alpha=0.0,
        batch_size=w.n if w.batch_size is None else w.batch_size,
        learning_rate="constant",
        learning_rate_init=w.lr,
        momentum=0.0,
        nesterovs_momentum=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
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


def _set_weights(clf: Any, arrays: list[np.ndarray]) -> None:
    """``coefs_`` and ``intercepts_`` from the flat list ``[W1, b1, W2, b2, ...]`` (copies)."""
    clf.coefs_ = [np.array(a, copy=True) for a in arrays[0::2]]
    clf.intercepts_ = [np.array(a, copy=True) for a in arrays[1::2]]


def sklearn_trainer(X: np.ndarray, y: np.ndarray, arrays: list[Any], *, workload: Any) -> Any:
    """A function that trains ``workload.epochs`` epochs with ``MLPClassifier.fit`` from the
    initial weights ``arrays`` (``[W1, b1, W2, b2, ...]``, set as ``coefs_``/``intercepts_``
    of a warm-started model; Adam starts afresh in each ``fit``, as xpnet's ``train``)."""
    from sklearn.exceptions import ConvergenceWarning

    w = workload
    clf = make_classifier(w, w.epochs)
    initial = [np.asarray(a, dtype=w.dtype) for a in arrays]

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not hasattr(clf, "coefs_"):
                _initialise(clf, X, y)
                clf.set_params(max_iter=w.epochs)
            _set_weights(clf, initial)
            clf.fit(X, y)
        return clf

    return run


def sklearn_same_order_check(
    X: np.ndarray, y: np.ndarray, params: Any, workload: Any, options: dict[str, Any]
) -> float:
    """Largest parameter difference between scikit-learn and xpnet (``train(**options)``)
    after 3 unshuffled epochs from the same weights: shows that both do the same arithmetic
    (up to sklearn's clipping of probabilities inside its log-loss)."""
    from sklearn.exceptions import ConvergenceWarning

    from .. import train

    w = workload
    epochs = 3
    clf = make_classifier(w, epochs)
    clf.set_params(shuffle=False, max_iter=1)
    arrays = [a for p in params for a in (p if isinstance(p, tuple) else (p,))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _initialise(clf, X, y)
        clf.set_params(max_iter=epochs)
        _set_weights(clf, [np.asarray(a) for a in arrays])
        clf.fit(X, y)
    ours, _ = train(X, y, params, epochs=epochs, batch_size=w.batch_size, shuffle=False, **options)
    ours_flat = [a for p in ours for a in (p if isinstance(p, tuple) else (p,))]
    theirs = [a for pair in zip(clf.coefs_, clf.intercepts_) for a in pair]
    return max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(ours_flat, theirs))
