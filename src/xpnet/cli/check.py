"""``python -m xpnet check``: the conformance checks of :mod:`xpnet.testing`, a row as each ends.

Exit status 0 when every check passes (or does not apply), 1 when one fails, 2 when the
backend, device or dtype cannot be used at all (one line, before any check runs).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ._options import add_placement, check_placement, resolve_backend, threads

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``check`` to ``python -m xpnet``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="run the conformance checks on a backend and device; exit 0 only if all pass",
        description=(
            "Check xpnet on a backend: hand-derived gradients against finite differences "
            "and autograd, a training run against NumPy, softmax at huge logits, the "
            "bad-input errors, the compiled paths, no in-place writes."
        ),
    )
    add_placement(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the checks of ``args``, printing each row as it ends; 0 if all pass, else 1."""
    from ..testing import CHECKS, RESULT_HEADER, result_cells, run_checks

    backend = resolve_backend(args.backend)
    check_placement(backend, args.device, args.dtype)
    device = args.device or "default device"
    print(f"xpnet check: backend {backend}, {device}, {args.dtype}", flush=True)
    widths = [max(len(RESULT_HEADER[0]), *map(len, CHECKS)), 6, 11, 9, 5]
    print(_row(RESULT_HEADER, widths))
    print(_row(tuple("-" * w for w in [*widths, len(RESULT_HEADER[-1])]), widths), flush=True)
    start = time.perf_counter()
    results = []
    with threads(args.threads, backend):
        for name in CHECKS:
            (result,) = run_checks(backend, device=args.device, dtype=args.dtype, checks=[name])
            results.append(result)
            print(_row(result_cells(result), widths), flush=True)
    failed = [r.name for r in results if not r.passed]
    skipped = sum(r.skipped for r in results)
    passed = len(results) - len(failed) - skipped
    seconds = time.perf_counter() - start
    print(
        f"{passed} passed, {len(failed)} failed, {skipped} skipped in {seconds:.1f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [c.ljust(w) for c, w in zip(cells, widths)] + list(cells[len(widths) :])
    return "  ".join(padded).rstrip()
