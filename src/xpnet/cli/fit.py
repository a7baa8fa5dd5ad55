"""``python -m xpnet fit``: an MLPClassifier or MLPRegressor on the user's own data.

Examples::

    python -m xpnet fit wine.csv --target cultivar --save wine.safetensors
    python -m xpnet fit data.csv --target label --drop id --hidden 64,32 --backend torch
    python -m xpnet fit data.npz --solver sgd --no-scale

A CSV file has a header row; the features are every column but the target (or those of
``--features``, less those of ``--drop``), all numeric. An ``.npz`` file holds the arrays
``X`` and ``y``. The features are standardized (scikit-learn's ``StandardScaler``, fitted
on the training rows) unless ``--no-scale``; the scaler is saved in the model file with
the network, and ``predict`` applies it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._data import labels, numeric_columns, read_npz, read_table, separator
from ._options import (
    UsageError,
    add_placement,
    check_placement,
    plain,
    readable_file,
    resolve_backend,
    threads,
    warn,
    writable_file,
)

__all__ = ["add_parser", "run"]


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,32, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 64,32, got {text!r}")
    return sizes


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected column names like a,b,c, got {text!r}")
    return names


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fit`` to ``python -m xpnet``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fit",
        help="fit an MLPClassifier or MLPRegressor on a CSV or .npz file",
        description=plain(__doc__),
    )
    parser.add_argument(
        "data", metavar="DATA", type=Path, help="a CSV file with a header, or .npz with X and y"
    )
    columns = parser.add_argument_group("the data's columns (CSV)")
    columns.add_argument("--target", help="the column to predict (required for CSV)")
    columns.add_argument(
        "--features", type=_names, default=None, help="the feature columns, e.g. a,b,c "
        "(default: every column but the target)"
    )  # fmt: skip
    columns.add_argument(
        "--drop", type=_names, default=None, help="columns to leave out, e.g. id,date"
    )
    columns.add_argument("--sep", type=separator, default=",", help="the column separator")
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: classification for text or integer targets with few values, else regression",
    )
    parser.add_argument(
        "--no-scale",
        action="store_true",
        help="keep the features as they are (by default they are standardized to mean 0 and "
        "variance 1 on the training rows, and the scaler is saved with the model)",
    )
    model = parser.add_argument_group("the estimator (scikit-learn's parameters)")
    model.add_argument("--hidden", type=_sizes, default=(100,), help="hidden layer sizes")
    model.add_argument(
        "--activation",
        default="relu",
        choices=("relu", "tanh", "logistic", "identity"),
        help="hidden activation",
    )
    model.add_argument(
        "--solver", default="adam", choices=("adam", "sgd", "lbfgs"), help="the optimizer"
    )
    model.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    model.add_argument(
        "--batch-size", type=_batch_size, default="auto", help="auto: min(200, samples)"
    )
    model.add_argument(
        "--learning-rate",
        default="constant",
        choices=("constant", "invscaling", "adaptive"),
        help="schedule (sgd)",
    )
    model.add_argument("--learning-rate-init", type=float, default=1e-3, help="step size")
    model.add_argument("--max-iter", type=int, default=200, help="most epochs")
    model.add_argument("--tol", type=float, default=1e-4, help="least improvement that counts")
    model.add_argument(
        "--n-iter-no-change", type=int, default=10, help="epochs without improvement to stop"
    )
    model.add_argument("--momentum", type=float, default=0.9, help="momentum (sgd)")
    model.add_argument(
        "--early-stopping", action="store_true", help="stop on the score of a held-out share"
    )
    model.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the rows held out and scored after the fit (or by --early-stopping); "
        "0: none",
    )
    model.add_argument(
        "--loss",
        default="squared_error",
        choices=("squared_error", "poisson"),
        help="regression loss",
    )
    model.add_argument("--random-state", type=int, default=0, help="seed of weights and order")
    parser.add_argument("--save", metavar="FILE", type=Path, help="write the model (safetensors)")
    parser.add_argument(
        "--resume",
        metavar="MODEL",
        type=Path,
        help="continue a run saved by fit --save: --max-iter more epochs exactly where it "
        "stopped (the file's own scaler, hyperparameters and optimizer state; the estimator "
        "options above are not used)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_placement(parser)
    return parser


# --- the data --------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """``X``, ``y`` and the feature names (None for .npz) of DATA, as the options choose."""
    if args.data.suffix == ".npz":
        for option in ("target", "features", "drop"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option}: applies to CSV files; an .npz holds X and y")
        X, y = read_npz(args.data, need_y=True)
        assert y is not None
        return X, y, None
    table = read_table(args.data, args.sep)
    if args.target is None:
        raise UsageError(
            f"--target: name the column to predict (columns: {', '.join(table.header)})"
        )
    for option in ("target", "features", "drop"):
        wanted = getattr(args, option)
        for name in [wanted] if isinstance(wanted, str) else wanted or []:
            if name not in table.header:
                raise UsageError(
                    f"--{option}: no column {name!r} in DATA (columns: {', '.join(table.header)})"
                )
    if args.features is not None and args.target in args.features:
        raise UsageError(f"--features: {args.target!r} is the target; it cannot be a feature")
    chosen = args.features if args.features is not None else table.header
    features = [c for c in chosen if c != args.target and c not in (args.drop or [])]
    if not features:
        raise UsageError("DATA: no feature column is left besides the target")
    return numeric_columns(table, features), labels(table, args.target), features


def _is_classification(y: np.ndarray, task: str) -> bool:
    if task != "auto":
        return task == "classification"
    return y.dtype.kind in "Ubi" and (
        y.dtype.kind == "U" or len(np.unique(y)) <= max(20, len(y) // 10)
    )


def _too_few(y: np.ndarray, fraction: float, classify: bool, what: str) -> str | None:
    """Why ``y`` cannot be split into ``fraction`` held out and the rest (None if it can),
    as scikit-learn's ``train_test_split`` would refuse it."""
    n = len(y)
    held = math.ceil(fraction * n)
    kept = n - held
    if held < 1 or kept < 1:
        return f"{n} rows leave {kept} to fit and {held} to hold out"
    if classify:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and (held < len(counts) or kept < len(counts)):
            return (
                f"{n} rows: holding out {held} for {what} leaves too few to have each of "
                f"the {len(counts)} classes on both sides"
            )
    return None


def _split(
    X: np.ndarray, y: np.ndarray, args: argparse.Namespace, classify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Training rows and held-out rows (None when ``--validation-fraction 0``)."""
    fraction = args.validation_fraction
    if not 0 <= fraction < 1:
        raise UsageError(f"--validation-fraction: must be in [0, 1), got {fraction}")
    hint = "use --validation-fraction 0 to fit on every row (no validation score)"
    if args.early_stopping:
        problem = _too_few(y, fraction, classify, "--early-stopping")
        if problem:
            raise UsageError(f"DATA: {problem}; drop --early-stopping")
        return X, y, None, None
    if fraction == 0:
        return X, y, None, None
    problem = _too_few(y, fraction, classify, f"--validation-fraction {fraction:g}")
    if problem:
        raise UsageError(f"DATA: {problem}; {hint}")
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1]
    stratify = y if classify and counts.min() >= 2 else None
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=fraction, random_state=args.random_state, stratify=stratify
    )
    if len(y_val) < 10:
        warn(
            f"DATA: only {len(y_val)} rows are held out for validation, so its score says "
            "little; --validation-fraction 0 fits on every row"
        )
    return X_fit, y_fit, X_val, y_val


# --- progress: the one place that hooks into the estimator's epochs -------------------------


class _Progress:
    """A tqdm bar over the epochs with the running loss."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (a log file, a pipe)
        self.bar = tqdm(
            total=total, unit="epoch", disable=None if enabled else True, file=sys.stderr
        )

    def __call__(self, n_iter: int, loss: float) -> None:
        self.bar.update(n_iter - self.bar.n)
        self.bar.set_postfix(loss=f"{loss:.6g}")

    def close(self) -> None:
        self.bar.close()

    # scikit-learn's callback protocol (sklearn.callback.FitCallback): the estimators call
    # these around the fit and each epoch (each L-BFGS iteration)
    def setup(self, estimator: Any, context: Any) -> None:
        pass

    def teardown(self, estimator: Any, context: Any) -> None:
        pass

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        pass

    def on_fit_task_end(self, estimator: Any, context: Any) -> bool:
        if context.task_name == "epoch":
            loss = estimator.loss_curve_[-1] if getattr(estimator, "loss_curve_", None) else None
            self.bar.update(estimator.n_iter_ - self.bar.n)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.6g}")
        return False


@contextlib.contextmanager
def _progress(model: Any, total: int, enabled: bool) -> Iterator[None]:
    """Show the estimator's epochs as a progress bar while the block runs, through
    scikit-learn's public callbacks (``set_callbacks``, scikit-learn >= 1.9), else through
    the estimators' epoch hook."""
    bar = _Progress(total, enabled)
    public = importlib.util.find_spec("sklearn.callback") is not None
    if public:
        model.set_callbacks(bar)
    else:
        model._epoch_callback = bar
    try:
        yield
    finally:
        bar.close()
        if public:
            model.set_callbacks()
        else:
            del model._epoch_callback


# --- the command -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Fit, print the summary and the warnings, save; 0 on success."""
    backend = resolve_backend(args.backend)
    readable_file(args.data, "DATA")
    if args.save is not None:
        writable_file(args.save, "--save")
    if args.early_stopping and args.solver == "lbfgs":
        raise UsageError("--early-stopping: works with --solver sgd or adam, not lbfgs")
    check_placement(backend, args.device, args.dtype)
    X, y, names = _load(args)
    classify = _is_classification(y, args.task)
    if not classify and y.dtype.kind == "U":
        raise UsageError("--task: regression needs a numeric target")
    if classify and len(np.unique(y)) < 2:
        raise UsageError(f"DATA: the target has one class only ({np.unique(y)[0]!r})")
    X_fit, y_fit, X_val, y_val = _split(X, y, args, classify)
    if args.resume is not None:
        return _resume(args, backend, (X_fit, y_fit, X_val, y_val), names)
    scaler = None
    if not args.no_scale:
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(X_fit)
        X_fit = scaler.transform(X_fit)
        X_val = None if X_val is None else scaler.transform(X_val)
    model = _estimator(args, classify)

    def put(data: np.ndarray) -> Any:
        from ..backends import asarray

        return asarray(data, backend=backend, dtype=args.dtype, device=args.device)

    with threads(args.threads, backend):
        start = time.perf_counter()
        with (
            warnings.catch_warnings(record=True) as caught,
            _progress(model, args.max_iter, enabled=not args.no_progress),
        ):
            warnings.simplefilter("always")
            model.fit(put(X_fit), y_fit)
        seconds = time.perf_counter() - start
        train_score = model.score(put(X_fit), y_fit)
        val_score = None if X_val is None else model.score(put(X_val), y_val)
    if args.early_stopping:
        val_score = model.best_validation_score_
    for message in dict.fromkeys(str(w.message).strip().splitlines()[0] for w in caught):
        warn(message)  # scikit-learn's own warnings (batch_size clipped, not converged, ...)
    scores = (train_score, val_score, y_val if y_val is not None else y_fit)
    print(_summary(model, scaler, X_fit.shape, scores, args, backend, seconds), flush=True)
    _warn_near_chance(model, *scores, scaled=scaler is not None)
    if args.save is not None:
        from ..io import save

        if names is not None:
            model.feature_names_in_ = np.asarray(names, dtype=object)
            if scaler is not None:
                scaler.feature_names_in_ = np.asarray(names, dtype=object)
        saved: Any = model
        if scaler is not None:
            from sklearn.pipeline import Pipeline

            saved = Pipeline([("scale", scaler), ("model", model)])
        try:
            print(f"saved       {save(args.save, saved)}")
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--save: {str(exc).split(': ', 1)[-1]}") from None
    return 0


def _resume(
    args: argparse.Namespace, backend: str, data: tuple[Any, ...], names: list[str] | None
) -> int:
    """``--resume MODEL``: ``--max-iter`` more epochs of the saved run (one ``partial_fit``
    each, which continues the saved optimizer state exactly), the summary, ``--save``."""
    from sklearn.pipeline import Pipeline

    from ..io import load, save

    readable_file(args.resume, "--resume")
    try:
        saved = load(args.resume, backend=backend, device=args.device, dtype=args.dtype)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--resume: {str(exc).split(': ', 1)[-1]}") from None
    scaler, model = None, saved
    if isinstance(saved, Pipeline):
        scaler, model = (saved[0] if len(saved) > 1 else None), saved[-1]
    if not hasattr(model, "partial_fit"):
        raise UsageError("--resume: an L-BFGS model has no epochs to continue; fit it again")
    X_fit, y_fit, X_val, y_val = data
    if scaler is not None:
        X_fit = scaler.transform(X_fit)
        X_val = None if X_val is None else scaler.transform(X_val)
    if X_fit.shape[1] != model.n_features_in_:
        raise UsageError(
            f"DATA: has {X_fit.shape[1]} features, the model in --resume was fitted on "
            f"{model.n_features_in_}"
        )

    def put(values: np.ndarray) -> Any:
        from ..backends import asarray

        return asarray(values, backend=backend, dtype=args.dtype, device=args.device)

    before = model.loss_
    bar = _Progress(args.max_iter, not args.no_progress)
    with threads(args.threads, backend), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        X_on, y_on = put(X_fit), y_fit
        for epoch in range(args.max_iter):
            model.partial_fit(X_on, y_on)
            bar(epoch + 1, model.loss_)
        seconds = time.perf_counter() - start
        bar.close()
        train_score = model.score(X_on, y_fit)
        val_score = None if X_val is None else model.score(put(X_val), y_val)
    for message in dict.fromkeys(str(w.message).strip().splitlines()[0] for w in caught):
        warn(message)
    metric = "accuracy" if hasattr(model, "classes_") else "R^2"
    lines = [
        f"resumed     {args.resume}: {type(model).__name__}(hidden_layer_sizes="
        f"{tuple(model.hidden_layer_sizes)}, solver={model.solver!r}) on {backend}",
        f"loss        {before:.6g} -> {model.loss_:.6g} after {args.max_iter} more epochs "
        f"({model.t_} samples seen in all)",
        f"train       {metric} {train_score:.4f}",
    ]
    if val_score is not None:
        lines.append(
            f"validation  {metric} {val_score:.4f} ({args.validation_fraction:g} held out)"
        )
    lines.append(f"time        {seconds:.2f} s")
    print("\n".join(lines), flush=True)
    if args.save is not None:
        if names is not None:
            model.feature_names_in_ = np.asarray(names, dtype=object)
        print(f"saved       {save(args.save, saved)}")
    return 0


def _estimator(args: argparse.Namespace, classify: bool) -> Any:
    from ..estimators import MLPClassifier, MLPRegressor

    options = dict(
        hidden_layer_sizes=args.hidden,
        activation=args.activation,
        solver=args.solver,
        alpha=args.alpha,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        learning_rate_init=args.learning_rate_init,
        max_iter=args.max_iter,
        tol=args.tol,
        n_iter_no_change=args.n_iter_no_change,
        momentum=args.momentum,
        early_stopping=args.early_stopping,
        validation_fraction=args.validation_fraction if args.early_stopping else 0.1,
        random_state=args.random_state,
    )
    return MLPClassifier(**options) if classify else MLPRegressor(loss=args.loss, **options)


def _stopped(model: Any, args: argparse.Namespace) -> str:
    """Why the fit ended."""
    if model.n_iter_ >= args.max_iter:
        return f"at --max-iter {args.max_iter} (not converged: raise --max-iter)"
    if args.solver == "lbfgs":
        return f"L-BFGS converged after {model.n_iter_} iterations (--tol {args.tol:g})"
    watched = "validation score" if args.early_stopping else "training loss"
    return (
        f"after {model.n_iter_} epochs: the {watched} did not improve by --tol {args.tol:g} "
        f"for --n-iter-no-change {args.n_iter_no_change} epochs"
    )


def _summary(
    model: Any,
    scaler: Any,
    shape: tuple[int, ...],
    scores: tuple[float, float | None, np.ndarray],
    args: argparse.Namespace,
    backend: str,
    seconds: float,
) -> str:
    from ..backends import to_numpy

    train_score, val_score, _ = scores
    classify = hasattr(model, "classes_")
    metric = "accuracy" if classify else "R^2"
    curve = getattr(model, "loss_curve_", None)
    first = f"{curve[0]:.6g} -> " if curve else ""
    what = f"{shape[0]} samples x {shape[1]} features"
    if classify:
        what += f", {len(to_numpy(model.classes_))} classes"
    place = f" ({args.device})" if args.device is not None else ""
    lines = [
        f"model       {type(model).__name__}(hidden_layer_sizes={tuple(args.hidden)}, "
        f"solver={args.solver!r}) on {backend}{place}, {args.dtype}",
    ]
    if args.given:
        lines.append(f"options     {' '.join(args.given)}")
    lines += [
        f"data        {what}",
        "scaling     "
        + (
            "none (--no-scale)"
            if scaler is None
            else "standardized (StandardScaler on the training rows; saved with the model)"
        ),
        f"loss        {first}{model.loss_:.6g} after {model.n_iter_} iterations",
        f"stopped     {_stopped(model, args)}",
        f"train       {metric} {train_score:.4f}",
    ]
    if val_score is not None:
        source = (
            "early-stopping holdout"
            if args.early_stopping
            else f"{args.validation_fraction:g} held out"
        )
        lines.append(f"validation  {metric} {val_score:.4f} ({source})")
    lines.append(f"time        {seconds:.2f} s")
    return "\n".join(lines)


def _warn_near_chance(
    model: Any, train_score: float, val_score: Any, y: np.ndarray, *, scaled: bool
) -> None:
    """Warn when the score is close to what a model that learned nothing gets."""
    advice = "try more --max-iter, another --learning-rate-init" + (
        "" if scaled else " or scaling (leave out --no-scale)"
    )
    score = train_score if val_score is None else val_score
    which = "training" if val_score is None else "validation"
    if hasattr(model, "classes_"):
        _, counts = np.unique(y, return_counts=True)
        chance = counts.max() / counts.sum()
        if score < chance + 0.1 * (1 - chance):
            warn(
                f"the {which} accuracy {score:.4f} is near chance ({chance:.4f} by always "
                f"predicting the most frequent class): the model learned little; {advice}"
            )
    elif score < 0.1:
        warn(
            f"the {which} R^2 {score:.4f} is near chance (0 by always predicting the mean): "
            f"the model learned little; {advice}"
        )
