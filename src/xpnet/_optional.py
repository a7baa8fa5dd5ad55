"""The one door to optional libraries: imported where used, never at ``import xpnet``.

A NumPy user's path never imports jax, torch, dask or matplotlib. Asking for one that is
not installed raises an ``ImportError`` naming the extra that brings it, instead of a bare
``No module named ...`` from deep inside.

Examples
--------
>>> from xpnet._optional import optional_import
>>> np = optional_import("numpy")
>>> np.__name__
'numpy'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

__all__ = ["EXTRAS", "installed", "optional_import"]

#: The extra of ``xpnet`` that installs each optional top-level module.
EXTRAS: dict[str, str] = {
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "array_api_strict": "strict",
    "dask": "dask",
    "distributed": "dask",
    "matplotlib": "plot",
    "ndonnx": "onnx",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "zarr": "dask",
}


def installed(module: str) -> bool:
    """Whether the top-level package of ``module`` can be imported (found, not imported)."""
    root = module.split(".", 1)[0]
    if root in sys.modules:
        return sys.modules[root] is not None
    try:
        return importlib.util.find_spec(root) is not None
    except (ImportError, ValueError):
        return False


def install_hint(module: str) -> str:
    """The command that installs ``module``: ``pip install 'xpnet[jax]'`` and the like."""
    root = module.split(".", 1)[0]
    extra = EXTRAS.get(root)
    return f"pip install 'xpnet[{extra}]'" if extra else f"pip install {root}"


def optional_import(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module``; if it is missing, an ``ImportError`` that says which extra to install.

    ``purpose`` says what needed it (``"train(devices=...)"``), for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".", 1)[0]
        needs = f"{purpose} needs" if purpose else "this needs"
        raise ImportError(
            f"{needs} {root!r}, which is not installed ({exc}); install it with "
            f"`{install_hint(module)}`"
        ) from exc
