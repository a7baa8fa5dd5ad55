"""``python -m xpnet train``: train the lecture's network on iris and print loss and accuracy.

The training options (:func:`add_training_options`) and the run itself (:func:`run_iris`)
serve ``compare`` too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ._options import (
    UsageError,
    add_placement,
    check_placement,
    resolve_backend,
    threads,
    writable_file,
)

__all__ = ["add_parser", "add_training_options", "run", "run_iris"]


def _widths(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; argparse reports the error as a usage error."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H or H1,H2,... got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"hidden widths must be >= 1, got {text!r}")
    return widths


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options of a training run on iris (``train`` and ``compare``)."""
    parser.add_argument("--epochs", type=int, default=300, help="passes over the data")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate eta")
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
        help="hidden units: H for the lecture's one hidden layer, or widths H1,H2,... for a "
        "deeper network",
    )
    parser.add_argument(
        "--activation",
        choices=("relu", "tanh", "logistic", "identity"),
        default="relu",
        help="hidden activation (relu is the lecture's)",
    )
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="update rule (sgd is the lecture's; with --momentum for momentum SGD)",
    )
    parser.add_argument("--momentum", type=float, default=0.0, help="SGD momentum mu in [0, 1)")
    parser.add_argument("--nesterov", action="store_true", help="Nesterov's momentum (SGD)")
    parser.add_argument("--alpha", type=float, default=0.0, help="L2 penalty alpha >= 0")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order")
    parser.add_argument(
        "--init",
        choices=("he", "lecture"),
        default="he",
        help="'he' scaled normal weights, or the slides' np.random.seed/randn draws",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``train`` to ``python -m xpnet``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train on the lecture's iris data and print the final loss and accuracy",
        description="Train the network on iris (first two features, centred) with SGD.",
    )
    add_training_options(parser)
    add_placement(parser)
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        type=Path,
        default=None,
        help="save the decision regions and the loss curve to FILE (needs matplotlib)",
    )
    return parser


def run_iris(args: argparse.Namespace, backend: str, *, progress: bool) -> dict[str, Any]:
    """Train on iris as ``args`` say, on ``backend``: the parameters, the history, the data,
    and the seconds spent loading (data, backend, weights) and training."""
    from .. import datasets
    from ..backends import namespace, to_numpy
    from ..mlp import init_layers, init_params
    from ..optim import SGD, Adam, inverse_time_lr
    from ..training import train

    start = time.perf_counter()
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
    loaded = time.perf_counter()
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
    done = time.perf_counter()
    return dict(
        params=params,
        history=history,
        data=(X, y),
        load_seconds=loaded - start,
        train_seconds=done - loaded,
    )


def final_metrics(params: Any, data: Any, args: argparse.Namespace) -> tuple[float, float]:
    """Mean loss (with the L2 term) and accuracy on all of ``data``."""
    from ..backends import to_numpy
    from ..gradcheck import mean_loss
    from ..mlp import predict

    X, y = data
    loss = float(mean_loss(X, y, params, activation=args.activation, alpha=args.alpha))
    accuracy = float(
        (to_numpy(predict(X, params, activation=args.activation)) == to_numpy(y)).mean()
    )
    return loss, accuracy


def describe(args: argparse.Namespace) -> str:
    """``2-10-3 relu network, SGD lr 0.5``."""
    sizes = "-".join(str(h) for h in (2, *args.hidden, 3))
    if args.optimizer == "adam":
        rule = f"Adam lr {args.lr}"
    elif args.momentum:
        rule = f"{'Nesterov ' if args.nesterov else ''}momentum {args.momentum} SGD lr {args.lr}"
    else:
        rule = f"SGD lr {args.lr}"
    l2 = f", alpha {args.alpha}" if args.alpha else ""
    return f"{sizes} {args.activation} network, {rule}{l2}"


def run(args: argparse.Namespace) -> int:
    """Train, print loss, accuracy and times; 0 on success."""
    backend = resolve_backend(args.backend)
    if args.plot is not None:
        from .._optional import install_hint, installed

        writable_file(args.plot, "--plot")
        if not installed("matplotlib"):
            raise UsageError(
                f"--plot: needs matplotlib, which is not installed; install it with "
                f"`{install_hint('matplotlib')}`"
            )
    check_placement(backend, args.device, args.dtype)
    batch = "full batch" if args.batch_size is None else f"batches of {args.batch_size}"
    print(
        f"xpnet: training a {describe(args)} on iris (150 samples, 2 features) "
        f"with {backend}, {args.dtype}, {batch}, {args.epochs} epochs",
        flush=True,
    )
    if args.given:
        print(f"options   {' '.join(args.given)}", flush=True)
    with threads(args.threads, backend):
        result = run_iris(args, backend, progress=not args.no_progress)
        loss, accuracy = final_metrics(result["params"], result["data"], args)
    history = result["history"]
    first = history.loss[0] if len(history) else float("nan")
    print(f"loss      {first:.4f} -> {loss:.4f}  (mean cross-entropy on all 150 samples)")
    print(f"accuracy  {accuracy:.1%}  ({round(accuracy * 150)} of 150 training samples)")
    per_epoch = sorted(history.seconds)[len(history) // 2] if len(history) else 0.0
    print(
        f"time      {result['train_seconds']:.2f} s training ({per_epoch * 1e3:.3f} ms per "
        f"epoch, median), {result['load_seconds']:.2f} s loading the backend and data"
    )
    if args.plot is not None:
        from ..plot import save_training_plot

        X, y = result["data"]
        try:
            save_training_plot(
                args.plot, X, y, result["params"], history, title=backend,
                activation=args.activation,
            )  # fmt: skip
        except OSError as exc:
            raise UsageError(f"--plot: cannot write {str(args.plot)!r} ({exc})") from None
        print(f"plot      {args.plot}")
    return 0
