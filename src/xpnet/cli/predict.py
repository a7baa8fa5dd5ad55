"""``python -m xpnet predict``: predictions of a saved model for a CSV or .npz file, as CSV.

Examples::

    python -m xpnet predict wine.safetensors new.csv --output predictions.csv
    python -m xpnet predict wine.safetensors new.csv --proba --backend jax

The model's feature columns are picked by name, so the file may hold more (the target,
an id). A scaler saved with the model (``fit`` saves one unless ``--no-scale``) is
applied first.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._data import numeric_columns, read_npz, read_table, separator
from ._options import (
    UsageError,
    add_placement,
    check_placement,
    enable_x64,
    one_line,
    plain,
    readable_file,
    resolve_backend,
    threads,
    writable_file,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``predict`` to ``python -m xpnet``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict",
        help="predict with a saved model, as CSV",
        description=plain(__doc__),
    )
    parser.add_argument("model", metavar="MODEL", type=Path, help="a file written by fit --save")
    parser.add_argument("data", metavar="DATA", type=Path, help="a CSV file (or .npz with X)")
    parser.add_argument("--output", type=Path, help="CSV file to write (default: stdout)")
    parser.add_argument("--proba", action="store_true", help="class probabilities too")
    parser.add_argument("--sep", type=separator, default=",", help="DATA's column separator")
    add_placement(
        parser,
        dtype_default=None,
        dtype_help="compute in this dtype, casting the model on load (default: the model's)",
    )
    return parser


def _load_model(args: argparse.Namespace, backend: str) -> tuple[list[Any], Any]:
    """The saved scalers (applied on the host) and the estimator, on ``backend``."""
    from ..estimators import MLPClassifier, MLPRegressor
    from ..io import load

    # A float64 model on JAX needs x64; switched on as fit does, unless --dtype float32.
    enable_x64(backend, args.dtype or "float64")
    try:
        model = load(args.model, backend=backend, device=args.device, dtype=args.dtype)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            one_line(exc, {"path": "MODEL", "backend": "--backend", "device": "--device",
                           "dtype": "--dtype"})
        ) from None  # fmt: skip
    steps: list[Any] = []
    if hasattr(model, "steps"):
        steps, model = [step for _, step in model.steps[:-1]], model.steps[-1][1]
    if not isinstance(model, (MLPClassifier, MLPRegressor)):
        raise UsageError(
            f"MODEL: {str(args.model)!r} holds {type(model).__name__}, not a fitted estimator; "
            "predict reads files of `fit --save` or xpnet.save(estimator)"
        )
    if args.proba and not hasattr(model, "predict_proba"):
        raise UsageError(
            f"--proba: MODEL is a {type(model).__name__}; only classifiers give probabilities"
        )
    return steps, model


def _features(args: argparse.Namespace, names: Any, expected: int) -> np.ndarray:
    if args.data.suffix == ".npz":
        X, _ = read_npz(args.data, need_y=False)
    else:
        table = read_table(args.data, args.sep)
        if names is not None:
            missing = [str(n) for n in names if n not in table.header]
            if missing:
                raise UsageError(
                    f"DATA: the model needs the columns {', '.join(missing)}, missing in DATA"
                )
            columns = [str(n) for n in names]
        else:
            columns = table.header
        X = numeric_columns(table, columns)
    if X.shape[1] != expected:
        raise UsageError(
            f"DATA: has {X.shape[1]} feature columns but the model expects {expected}"
        )
    return X


def run(args: argparse.Namespace) -> int:
    """Predict and write the CSV; 0 on success."""
    from ..backends import asarray, to_numpy

    backend = resolve_backend(args.backend)
    readable_file(args.model, "MODEL")
    readable_file(args.data, "DATA")
    if args.output is not None:
        writable_file(args.output, "--output")
    check_placement(backend, args.device, args.dtype or "float64")
    steps, model = _load_model(args, backend)
    names = getattr(steps[0] if steps else model, "feature_names_in_", None)
    X = _features(args, names, model.n_features_in_)
    with warnings.catch_warnings():
        # the names chose the columns; the arrays themselves carry none
        warnings.filterwarnings("ignore", message=".*feature names.*", category=UserWarning)
        for step in steps:
            X = step.transform(X)
        dtype = str(model.coefs_[0].dtype).rsplit(".", 1)[-1]
        with threads(args.threads, backend):
            X_on = asarray(X, backend=backend, dtype=dtype, device=args.device)
            predicted = to_numpy(model.predict(X_on))
            proba = to_numpy(model.predict_proba(X_on)) if args.proba else None
    _write(predicted, proba, model, args.output)
    return 0


def _write(predicted: np.ndarray, proba: Any, model: Any, output: Path | None) -> None:
    from ..backends import to_numpy

    columns = predicted.reshape(predicted.shape[0], -1)
    header = (
        ["prediction"]
        if columns.shape[1] == 1
        else [f"prediction_{k}" for k in range(columns.shape[1])]
    )
    if proba is not None:
        header += [f"proba_{c}" for c in to_numpy(model.classes_)]
        columns = np.concatenate([columns.astype(object), proba.astype(object)], axis=1)
    if output is None:
        _rows(sys.stdout, header, columns)
        return
    try:
        with output.open("w", newline="", encoding="utf-8") as handle:
            _rows(handle, header, columns)
    except OSError as exc:
        raise UsageError(f"--output: cannot write {str(output)!r} ({exc.strerror})") from None


def _rows(handle: Any, header: list[str], columns: np.ndarray) -> None:
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows(columns.tolist())
