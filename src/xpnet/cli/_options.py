"""What every command shares: its parser's manners, the placement options, the error policy.

The error policy: any problem with a path, a file's content or an option is one line on
stderr, ``error: NAME: what is wrong``, where NAME is the argument as the user typed it
(``DATA``, ``MODEL``, ``--output``, ``--backend``, ``--device``), exit code 2, no
traceback; found before any training starts wherever it can be known then.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "CommandParser",
    "DefaultsFormatter",
    "UsageError",
    "add_placement",
    "check_placement",
    "enable_x64",
    "given_options",
    "one_line",
    "readable_file",
    "resolve_backend",
    "threads",
    "warn",
    "writable_file",
]


class UsageError(ValueError):
    """Bad input from the user: one line that begins with the argument's name, exit code 2."""


class DefaultsFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (``(default: 100)``), the description as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS):
            return text
        if isinstance(default, (tuple, list)):
            default = ",".join(str(part) for part in default)
        shown = str(default).replace("%", "%%")
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


class CommandParser(argparse.ArgumentParser):
    """argparse, except that a bad option is one line (``error: --hidden: ...``), exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {_argparse_message(message, self.prog)}\n")


def _argparse_message(message: str, prog: str) -> str:
    """argparse's message, reworded to begin with the argument's name."""
    hint = f" (see `{prog} --help`)"
    found = re.match(r"argument ([^:]+): (.*)", message, re.S)
    if found:
        name = found.group(1).split("/")[-1]  # "-h/--help" -> "--help"
        return f"{name}: {found.group(2)}"
    found = re.match(r"the following arguments are required: (.*)", message)
    if found:
        names = found.group(1).split(", ")
        return f"{names[0]}: is required{hint}"
    found = re.match(r"unrecognized arguments: (.*)", message)
    if found:
        return f"{found.group(1).split()[0]}: no such option{hint}"
    return message + hint


def one_line(exc: BaseException, names: Mapping[str, str] = {}) -> str:
    """The first line of an exception's message, its leading argument name renamed.

    The library names its arguments (``alpha: must be ...``, ``backend: ...``); ``names``
    maps those to what the user typed (``--alpha``, ``--backend``, ``DATA``).
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror}"
    found = re.match(r"([\w.\[\]-]+): (.*)", text)
    if found and found.group(1) in names:
        return f"{names[found.group(1)]}: {found.group(2)}"
    return text


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{"alpha": "--alpha", "learning_rate_init": "--learning-rate-init", "data": "DATA"}``."""
    names = {"backend": "--backend", "device": "--device", "dtype": "--dtype"}
    for action in parser._actions:
        if action.dest in (argparse.SUPPRESS, "help"):
            continue
        names[action.dest] = (
            action.option_strings[-1] if action.option_strings else str(action.metavar)
        )
    return names


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The options the user set on the command line, in the order typed, as typed:
    ``["--hidden 16", "--no-scale"]``."""
    actions = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    saved = [a.default for a in actions]
    try:  # parsed with no defaults, what is left was given (abbreviations resolved)
        for action in actions:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(list(argv))
    finally:
        for action, default in zip(actions, saved):
            action.default = default
    shown: list[tuple[int, str]] = []
    for action in actions:
        if action.dest not in vars(given):
            continue
        name = action.option_strings[-1]
        value = vars(given)[action.dest]
        if isinstance(value, (tuple, list)):
            value = ",".join(str(v) for v in value)
        at, typed = len(argv), str(value)
        for i, word in enumerate(argv):
            for option in action.option_strings:
                if word == option and i + 1 < len(argv):
                    at, typed = i, argv[i + 1]
                elif word.startswith(option + "="):
                    at, typed = i, word.split("=", 1)[1]
                elif word == option:
                    at = i
        shown.append((at, name if action.nargs == 0 else f"{name} {typed}"))
    return [text for _, text in sorted(shown, key=lambda pair: pair[0])]


def plain(docstring: str | None) -> str | None:
    """A module docstring as ``--help`` shows it: without its first line and reST marks."""
    if not docstring:
        return None
    return docstring.split("\n\n", 1)[-1].replace("``", "").replace("::", ":").strip()


def warn(text: str) -> None:
    """A warning for the user: one line on stderr."""
    print(f"warning: {text}", file=sys.stderr, flush=True)


# --- placement: backend, device, dtype, threads ----------------------------------------------


def add_placement(
    parser: argparse.ArgumentParser,
    *,
    backend: bool = True,
    dtype_default: str | None = "float64",
    dtype_help: str = "floating dtype of the data and weights",
) -> None:
    """``--backend``, ``--device``, ``--dtype`` and ``--threads``, as every command has them."""
    from ..backends import BACKENDS

    if backend:
        parser.add_argument(
            "--backend",
            default="numpy",
            help=f"array backend, one of {', '.join(BACKENDS)} (or a registered plug-in)",
        )
    parser.add_argument(
        "--device",
        default=None,
        help="device, e.g. cpu, cuda, cuda:1, gpu (default: the backend's)",
    )
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default=dtype_default, help=dtype_help
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="CPU threads for the matrix products (torch.set_num_threads and the BLAS); "
        "1 is often fastest on small data (default: the libraries' own choice)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def resolve_backend(name: str) -> str:
    """The canonical, installed backend called ``name``, or a ``--backend:`` UsageError."""
    from ..backends import available_backends, get_backend

    try:
        spec = get_backend(name.strip())
    except (ValueError, TypeError) as exc:
        raise UsageError(one_line(exc, {"name": "--backend"})) from None
    if spec.name not in available_backends():
        raise UsageError(
            f"--backend: {spec.name!r} is not installed; install it with `{spec.install}`"
        )
    return spec.name


def enable_x64(backend: str, dtype: str | None) -> None:
    """The application (not the library) may flip JAX's global x64 switch for float64 runs."""
    if backend == "jax" and dtype == "float64":
        from .._optional import optional_import

        jax = optional_import("jax", purpose="--backend jax")
        jax.config.update("jax_enable_x64", True)


def check_placement(backend: str, device: str | None, dtype: str | None) -> None:
    """Put one number on ``backend``/``device`` in ``dtype``; a ``--device:`` or ``--backend:``
    UsageError if that cannot be done (before any data is read or training starts)."""
    from ..backends import asarray

    names = {"device": "--device", "backend": "--backend", "dtype": "--dtype", "x": "--dtype"}
    try:
        enable_x64(backend, dtype)
        asarray([0.0], backend=backend, dtype=dtype, device=device)
    except ImportError as exc:
        raise UsageError(f"--backend: {one_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(one_line(exc, names)) from None


@contextlib.contextmanager
def threads(count: int | None, backend: str) -> Iterator[None]:
    """Limit the CPU threads of the matrix products to ``count`` (None: leave them be)."""
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    previous = None
    if backend == "torch":
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        if previous is not None:
            import torch

            torch.set_num_threads(previous)


# --- paths -----------------------------------------------------------------------------------


def readable_file(path: Path, name: str) -> Path:
    """``path`` if it is a file that can be read, else a UsageError that begins with ``name``."""
    if path.is_dir():
        raise UsageError(f"{name}: {str(path)!r} is a folder, not a file")
    if not path.exists():
        raise UsageError(f"{name}: no such file {str(path)!r}")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"{name}: cannot read {str(path)!r} ({exc.strerror})") from None
    return path


def writable_file(path: Path, name: str) -> Path:
    """``path`` if a file can be written there, else a UsageError that begins with ``name``."""
    if path.is_dir():
        raise UsageError(f"{name}: {str(path)!r} is a folder; name a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{name}: cannot write {str(path)!r}: no such folder {str(folder)!r}")
    import os

    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{name}: cannot write {str(path)!r}: permission denied")
    return path
