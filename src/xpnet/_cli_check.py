"""``python -m xpnet check``: the conformance checks of :mod:`xpnet.testing`, as a table.

Exit status 0 when every check passes (or does not apply), 1 when one fails.
"""

from __future__ import annotations

import argparse
import time


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand to ``python -m xpnet``."""
    from .backends import BACKENDS

    parser = commands.add_parser(
        "check",
        help="run the conformance checks on a backend and device; exit 0 only if all pass",
        description=(
            "Check xpnet on a backend: hand-derived gradients against finite differences "
            "and autograd, a training run against NumPy, softmax at huge logits, the "
            "bad-input errors, the compiled paths, no in-place writes."
        ),
    )
    parser.add_argument(
        "--backend",
        default="numpy",
        help=f"a registered backend, e.g. one of {', '.join(BACKENDS)} (default numpy)",
    )
    parser.add_argument("--device", default=None, help="device, e.g. cpu, cuda, cuda:1, gpu")
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default="float64", help="floating dtype"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks of ``args`` and print the table; 0 if all pass, else 1."""
    from .backends import _spec_named, available_backends, get_backend
    from .cli import _enable_x64_if_needed
    from .testing import format_results, run_checks

    backend = _spec_named(args.backend, "backend").name
    if backend not in available_backends():
        raise ImportError(
            f"backend: {backend!r} is not installed; install it with "
            f"`{get_backend(backend).install}`"
        )
    _enable_x64_if_needed(backend, args.dtype)
    device = args.device or "default device"
    print(f"xpnet check: backend {backend}, {device}, {args.dtype}")
    start = time.perf_counter()
    results = run_checks(backend, device=args.device, dtype=args.dtype)
    print(format_results(results))
    failed = [r.name for r in results if not r.passed]
    seconds = time.perf_counter() - start
    skipped = sum(r.skipped for r in results)
    passed = len(results) - len(failed) - skipped
    print(
        f"{passed} passed, {len(failed)} failed, {skipped} skipped in {seconds:.1f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
