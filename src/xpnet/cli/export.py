"""``python -m xpnet export MODEL.safetensors OUT.onnx``: a saved model as an ONNX file.

Exit status 0 when the file is written; 2, with one line on stderr, when the model cannot
be read or exported (``MODEL: ...``) or the file cannot be written (``OUT: ...``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand to ``python -m xpnet``."""
    parser = commands.add_parser(
        "export",
        help="export a saved model (xpnet.save) to ONNX, for onnxruntime and its runtimes",
        description=(
            "Write a model saved by xpnet.save (or `python -m xpnet fit --save`) as an ONNX "
            "file, its graph traced from xpnet's own prediction code by ndonnx. Input 'X'; "
            "outputs 'label' and 'probabilities' (classifier) or 'variable' (regressor)."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="a file written by xpnet.save")
    parser.add_argument("out", metavar="OUT", help="the ONNX file to write")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="dtype of the input and the computation (default: the model's weights')",
    )
    parser.add_argument(
        "--activation",
        choices=("relu", "tanh", "logistic", "identity"),
        default=None,
        help="hidden activation of saved layers or Params (default relu; estimators: their own)",
    )
    parser.add_argument(
        "--loss",
        choices=("cross_entropy", "binary_cross_entropy", "squared_error", "poisson"),
        default=None,
        help="what the output of saved layers or Params is (default cross_entropy)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export ``args.model`` to ``args.out``; 0 on success, 2 with one line on stderr."""
    from ..export import export_onnx
    from ..io import load

    try:
        model = load(args.model)
    except (ValueError, TypeError) as exc:
        return _fail("MODEL", exc)
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        return _fail("OUT", f"cannot write a file at {args.out!r} (a folder, or no such folder)")
    try:
        path = export_onnx(
            model, out, dtype=args.dtype, activation=args.activation, loss=args.loss
        )
    except (ValueError, TypeError) as exc:
        return _fail("OUT" if str(exc).startswith("path:") else "MODEL", exc)
    print(f"xpnet export: {args.model} -> {path} ({path.stat().st_size} bytes)")
    return 0


def _fail(what: str, error: object) -> int:
    """One line, ``MODEL: ...`` or ``OUT: ...``, without the argument name ``path:``."""
    message = " ".join(str(error).split())
    for prefix in ("path: ", "model: "):
        message = message.removeprefix(prefix)
    print(f"{what}: {message}", file=sys.stderr)
    return 2
