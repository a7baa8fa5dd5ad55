"""How a training epoch is driven on each backend: the only per-backend code in training.

The step itself is the generic function from :mod:`xpnet.optim`
(``step(params, X, y, lr, *, xp) -> (params, loss_sum, hits)``); a driver only decides how
it is called: eagerly in a Python loop, under ``jax.jit`` one step at a time, the whole epoch
under ``jax.jit`` with ``lax.scan`` over the minibatches, or through ``torch.compile``. It
never changes the math, and every driver visits the same minibatches in the same order, so
all of them give the same results (see ``tests/test_fast_paths.py``).

Minibatches are drawn by index from the data set, which is never copied: the epoch's
sample order is moved onto the device once per epoch and sliced, and each batch is a
``take`` of its rows (or a plain slice when the data are not shuffled).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._compat import (
    device,
    is_dask_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
)
from ._optional import optional_import
from .backends import asarray, to_numpy

Array = Any
Namespace = Any
Step = Callable[..., tuple[Any, Array, Array]]
#: ``run(params, X, y, order, size, lrs) -> (params, loss_sum, hits)``: one epoch.
#: ``order``: a sample order (NumPy indices), a Dask ``ChunkOrder``, or None (as stored).
EpochRunner = Callable[[Any, Array, Array, Any, int, Sequence[float]], Any]

#: ``auto``: the fastest driver of the backend (the compiled epoch on JAX, eager elsewhere);
#: ``none``: eager; ``jit``: each step compiled (``jax.jit``, ``torch.compile`` on torch);
#: ``epoch``: the whole epoch compiled where the backend can (JAX), eager elsewhere.
COMPILE_MODES = ("auto", "none", "jit", "epoch")


def epoch_runner(step: Step, xp: Namespace, mode: str) -> EpochRunner:
    """The function that runs one epoch of ``step`` on ``xp`` in compile ``mode``."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; use one of {COMPILE_MODES}")
    if is_dask_namespace(xp):
        from ._dask import DaskEpoch

        return DaskEpoch(step, xp)
    if is_jax_namespace(xp) and mode != "none":
        return _jax_runner(step, xp, per_step=mode == "jit")
    if is_torch_namespace(xp) and mode == "jit":
        return _torch_compiled_runner(step, xp)
    return _EagerEpoch(step, xp)


def read_back(xp: Namespace, values: Sequence[Array]) -> list[float]:
    """Host floats of many 0-D arrays of ``xp``, in the cheapest way the backend has: one
    ``stack`` and one transfer, except on JAX, whose ``stack`` of thousands of arrays costs
    more (type promotion over every input, in Python) than reading each one."""
    if is_jax_namespace(xp) or is_numpy_namespace(xp):
        return [float(np.asarray(v)) for v in values]
    return [float(v) for v in to_numpy(xp.stack(list(values)))]


# --- eager: a Python loop over the minibatches ------------------------------------------------


def _take_fn(xp: Namespace) -> Callable[[Array, Array], Array]:
    """Rows ``idx`` of ``x``. On torch, ``index_select`` itself: array-api-compat's ``take``
    also remaps negative indices, two more kernel launches that sample indices never need."""
    if is_torch_namespace(xp):
        torch = optional_import("torch")

        return lambda x, idx: torch.index_select(x, 0, idx)
    return lambda x, idx: xp.take(x, idx, axis=0)


class _EagerEpoch:
    """A Python loop over the minibatches, calling the step on each (no compiler).

    Loop-invariant work is hoisted out of the steps: the one-hot targets of the whole data
    set are built once per ``train`` call (when no larger than the data, or small) and a
    batch takes its rows like it takes its inputs; the batch losses and hit counts are
    summed once per epoch.
    """

    def __init__(self, step: Step, xp: Namespace) -> None:
        self.step, self.xp, self.take = step, xp, _take_fn(xp)
        self.targets: Array | None = None  # one-hot rows of y, built on the first epoch
        self.targets_of: Array | None = None

    def _targets(self, carry: Any, X: Array, y: Array) -> Array | None:
        if self.targets_of is not y:
            self.targets_of = y
            prepare = getattr(self.step, "targets", None)
            self.targets = None if prepare is None else prepare(carry, X, y, xp=self.xp)
        return self.targets

    def __call__(
        self,
        params: Any,
        X: Array,
        y: Array,
        order: np.ndarray | None,
        size: int,
        lrs: Sequence[float],
    ) -> tuple[Any, Array, Array]:
        step, xp, take, n = self.step, self.xp, self.take, X.shape[0]
        targets = self._targets(params, X, y)
        if order is None and size >= n:  # full batch: one step
            return step(params, X, y, lrs[0], xp=xp, e_y=targets)
        if order is not None:
            order = asarray(order, backend=xp, device=device(X))  # once per epoch
        losses, hits = [], []
        e_y = None
        for i, start in enumerate(range(0, n, size)):
            stop = min(start + size, n)  # the standard leaves out-of-bounds slice stops undefined
            if order is not None:
                idx = order[start:stop]
                Xb, yb = take(X, idx), take(y, idx)
                if targets is not None:
                    e_y = take(targets, idx)
            else:
                Xb, yb = X[start:stop, ...], y[start:stop]
                if targets is not None:
                    e_y = targets[start:stop, ...]
            # From the second step on, the parameters and optimizer state are the ones the
            # step before made and nobody else has seen: the step may write into them
            # (donation, see xpnet.optim._minus). The epoch's first step leaves the caller's.
            params, batch_loss, batch_hits = step(
                params, Xb, yb, lrs[i], xp=xp, e_y=e_y, donate=i > 0
            )
            losses.append(batch_loss)
            hits.append(batch_hits)
        return params, xp.sum(xp.stack(losses)), xp.sum(xp.stack(hits))


# --- JAX: jax.jit per step, or the whole epoch as one lax.scan ----------------------------------


#: Full-batch epochs run per compiled call on JAX (a loop with a traced trip count, so one
#: compilation serves any number of epochs up to this).
FULL_BATCH_CHUNK = 64


@functools.cache
def _jax_compiled(step: Step, xp: Namespace) -> tuple[Callable[..., Any], ...]:
    """``jax.jit`` of one step (batch gathered inside), of a ``lax.scan`` over a matrix of
    batch indices (one epoch), and of a loop over up to ``FULL_BATCH_CHUNK`` full-batch
    epochs. Cached, so that every ``train`` call reuses the compiled code."""
    jax = optional_import("jax")

    def gather_step(params: Any, X: Array, y: Array, idx: Array | None, lr: Any) -> Any:
        if idx is not None:
            X, y = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
        return step(params, X, y, lr, xp=xp)

    def scan_epoch(params: Any, X: Array, y: Array, batches: Array, lrs: Array) -> Any:
        _, loss_shape, hits_shape = jax.eval_shape(gather_step, params, X, y, batches[0], lrs[0])

        def body(carry: Any, batch: Any) -> Any:
            params, loss_sum, hits = carry
            params, batch_loss, batch_hits = gather_step(params, X, y, *batch)
            return (params, loss_sum + batch_loss, hits + batch_hits), None

        zeros = (xp.zeros((), dtype=loss_shape.dtype), xp.zeros((), dtype=hits_shape.dtype))
        return jax.lax.scan(body, (params, *zeros), (batches, lrs))[0]

    def full_batch_epochs(params: Any, X: Array, y: Array, lrs: Array, count: Array) -> Any:
        _, loss_shape, hits_shape = jax.eval_shape(gather_step, params, X, y, None, lrs[0])

        def body(epoch: Any, carry: Any) -> Any:
            params, losses, hits = carry
            params, loss_sum, hit_count = gather_step(params, X, y, None, lrs[epoch])
            return params, losses.at[epoch].set(loss_sum), hits.at[epoch].set(hit_count)

        losses = xp.zeros(lrs.shape, dtype=loss_shape.dtype)
        hits = xp.zeros(lrs.shape, dtype=hits_shape.dtype)
        return jax.lax.fori_loop(0, count, body, (params, losses, hits))

    return jax.jit(gather_step), jax.jit(scan_epoch), jax.jit(full_batch_epochs)


def _jax_runner(step: Step, xp: Namespace, *, per_step: bool) -> EpochRunner:
    jax = optional_import("jax")

    one_step, scan_epoch, epochs_loop = _jax_compiled(step, xp)
    # JAX dispatches asynchronously. Each epoch first waits for the previous one, so the
    # host prepares an epoch while the device runs the last (a pipeline one epoch deep) and
    # an epoch's wall time, measured by ``train``, is the real time per epoch.
    previous: list[Any] = []

    def _finished(result: tuple[Any, Array, Array]) -> tuple[Any, Array, Array]:
        if previous:
            jax.block_until_ready(previous.pop())
        previous.append(result[1])
        return result

    def run(
        params: Any, X: Array, y: Array, order: np.ndarray | None, size: int, lrs: Sequence[float]
    ) -> tuple[Any, Array, Array]:
        n = X.shape[0]
        if size >= n and order is None:  # full batch: one step per epoch
            return _finished(one_step(params, X, y, None, lrs[0]))
        index_dtype = np.int32 if n < 2**31 else np.int64
        order = np.arange(n, dtype=index_dtype) if order is None else order.astype(index_dtype)
        full = (n // size) * size  # samples in full batches; the rest is one smaller batch
        losses, hits = [], []
        if per_step:
            starts = range(0, n, size)
        else:
            starts = range(full, n, size)
            if full:
                batches = order[:full].reshape(full // size, size)
                rates = np.asarray(lrs[: full // size], dtype=X.dtype)
                params, loss_sum, hit_count = scan_epoch(params, X, y, batches, rates)
                losses.append(loss_sum)
                hits.append(hit_count)
        for start in starts:
            batch = order[start : start + size]
            params, batch_loss, batch_hits = one_step(params, X, y, batch, lrs[start // size])
            losses.append(batch_loss)
            hits.append(batch_hits)
        if len(losses) == 1:
            return _finished((params, losses[0], hits[0]))
        return _finished((params, xp.sum(xp.stack(losses)), xp.sum(xp.stack(hits))))

    def full_batch_epochs(
        params: Any, X: Array, y: Array, lrs: Sequence[float]
    ) -> tuple[Any, list[float], list[float]]:
        """Up to ``FULL_BATCH_CHUNK`` full-batch epochs in one compiled call; their summed
        losses and hit counts come back as host floats."""
        count = len(lrs)
        rates = np.zeros(FULL_BATCH_CHUNK, dtype=X.dtype)
        rates[:count] = lrs
        params, losses, hits = epochs_loop(params, X, y, rates, np.int32(count))
        losses, hits = jax.device_get((losses, hits))
        return params, [float(v) for v in losses[:count]], [float(v) for v in hits[:count]]

    run.pipelined = True  # type: ignore[attr-defined]
    if not per_step:
        run.full_batch_epochs = full_batch_epochs  # type: ignore[attr-defined]
        run.full_batch_chunk = FULL_BATCH_CHUNK  # type: ignore[attr-defined]
    return run


# --- torch.compile ----------------------------------------------------------------------------


@functools.cache
def _torch_compiled(step: Step, xp: Namespace) -> Callable[..., Any]:
    torch = optional_import("torch")

    def gather_step(params: Any, X: Array, y: Array, idx: Array | None, lr: Array) -> Any:
        if idx is not None:
            X, y = torch.index_select(X, 0, idx), torch.index_select(y, 0, idx)
        return step(params, X, y, lr, xp=xp)

    return torch.compile(gather_step, dynamic=False)


def _torch_compiled_runner(step: Step, xp: Namespace) -> EpochRunner:
    compiled = _torch_compiled(step, xp)

    def run(
        params: Any, X: Array, y: Array, order: np.ndarray | None, size: int, lrs: Sequence[float]
    ) -> tuple[Any, Array, Array]:
        torch = optional_import("torch")

        n = X.shape[0]
        # The learning rate goes in as a 0-D tensor, so that a schedule does not recompile.
        rates = torch.asarray(np.asarray(lrs), dtype=X.dtype, device=X.device)
        indices = None
        if order is not None:
            indices = torch.asarray(order, device=X.device)
        elif size < n:
            indices = torch.arange(n, device=X.device)
        losses, hits = [], []
        for i, start in enumerate(range(0, n, size)):
            idx = None if indices is None else indices[start : start + size]
            params, batch_loss, batch_hits = compiled(params, X, y, idx, rates[i])
            losses.append(batch_loss)
            hits.append(batch_hits)
        return params, xp.sum(xp.stack(losses)), xp.sum(xp.stack(hits))

    return run


# --- one function of arrays, compiled where the backend compiles ------------------------------


def take_rows(x: Array, idx: Array, *, xp: Namespace) -> Array:
    """Rows ``idx`` of ``x`` (``index_select`` on torch, ``take`` elsewhere)."""
    return _take_fn(xp)(x, idx)


def compiled(fn: Callable[..., Any], xp: Namespace) -> Callable[..., Any]:
    """``fn`` under ``jax.jit`` on JAX (its arguments traced, ``None`` static), as it is
    elsewhere: eager NumPy and torch pay no compilation for a loop of small steps. A
    ``donate=`` keyword (see :func:`xpnet.optim._minus`) is dropped on JAX."""
    if is_jax_namespace(xp):
        jax = optional_import("jax")

        jitted = jax.jit(fn)

        def run(*args: Any, donate: bool = False) -> Any:
            return jitted(*args)  # JAX writes nothing in place: donation means nothing here

        return run
    return fn
