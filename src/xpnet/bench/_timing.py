"""Timing: warm-up excluded, cases interleaved round-robin, medians of repeats."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def block(result: Any) -> Any:
    """Wait for asynchronous backends (JAX dispatch, CUDA streams) to finish ``result``."""
    jax = sys.modules.get("jax")
    if jax is not None:
        result = jax.block_until_ready(result)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()
    return result


@dataclass
class Case:
    """One thing to time: ``run()`` does a whole unit of work (``units`` epochs or steps)."""

    backend: str
    impl: str
    kind: str  # "xpnet", "native", "sklearn"
    run: Callable[[], Any]
    units: int = 1
    first_seconds: float = 0.0
    samples: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median(self) -> float:
        """Median seconds per unit."""
        return statistics.median(self.samples) / self.units

    @property
    def minimum(self) -> float:
        """Seconds per unit of the fastest repeat."""
        return min(self.samples) / self.units

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median of the repeats: how much the figures moved."""
        return (max(self.samples) - min(self.samples)) / statistics.median(self.samples)

    @property
    def compile_seconds(self) -> float:
        """Extra time of the first call over a steady one: compilation and first-use costs."""
        return max(self.first_seconds - statistics.median(self.samples), 0.0)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = block(fn())
    return time.perf_counter() - start, result


def measure(
    cases: Sequence[Case], repeats: int, *, prime: float = 0.0, progress: Callable[[str], None]
) -> None:
    """Warm each case up once (timed separately), then time ``repeats`` rounds, interleaving
    the cases so that a burst of load from elsewhere hits them all alike.

    Each timed run follows untimed runs of the same case for at least ``prime`` seconds:
    the run after another library's case would otherwise pay for that library's worker
    threads, which keep spinning on the two cores for a while after their work (OpenMP,
    OpenBLAS, XLA); sleeping instead would let this case's own threads go to sleep.
    """
    for case in cases:
        progress(f"  warm-up {case.backend:<16} {case.impl}")
        case.first_seconds, case.result = _timed(case.run)
    for _ in range(repeats):
        for case in cases:
            start = time.perf_counter()
            while prime and time.perf_counter() - start < prime:
                block(case.run())
            seconds, case.result = _timed(case.run)
            case.samples.append(seconds)


def median_time(fn: Callable[[], Any], repeats: int, *, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        block(fn())
    return statistics.median(_timed(fn)[0] for _ in range(repeats))
