"""``python -m xpnet``: train on the lecture's iris, compare backends, run the benchmarks.

Examples::

    python -m xpnet train --backend torch --epochs 300
    python -m xpnet train --hidden 64,32 --activation tanh --optimizer adam --lr 0.01
    python -m xpnet compare
    python -m xpnet bench --quick
    python -m xpnet export model.safetensors model.onnx
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import _cli_check, _cli_export, datasets
from .backends import BACKENDS, _spec_named, available_backends, namespace, to_numpy
from .mlp import _leaves, init_layers, init_params, predict
from .optim import SGD, Adam, inverse_time_lr
from .training import History, train

_LOSS_PLACES = 6


def _enable_x64_if_needed(backend: str, dtype: str) -> None:
    """The application (not the library) may flip JAX's global x64 switch for float64 runs."""
    if backend == "jax" and dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)


def _widths(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; argparse reports the ValueError as a usage error."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H or H1,H2,... got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"hidden widths must be >= 1, got {text!r}")
    return widths


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epochs", type=int, default=300, help="passes over the data (default 300)"
    )
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate eta (default 0.5)")
    parser.add_argument(
        "--decay",
        type=float,
        default=0.0,
        help="use the decreasing schedule eta_t = lr / (1 + decay * t); 0 keeps eta constant",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per SGD step: omit for full batch, 1 for single-sample SGD",
    )
    parser.add_argument(
        "--hidden",
        type=_widths,
        default=(10,),
        help="hidden units: H for the lecture's one hidden layer (default 10), or widths "
        "H1,H2,... for a deeper network",
    )
    parser.add_argument(
        "--activation",
        choices=("relu", "tanh", "logistic", "identity"),
        default="relu",
        help="hidden activation (default relu, the lecture's)",
    )
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="update rule (default sgd, the lecture's; with --momentum for momentum SGD)",
    )
    parser.add_argument(
        "--momentum", type=float, default=0.0, help="SGD momentum mu in [0, 1) (default 0)"
    )
    parser.add_argument("--nesterov", action="store_true", help="Nesterov's momentum (SGD)")
    parser.add_argument(
        "--alpha", type=float, default=0.0, help="L2 penalty alpha >= 0 (default 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order")
    parser.add_argument(
        "--init",
        choices=("he", "lecture"),
        default="he",
        help="'he' scaled normal weights, or the slides' np.random.seed/randn draws",
    )
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default="float64", help="floating dtype"
    )
    parser.add_argument("--device", default=None, help="device, e.g. cpu, cuda, cuda:1, gpu")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xpnet",
        description="The lecture's one-hidden-layer network, written once for every backend.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train_cmd = commands.add_parser(
        "train",
        help="train on the lecture's iris data and print the final loss and accuracy",
        description="Train the network on iris (first two features, centred) with SGD.",
    )
    train_cmd.add_argument(
        "--backend",
        default="numpy",
        help=f"array backend, one of {', '.join(BACKENDS)} (default numpy)",
    )
    _add_training_options(train_cmd)
    train_cmd.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar"
    )
    train_cmd.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help="save the decision regions and the loss curve to FILE (needs matplotlib)",
    )

    compare_cmd = commands.add_parser(
        "compare",
        help="train from one seed on every installed backend and tabulate the results",
        description=(
            "Train from one seed on every installed backend and print the final loss, "
            "accuracy, largest parameter difference from NumPy and time per epoch."
        ),
    )
    _add_training_options(compare_cmd)
    compare_cmd.add_argument(
        "--backends",
        default=None,
        help="comma-separated backends to compare (default: all installed)",
    )

    for name, what in (
        ("fit", "fit an MLPClassifier/MLPRegressor on a CSV or .npz file"),
        ("predict", "predict with a saved model, as CSV"),
    ):
        commands.add_parser(
            name, help=f"{what} (see `python -m xpnet {name} --help`)", add_help=False
        )
    _cli_check.add_parser(commands)
    _cli_export.add_parser(commands)
    commands.add_parser(
        "bench",
        help="run the benchmarks (see `python -m xpnet bench --help`)",
        add_help=False,
    )
    return parser


def _run(args: argparse.Namespace, backend: str, *, progress: bool) -> tuple[Any, History, Any]:
    _enable_x64_if_needed(backend, args.dtype)
    X, y = datasets.load_iris_2d(backend=backend, dtype=args.dtype, device=args.device)
    n_classes = int(to_numpy(y).max()) + 1
    xp = namespace(backend)
    options = dict(seed=args.seed, dtype=args.dtype, device=args.device, init=args.init)
    params: Any
    if len(args.hidden) == 1:  # the lecture's network, as its Params
        params = init_params(X.shape[1], args.hidden[0], n_classes, xp=xp, **options)
    else:
        params = init_layers((X.shape[1], *args.hidden, n_classes), xp=xp, **options)
    if args.optimizer == "adam":
        optimizer: Any = Adam(args.lr)
    else:
        optimizer = SGD(args.lr, momentum=args.momentum, nesterov=args.nesterov)
    lr = inverse_time_lr(args.lr, args.decay) if args.decay > 0 else None
    params, history = train(
        X,
        y,
        params,
        epochs=args.epochs,
        lr=lr,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=progress,
        optimizer=optimizer,
        activation=args.activation,
        alpha=args.alpha,
    )
    return params, history, (X, y)


def _final_metrics(params: Any, data: Any, args: argparse.Namespace) -> tuple[float, float]:
    from .gradcheck import mean_loss

    X, y = data
    loss = float(mean_loss(X, y, params, activation=args.activation, alpha=args.alpha))
    accuracy = float(
        (to_numpy(predict(X, params, activation=args.activation)) == to_numpy(y)).mean()
    )
    return loss, accuracy


def _describe(args: argparse.Namespace) -> str:
    sizes = "-".join(str(h) for h in (2, *args.hidden, 3))
    if args.optimizer == "adam":
        rule = f"Adam lr {args.lr}"
    elif args.momentum:
        rule = f"{'Nesterov ' if args.nesterov else ''}momentum {args.momentum} SGD lr {args.lr}"
    else:
        rule = f"SGD lr {args.lr}"
    l2 = f", alpha {args.alpha}" if args.alpha else ""
    return f"{sizes} {args.activation} network, {rule}{l2}"


def _installed_backends(names: Sequence[str] | None) -> list[str]:
    """Canonical names (aliases such as ``np`` accepted); ValueError if unknown or missing."""
    installed = available_backends()
    if names is None:
        return installed
    chosen = [_spec_named(name.strip(), "backend").name for name in names]
    missing = [name for name in chosen if name not in installed]
    if missing:
        raise ValueError(f"backend: {missing} not installed; installed: {installed}")
    return chosen


def _cmd_train(args: argparse.Namespace) -> int:
    backend = _installed_backends([args.backend])[0]
    batch = "full batch" if args.batch_size is None else f"batches of {args.batch_size}"
    print(
        f"xpnet: training a {_describe(args)} on iris (150 samples, 2 features) "
        f"with {backend}, {args.dtype}, {batch}, {args.epochs} epochs"
    )
    start = time.perf_counter()
    params, history, data = _run(args, backend, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    loss, accuracy = _final_metrics(params, data, args)
    first = history.loss[0] if len(history) else float("nan")
    print(f"loss      {first:.4f} -> {loss:.4f}  (mean cross-entropy on all 150 samples)")
    print(f"accuracy  {accuracy:.1%}  ({round(accuracy * 150)} of 150 training samples)")
    per_epoch = sorted(history.seconds)[len(history) // 2] if len(history) else 0.0
    print(f"time      {seconds:.2f} s in all, {per_epoch * 1e3:.3f} ms per epoch (median)")
    if args.plot:
        from .plot import save_training_plot

        save_training_plot(
            args.plot,
            data[0],
            data[1],
            params,
            history,
            title=backend,
            activation=args.activation,
        )
        print(f"plot      {args.plot}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np

    chosen = _installed_backends(args.backends.split(",") if args.backends else None)
    print(
        f"xpnet compare: iris, {_describe(args)}, seed {args.seed}, {args.dtype}, "
        f"{args.epochs} epochs, "
        f"{'full batch' if args.batch_size is None else f'batch {args.batch_size}'}"
    )
    rows = []
    reference = None
    for backend in chosen:
        start = time.perf_counter()
        params, history, data = _run(args, backend, progress=False)
        seconds = time.perf_counter() - start
        loss, accuracy = _final_metrics(params, data, args)
        host = [to_numpy(p).astype(np.float64) for p in _leaves(params)[0]]
        if reference is None:
            reference = host
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(host, reference))
        per_epoch = float(np.median(history.seconds)) if len(history) else 0.0
        rows.append((backend, loss, accuracy, diff, per_epoch * 1e3, seconds))
    header = (
        "backend",
        "final loss",
        "accuracy",
        f"max |param - {chosen[0]}|",
        "ms/epoch",
        "total s",
    )
    print(_table(header, [_format_row(r) for r in rows]))
    return 0


def _format_row(row: tuple[Any, ...]) -> list[str]:
    backend, loss, accuracy, diff, ms, seconds = row
    return [
        backend,
        f"{loss:.{_LOSS_PLACES}f}",
        f"{accuracy:.3f}",
        f"{diff:.1e}",
        f"{ms:.3f}",
        f"{seconds:.2f}",
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m xpnet`` and the ``xpnet`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .bench import main as bench_main

        return int(bench_main(argv[1:]) or 0)
    if argv[:1] in (["fit"], ["predict"]):
        from ._cli_fit import main as fit_main

        return fit_main(argv)
    args = _build_parser().parse_args(argv)
    try:
        if hasattr(args, "run"):
            return int(args.run(args))
        if args.command == "train":
            return _cmd_train(args)
        return _cmd_compare(args)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
