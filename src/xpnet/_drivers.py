"""How a training step is driven on each backend: the only per-backend code in training.

The step itself is the generic function from :mod:`xpnet.optim`; a driver may
only wrap it (``jax.jit``, ``torch.compile``), never change its math.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._compat import is_jax_namespace, is_torch_namespace

Namespace = Any
Step = Callable[..., Any]

COMPILE_MODES = ("auto", "none", "jit")


def compile_step(step: Step, xp: Namespace, mode: str) -> Step:
    """Wrap ``step`` for ``xp``: ``jax.jit`` on JAX (``auto`` and ``jit``), ``torch.compile``
    on torch when ``mode="jit"``, the plain function otherwise."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; use one of {COMPILE_MODES}")
    if mode == "none":
        return step
    if is_jax_namespace(xp):
        import jax

        return jax.jit(step)
    if mode == "jit" and is_torch_namespace(xp):
        import torch

        return torch.compile(step, dynamic=False)
    return step
