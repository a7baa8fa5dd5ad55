"""``python -m xpnet bench``: the benchmarks of :mod:`xpnet.bench` (which parses its options)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["PASSTHROUGH", "add_parser", "main"]

#: ``python -m xpnet bench ...`` hands everything after ``bench`` to :func:`main` unparsed.
PASSTHROUGH = "bench"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """List ``bench`` in ``python -m xpnet --help`` (its options are its own)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="run the benchmarks (see `python -m xpnet bench --help`)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Run the benchmarks with ``argv``; the exit status."""
    from ..bench import main as bench_main

    return int(bench_main(list(argv)) or 0)
