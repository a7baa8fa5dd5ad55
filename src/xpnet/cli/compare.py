"""``python -m xpnet compare``: one seed on every installed backend, a row each as it finishes."""

from __future__ import annotations

import argparse
from typing import Any

from ._options import UsageError, add_placement, check_placement, resolve_backend, threads
from .train import add_training_options, describe, final_metrics, run_iris

__all__ = ["add_parser", "run"]

_LOSS_PLACES = 6
_HEADER = ("backend", "final loss", "accuracy", "max |param - {ref}|", "ms/epoch", "total s")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``compare`` to ``python -m xpnet``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="train from one seed on every installed backend and tabulate the results",
        description=(
            "Train from one seed on every installed backend and print the final loss, "
            "accuracy, largest parameter difference from the first backend and time per "
            "epoch, a row as each backend finishes."
        ),
    )
    add_training_options(parser)
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated backends to compare (default: all installed)",
    )
    add_placement(parser, backend=False)
    return parser


def _chosen(text: str | None) -> tuple[list[str], list[str]]:
    """The backends to run and the lines naming the registered ones that are not installed."""
    from ..backends import BACKENDS, available_backends, get_backend

    if text is not None:
        try:
            return [resolve_backend(name) for name in text.split(",")], []
        except UsageError as exc:
            raise UsageError(str(exc).replace("--backend:", "--backends:", 1)) from None
    installed = available_backends()
    missing = [get_backend(name) for name in BACKENDS if name not in installed]
    notes = [f"{spec.name} (`{spec.install}`)" for spec in missing]
    return installed, notes


def run(args: argparse.Namespace) -> int:
    """Train on each backend, printing its row as soon as it is done; 0 on success."""
    import numpy as np

    from ..backends import to_numpy

    chosen, missing = _chosen(args.backends)
    for backend in chosen:
        check_placement(backend, args.device, args.dtype)
    batch = "full batch" if args.batch_size is None else f"batch {args.batch_size}"
    print(
        f"xpnet compare: iris, {describe(args)}, seed {args.seed}, {args.dtype}, "
        f"{args.epochs} epochs, {batch}",
        flush=True,
    )
    if missing:
        print(f"not installed: {', '.join(missing)}", flush=True)
    header = [part.format(ref=chosen[0]) for part in _HEADER]
    widths = [max(len(header[0]), *map(len, chosen)), 12, 8, len(header[3]), 9, 7]
    print(_row(header, widths))
    print(_row(["-" * w for w in widths], widths), flush=True)
    reference = None
    for backend in chosen:
        with threads(args.threads, backend):
            result = run_iris(args, backend, progress=False)
            loss, accuracy = final_metrics(result["params"], result["data"], args)
        host = [to_numpy(a).astype(np.float64) for a in _arrays(result["params"])]
        if reference is None:
            reference = host
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(host, reference))
        history = result["history"]
        per_epoch = float(np.median(history.seconds)) if len(history) else 0.0
        seconds = result["load_seconds"] + result["train_seconds"]
        cells = [
            backend,
            f"{loss:.{_LOSS_PLACES}f}",
            f"{accuracy:.3f}",
            f"{diff:.1e}",
            f"{per_epoch * 1e3:.3f}",
            f"{seconds:.2f}",
        ]
        print(_row(cells, widths), flush=True)
    return 0


def _arrays(params: Any) -> list[Any]:
    """The arrays of Params (W1, b1, W2, b2) or of a tuple of Layer(W, b), in order."""
    return [a for item in params for a in (item if isinstance(item, tuple) else (item,))]


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
