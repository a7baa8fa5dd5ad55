"""``python -m xpnet fit`` and ``python -m xpnet predict``: the estimators on the user's own data.

Examples::

    python -m xpnet fit data.csv --target species --hidden 64,32 --save model.safetensors
    python -m xpnet fit data.npz --solver sgd --backend torch --device cuda
    python -m xpnet predict model.safetensors new.csv --output predictions.csv

A CSV file has a header row; every column but the target must be numeric. An ``.npz``
file holds the arrays ``X`` and ``y``. Bad input (a missing column, a non-numeric feature,
NaN, an empty file, a wrong feature count) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .backends import BACKENDS, asarray, canonical_backend, to_numpy


class UsageError(ValueError):
    """Bad input from the user: reported as one line, exit code 2."""


# --- reading data ----------------------------------------------------------------------------


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file (``DATA: ...`` errors for what is not a table)."""
    if not path.is_file():
        raise UsageError(f"DATA: no such file {str(path)!r}")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise UsageError(f"DATA: {str(path)!r} is empty")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    header = [name.strip() for name in rows[0]]
    body = rows[1:]
    if not body:
        raise UsageError(f"DATA: {str(path)!r} has a header but no rows")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UsageError(
                f"DATA: line {number} of {str(path)!r} has {len(row)} fields, "
                f"the header has {len(header)}"
            )
    return header, body


def _numeric_column(values: list[str], name: str) -> np.ndarray:
    out = np.empty(len(values))
    for i, text in enumerate(values):
        try:
            out[i] = float(text)
        except ValueError:
            raise UsageError(
                f"DATA: column {name!r} is not numeric (line {i + 2}: {text!r})"
            ) from None
        if not math.isfinite(out[i]):
            raise UsageError(
                f"DATA: column {name!r} has a missing, NaN or infinite value (line {i + 2})"
            )
    return out


def _features(header: list[str], rows: list[list[str]], columns: list[str]) -> np.ndarray:
    where = {name: i for i, name in enumerate(header)}
    return np.stack([_numeric_column([row[where[c]] for row in rows], c) for c in columns], axis=1)


def _labels(values: list[str]) -> np.ndarray:
    """The target column: numbers when every value is one, else the strings."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        if any(not v.strip() for v in values):
            raise UsageError("DATA: the target column has an empty value") from None
        return np.array([v.strip() for v in values])
    if not np.all(np.isfinite(numbers)):
        raise UsageError("DATA: the target column has a missing, NaN or infinite value")
    if np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


def _load_fit_data(
    path: Path, target: str | None
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """``X``, ``y`` and the feature names (None for .npz) of a data file."""
    if path.suffix == ".npz":
        if not path.is_file():
            raise UsageError(f"DATA: no such file {str(path)!r}")
        try:
            with np.load(path, allow_pickle=False) as archive:
                X, y = np.asarray(archive["X"], dtype=float), np.asarray(archive["y"])
        except KeyError:
            raise UsageError(f"DATA: {str(path)!r} must hold the arrays 'X' and 'y'") from None
        except ValueError as exc:
            raise UsageError(f"DATA: {str(path)!r} is not a readable .npz file ({exc})") from None
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[0] != y.shape[0]:
            raise UsageError(
                f"DATA: X must be (n, d) with n > 0 rows like y, got {X.shape} and {y.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise UsageError("DATA: X has NaN or infinite values")
        return X, y, None
    header, rows = _read_table(path)
    if target is None:
        raise UsageError("--target: name the column to predict (CSV data)")
    if target not in header:
        raise UsageError(f"--target: no column {target!r} in DATA (columns: {', '.join(header)})")
    features = [c for c in header if c != target]
    if not features:
        raise UsageError("DATA: there is no feature column besides the target")
    y = _labels([row[header.index(target)] for row in rows])
    return _features(header, rows, features), y, features


# --- the commands ----------------------------------------------------------------------------


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,32, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 64,32, got {text!r}")
    return sizes


def _batch_size(text: str) -> int | str:
    return text if text == "auto" else int(text)


class _Parser(argparse.ArgumentParser):
    """argparse, except that a bad option is one line on stderr (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog.split()[-1]}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m xpnet", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    fit = commands.add_parser("fit", help="fit an MLPClassifier or MLPRegressor on a data file")
    fit.add_argument(
        "data", metavar="DATA", type=Path, help="a CSV file with a header, or .npz with X and y"
    )
    fit.add_argument("--target", help="the CSV column to predict")
    fit.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: classification for text or integer targets, else regression",
    )
    fit.add_argument(
        "--hidden", type=_sizes, default=(100,), help="hidden layer sizes, e.g. 64,32"
    )
    fit.add_argument(
        "--activation", default="relu", choices=("relu", "tanh", "logistic", "identity")
    )
    fit.add_argument("--solver", default="adam", choices=("adam", "sgd", "lbfgs"))
    fit.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty (default 1e-4)")
    fit.add_argument("--batch-size", type=_batch_size, default="auto")
    fit.add_argument(
        "--learning-rate", default="constant", choices=("constant", "invscaling", "adaptive")
    )
    fit.add_argument("--learning-rate-init", type=float, default=1e-3)
    fit.add_argument("--max-iter", type=int, default=200)
    fit.add_argument("--tol", type=float, default=1e-4)
    fit.add_argument("--n-iter-no-change", type=int, default=10)
    fit.add_argument("--momentum", type=float, default=0.9)
    fit.add_argument("--early-stopping", action="store_true", help="stop on a held-out score")
    fit.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="held-out share scored after the fit (and used by --early-stopping); 0: none",
    )
    fit.add_argument("--loss", default="squared_error", choices=("squared_error", "poisson"))
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--save", metavar="FILE", type=Path, help="write the model (safetensors)")
    fit.add_argument("--no-progress", action="store_true", help="no progress bar")
    _placement(fit)
    predict = commands.add_parser("predict", help="predict with a saved model, as CSV")
    predict.add_argument("model", metavar="MODEL", type=Path, help="a file written by fit --save")
    predict.add_argument("data", metavar="DATA", type=Path, help="a CSV file (or .npz with X)")
    predict.add_argument("--output", type=Path, help="CSV file to write (default: stdout)")
    predict.add_argument("--proba", action="store_true", help="class probabilities too")
    _placement(predict)
    return parser


def _placement(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="numpy", help=f"one of {', '.join(BACKENDS)}")
    parser.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))


def _on_backend(X: np.ndarray, args: argparse.Namespace) -> Any:
    backend = canonical_backend(args.backend)
    if backend == "jax" and args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)  # the application's choice, not the library's
    return asarray(X, backend=backend, dtype=args.dtype, device=args.device)


def _is_classification(y: np.ndarray, task: str) -> bool:
    if task != "auto":
        return task == "classification"
    return y.dtype.kind in "Ubi" and (
        y.dtype.kind == "U" or len(np.unique(y)) <= max(20, len(y) // 10)
    )


class _Progress:
    """A tqdm bar over the epochs with the running loss (the estimator's epoch hook)."""

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


def _cmd_fit(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from .estimators import MLPClassifier, MLPRegressor
    from .io import save

    if args.early_stopping and args.solver == "lbfgs":
        raise UsageError("--early-stopping: works with --solver sgd or adam, not lbfgs")
    X, y, names = _load_fit_data(args.data, args.target)
    classify = _is_classification(y, args.task)
    if not classify and y.dtype.kind == "U":
        raise UsageError("--task: regression needs a numeric target")
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
    model = MLPClassifier(**options) if classify else MLPRegressor(loss=args.loss, **options)
    held_out = None
    if args.validation_fraction > 0 and not args.early_stopping:
        split = train_test_split(
            X,
            y,
            test_size=args.validation_fraction,
            random_state=args.random_state,
            stratify=y if classify and np.min(np.unique(y, return_counts=True)[1]) >= 2 else None,
        )
        X, X_val, y, y_val = split
        held_out = (_on_backend(X_val, args), y_val)
    X_fit = _on_backend(X, args)
    progress = _Progress(args.max_iter, enabled=not args.no_progress)
    model._epoch_callback = progress
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X_fit, y)
        finally:
            progress.close()
            del model._epoch_callback
    seconds = time.perf_counter() - start
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    print(_summary(model, X, y, held_out, args, seconds, caught))
    if args.save is not None:
        print(f"saved       {save(args.save, model)}")
    return 0


def _summary(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    held_out: Any,
    args: argparse.Namespace,
    seconds: float,
    caught: list[warnings.WarningMessage],
) -> str:
    kind = "classification" if hasattr(model, "classes_") else "regression"
    metric = "accuracy" if kind == "classification" else "R^2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature names set for saving, not for these arrays
        train_score = model.score(_on_backend(X, args), y)
        val_score = None if held_out is None else model.score(*held_out)
    if args.early_stopping:
        val_score = model.best_validation_score_
    curve = getattr(model, "loss_curve_", None)
    first = f"{curve[0]:.6g} -> " if curve else ""
    converged = not any(
        "converge" in str(w.message) or "Maximum iterations" in str(w.message) for w in caught
    )
    what = f"{X.shape[0]} samples x {X.shape[1]} features"
    if kind == "classification":
        what += f", {len(to_numpy(model.classes_))} classes"
    lines = [
        f"model       {type(model).__name__}(hidden_layer_sizes={tuple(args.hidden)}, "
        f"solver={args.solver!r}) on {canonical_backend(args.backend)}"
        f"{'' if args.device is None else ' (' + args.device + ')'}, {args.dtype}",
        f"data        {what}",
        f"loss        {first}{model.loss_:.6g} after {model.n_iter_} iterations"
        f"{'' if converged else ' (not converged: raise --max-iter)'}",
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


def _cmd_predict(args: argparse.Namespace) -> int:
    from .io import load

    model = load(args.model, backend=canonical_backend(args.backend), device=args.device)
    names = getattr(model, "feature_names_in_", None)
    if args.data.suffix == ".npz":
        X, _, _ = (
            _load_fit_data(args.data, None)
            if _has_y(args.data)
            else (_npz_X(args.data), None, None)
        )
    else:
        header, rows = _read_table(args.data)
        if names is not None:
            missing = [n for n in names if n not in header]
            if missing:
                raise UsageError(
                    f"DATA: the model needs the columns {', '.join(missing)}, missing in DATA"
                )
            columns = [str(n) for n in names]
        else:
            columns = header
        X = _features(header, rows, columns)
    if X.shape[1] != model.n_features_in_:
        raise UsageError(
            f"DATA: has {X.shape[1]} feature columns but the model expects {model.n_features_in_}"
        )
    X_on = asarray(
        X,
        backend=canonical_backend(args.backend),
        dtype=str(model.coefs_[0].dtype).rsplit(".", 1)[-1],
        device=args.device,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # names were kept for the columns, not arrays
        predicted = to_numpy(model.predict(X_on))
        proba = (
            to_numpy(model.predict_proba(X_on))
            if args.proba and hasattr(model, "predict_proba")
            else None
        )
    _write_predictions(predicted, proba, model, args.output)
    return 0


def _has_y(path: Path) -> bool:
    with np.load(path, allow_pickle=False) as archive:
        return "y" in archive.files


def _npz_X(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        if "X" not in archive.files:
            raise UsageError(f"DATA: {str(path)!r} must hold the array 'X'")
        X = np.asarray(archive["X"], dtype=float)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise UsageError("DATA: X must be a finite (n, d) array")
    return X


def _write_predictions(predicted: np.ndarray, proba: Any, model: Any, output: Path | None) -> None:
    columns = predicted.reshape(predicted.shape[0], -1)
    header = (
        ["prediction"]
        if columns.shape[1] == 1
        else [f"prediction_{k}" for k in range(columns.shape[1])]
    )
    if proba is not None:
        header += [f"proba_{c}" for c in to_numpy(model.classes_)]
        columns = np.concatenate([columns.astype(object), proba.astype(object)], axis=1)
    handle = sys.stdout if output is None else output.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(columns.tolist())
    finally:
        if output is not None:
            handle.close()


def main(argv: Sequence[str]) -> int:
    """``fit`` / ``predict``: 0 on success, 2 with one line on stderr for bad input."""
    args = _parser().parse_args(list(argv))
    try:
        return _cmd_fit(args) if args.command == "fit" else _cmd_predict(args)
    except (ValueError, TypeError, ImportError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
