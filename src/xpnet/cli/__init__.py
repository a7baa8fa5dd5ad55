"""``python -m xpnet`` (and the ``xpnet`` script): one module per command.

Examples::

    python -m xpnet train --backend torch --epochs 300
    python -m xpnet train --hidden 64,32 --activation tanh --optimizer adam --lr 0.01
    python -m xpnet compare
    python -m xpnet fit wine.csv --target cultivar --save wine.safetensors
    python -m xpnet predict wine.safetensors new.csv --output predictions.csv
    python -m xpnet check --backend torch --device cuda
    python -m xpnet bench --quick

Each command is a module with ``add_parser(subparsers)`` (its parser, returned) and
``run(args) -> int`` (its exit status), listed in :data:`COMMANDS`. Shared options and
the error policy live in :mod:`xpnet.cli._options`: bad input is one line on stderr that
begins with the argument's name, exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from ._options import (
    CommandParser,
    DefaultsFormatter,
    UsageError,
    given_options,
    one_line,
    option_names,
)

__all__ = ["COMMANDS", "main"]

#: The command modules, in the order ``--help`` lists them. A new command is a module with
#: ``add_parser(subparsers)`` and ``run(args)``: add its name here.
COMMANDS: tuple[str, ...] = (
    "xpnet.cli.train",
    "xpnet.cli.compare",
    "xpnet.cli.fit",
    "xpnet.cli.predict",
    "xpnet.cli.check",
    "xpnet.cli.bench",
    "xpnet.cli.export",
)


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(name)
        for name in COMMANDS
        if importlib.util.find_spec(name) is not None
    ]


def _parser(
    modules: Sequence[ModuleType],
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from .. import __version__

    parser: argparse.ArgumentParser = CommandParser(
        prog="python -m xpnet",
        description="The lecture's network, written once for every backend: train it on "
        "iris, compare the backends, fit and predict on your own data, check a backend.",
        formatter_class=DefaultsFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xpnet {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    commands: dict[str, argparse.ArgumentParser] = {}
    for module in modules:
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        for name in set(subparsers.choices) - before:
            commands[name] = subparsers.choices[name]
            commands[name].set_defaults(_module=module)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m xpnet`` and the ``xpnet`` script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    modules = _modules()
    passthrough = {getattr(m, "PASSTHROUGH", None): m for m in modules}
    if argv[:1] and argv[0] in passthrough:  # a command that parses its own options (bench)
        module = passthrough[argv[0]]
        return _guarded(lambda: int(module.main(argv[1:]) or 0), {})
    parser, commands = _parser(modules)
    args = parser.parse_args(argv)
    command = commands[args.command]
    args.given = given_options(command, argv[argv.index(args.command) + 1 :])
    return _guarded(lambda: int(args._module.run(args)), option_names(command))


def _guarded(run: Callable[[], int], names: dict[str, str]) -> int:
    """Run a command under the error policy; a closed pipe (``| head``) ends quietly."""
    try:
        code = run()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (``python -m xpnet predict ... | head -1``): stop quietly.
        # Python would report the pipe again when it flushes stdout at exit; point it at
        # devnull first (the recipe of Python's own documentation, signal module).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, ImportError, OSError) as exc:
        print(f"error: {one_line(exc, names)}", file=sys.stderr)
        return 2
