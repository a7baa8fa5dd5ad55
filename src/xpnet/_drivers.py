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

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._compat import (
    device,
    host_view,
    is_dask_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_namespace,
)
from ._optional import optional_import
from ._typing import Array, Namespace, tree_leaves
from .backends import asarray, to_numpy
from .functional import Activation
from .optim import Adam, AdamState

Step = Callable[..., tuple[Any, Array, Array]]
#: ``run(params, X, y, order, size, lrs, weights) -> (params, loss_sum, hits)``: one epoch.
#: ``order``: a sample order (NumPy indices), a Dask ``ChunkOrder``, or None (as stored);
#: ``weights``: the rows' sample weights, or None.
EpochRunner = Callable[[Any, Array, Array, Any, int, Sequence[float], Any], Any]

#: ``auto``: the fastest driver of the backend (the compiled epoch on JAX, eager elsewhere);
#: ``none``: eager; ``jit``: each step compiled (``jax.jit``, ``torch.compile`` on torch);
#: ``epoch``: the whole epoch compiled where the backend can (JAX), eager elsewhere.
COMPILE_MODES = ("auto", "none", "jit", "epoch")


def epoch_runner(
    step: Step, xp: Namespace, mode: str, *, fixed_shapes: bool = False
) -> EpochRunner:
    """The function that runs one epoch of ``step`` on ``xp`` in compile ``mode``.

    ``fixed_shapes`` (JAX, whole-epoch mode): every epoch is padded to shapes that do not
    depend on the number of samples, so that one compilation serves many data-set sizes.
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile: unknown mode {mode!r}; use one of {COMPILE_MODES}")
    if is_dask_namespace(xp):
        from ._dask import DaskEpoch

        return DaskEpoch(step, xp)
    if is_jax_namespace(xp) and fixed_shapes and mode in ("auto", "epoch"):
        return _jax_fixed_shape_runner(step, xp)
    if is_jax_namespace(xp) and mode != "none":
        return _jax_runner(step, xp, per_step=mode == "jit")
    if is_torch_namespace(xp) and mode == "jit":
        return _torch_compiled_runner(step, xp)
    if is_torch_namespace(xp):
        return EagerEpoch(torch_eager_step(step), xp)
    return EagerEpoch(step, xp)


def read_back(xp: Namespace, values: Sequence[Array]) -> list[float]:
    """Host floats of many 0-D arrays of ``xp``, in the cheapest way the backend has: one
    ``stack`` and one transfer, except on JAX, whose ``stack`` of thousands of arrays costs
    more (type promotion over every input, in Python) than reading each one."""
    if is_jax_namespace(xp) or is_numpy_namespace(xp):
        return [float(np.asarray(v)) for v in values]
    return [float(v) for v in to_numpy(xp.stack(list(values)))]


# --- eager: a Python loop over the minibatches ------------------------------------------------


def is_sparse(x: Any) -> bool:
    """A SciPy sparse matrix or array: training takes its rows a batch at a time (CSR row
    indexing) and the core multiplies it as it is (``X @ W``, ``X.T @ delta``)."""
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _take_fn(xp: Namespace) -> Callable[[Array, Array], Array]:
    """Rows ``idx`` of ``x``. On torch, ``index_select`` itself: array-api-compat's ``take``
    also remaps negative indices, two more kernel launches that sample indices never need."""
    if is_torch_namespace(xp):
        torch = optional_import("torch")

        return lambda x, idx: torch.index_select(x, 0, idx)
    return lambda x, idx: xp.take(x, idx, axis=0)


class EagerEpoch:
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
        weights: Array | None = None,
    ) -> tuple[Any, Array, Array]:
        step, xp, take, n = self.step, self.xp, self.take, X.shape[0]
        sparse = is_sparse(X)
        targets = self._targets(params, X, y)
        if order is None and size >= n:  # full batch: one step
            return step(params, X, y, lrs[0], xp=xp, e_y=targets, weights=weights)
        if order is not None:
            # once per epoch (a sparse X lives on the host, as the order already does)
            order = order if sparse else asarray(order, backend=xp, device=device(X))
        losses, hits = [], []
        e_y = wb = None
        for i, start in enumerate(range(0, n, size)):
            stop = min(start + size, n)  # the standard leaves out-of-bounds slice stops undefined
            if order is not None:
                idx = order[start:stop]
                Xb, yb = (X[idx] if sparse else take(X, idx)), take(y, idx)
                if targets is not None:
                    e_y = take(targets, idx)
                if weights is not None:
                    wb = take(weights, idx)
            else:
                Xb = X[start:stop] if sparse else X[start:stop, ...]
                yb = y[start:stop, ...]
                if targets is not None:
                    e_y = targets[start:stop, ...]
                if weights is not None:
                    wb = weights[start:stop]
            # From the second step on, the parameters and optimizer state are the ones the
            # step before made and nobody else has seen: the step may write into them
            # (donation, see xpnet.optim._minus). The epoch's first step leaves the caller's.
            params, batch_loss, batch_hits = step(
                params, Xb, yb, lrs[i], xp=xp, e_y=e_y, weights=wb, donate=i > 0
            )
            losses.append(batch_loss)
            hits.append(batch_hits)
        return params, xp.sum(xp.stack(losses)), xp.sum(xp.stack(hits))


# --- torch, eager: torch's own kernels where the standard's cost more ------------------------


def torch_eager_step(step: Step) -> Step:
    """``step`` for torch's eager loop, with torch's own kernels where the standard's cost
    more: an Adam optimizer's donated update as eight ``torch._foreach_*`` calls over all the
    parameters (see :class:`_ForeachAdam`) instead of twelve operations per parameter, and
    ReLU as ``torch.relu`` with its derivative a boolean mask (array-api-compat's
    ``maximum(a, 0.0)`` converts the scalar and the dtypes first; torch multiplies a float
    array by a boolean one as it is). Other steps as they are. Measured on the *deep*
    benchmark (784-256-128-10, batch 256, float32, quiet 2-core machine): xpnet / the
    hand-written torch loop 1.19 before, 1.10 after."""
    if not dataclasses.is_dataclass(step):
        return step
    changes: dict[str, Any] = {}
    optimizer = getattr(step, "optimizer", None)
    if type(optimizer) is Adam:
        fields = {f.name: getattr(optimizer, f.name) for f in dataclasses.fields(optimizer)}
        changes["optimizer"] = _ForeachAdam(**fields)
    if getattr(step, "activation", None) == "relu":
        changes["activation"] = _torch_relu()
    return dataclasses.replace(step, **changes) if changes else step


@functools.cache
def _torch_relu() -> Activation:
    torch = optional_import("torch")

    def forward(a: Array, *, xp: Namespace) -> Array:
        return torch.relu(a)

    def grad(h: Array, *, xp: Namespace) -> Array:  # relu'(a) = 1[h > 0], as a mask
        return h > 0

    return Activation("relu", forward, grad)


@dataclasses.dataclass(frozen=True)
class _ForeachAdam(Adam):
    """:class:`xpnet.optim.Adam` whose donated step is ``torch.optim.Adam(foreach=True)``'s
    arithmetic: ``m <- b1 m + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2`` (``addcmul``),
    ``p <- p + m / ((sqrt(s) + eps) / -rate)`` (``addcdiv``), each a ``torch._foreach_*``
    call over all the parameters, written into the donated state and parameters: eight
    passes over the parameters' size where the generic step makes twelve. The same formulas
    as the generic step (scikit-learn's), in another order of rounding: equal to it to
    rounding, not bit for bit. The rate stays a 0-D tensor (no read back to the host)."""

    def _step(
        self,
        params: Any,
        grads: Any,
        state: AdamState,
        lr: Any,
        *,
        xp: Namespace,
        donate: bool = False,
    ) -> tuple[Any, AdamState]:
        if not donate:  # the caller's arrays: the pure step
            return super()._step(params, grads, state, lr, xp=xp, donate=False)
        torch = optional_import("torch")

        t, neg_rate = self._count(state, lr, xp=xp)
        p, g = tree_leaves(params), tree_leaves(grads)
        m, s = tree_leaves(state.m), tree_leaves(state.s)
        torch._foreach_mul_(m, self.beta1)
        torch._foreach_add_(m, g, alpha=1.0 - self.beta1)
        torch._foreach_mul_(s, self.beta2)
        torch._foreach_addcmul_(s, g, g, value=1.0 - self.beta2)
        root = torch._foreach_sqrt(s)
        torch._foreach_add_(root, self.eps)
        torch._foreach_div_(root, neg_rate)
        torch._foreach_addcdiv_(p, m, root)
        return params, AdamState(t, state.m, state.s)


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

    def gather_step(
        params: Any, X: Array, y: Array, w: Array | None, idx: Array | None, lr: Any
    ) -> Any:
        if idx is not None:
            X, y = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
            if w is not None:
                w = xp.take(w, idx, axis=0)
        return step(params, X, y, lr, xp=xp, weights=w)

    def scan_epoch(
        params: Any, X: Array, y: Array, w: Array | None, batches: Array, lrs: Array
    ) -> Any:
        _, loss_shape, hits_shape = jax.eval_shape(
            gather_step, params, X, y, w, batches[0], lrs[0]
        )

        def body(carry: Any, batch: Any) -> Any:
            params, loss_sum, hits = carry
            params, batch_loss, batch_hits = gather_step(params, X, y, w, *batch)
            return (params, loss_sum + batch_loss, hits + batch_hits), None

        zeros = (xp.zeros((), dtype=loss_shape.dtype), xp.zeros((), dtype=hits_shape.dtype))
        return jax.lax.scan(body, (params, *zeros), (batches, lrs))[0]

    def full_batch_epochs(params: Any, X: Array, y: Array, lrs: Array, count: Array) -> Any:
        _, loss_shape, hits_shape = jax.eval_shape(gather_step, params, X, y, None, None, lrs[0])

        def body(epoch: Any, carry: Any) -> Any:
            params, losses, hits = carry
            params, loss_sum, hit_count = gather_step(params, X, y, None, None, lrs[epoch])
            return params, losses.at[epoch].set(loss_sum), hits.at[epoch].set(hit_count)

        losses = xp.zeros(lrs.shape, dtype=loss_shape.dtype)
        hits = xp.zeros(lrs.shape, dtype=hits_shape.dtype)
        return jax.lax.fori_loop(0, count, body, (params, losses, hits))

    return jax.jit(gather_step), jax.jit(scan_epoch), jax.jit(full_batch_epochs)


def _one_epoch_deep() -> Callable[[tuple[Any, Array, Array]], tuple[Any, Array, Array]]:
    """``finished(result)``: waits for the epoch before ``result``'s, then returns it (JAX
    dispatches asynchronously: the host prepares an epoch while the device runs the last)."""
    jax = optional_import("jax")
    previous: list[Any] = []

    def finished(result: tuple[Any, Array, Array]) -> tuple[Any, Array, Array]:
        if previous:
            jax.block_until_ready(previous.pop())
        previous.append(result[1])
        return result

    return finished


def _jax_runner(step: Step, xp: Namespace, *, per_step: bool) -> EpochRunner:
    jax = optional_import("jax")

    one_step, scan_epoch, epochs_loop = _jax_compiled(step, xp)
    # JAX dispatches asynchronously. Each epoch first waits for the previous one, so the
    # host prepares an epoch while the device runs the last (a pipeline one epoch deep) and
    # an epoch's wall time, measured by ``train``, is the real time per epoch.
    _finished = _one_epoch_deep()

    def run(
        params: Any,
        X: Array,
        y: Array,
        order: np.ndarray | None,
        size: int,
        lrs: Sequence[float],
        weights: Array | None = None,
    ) -> tuple[Any, Array, Array]:
        n = X.shape[0]
        if size >= n and order is None:  # full batch: one step per epoch
            return _finished(one_step(params, X, y, weights, None, lrs[0]))
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
                params, loss_sum, hit_count = scan_epoch(params, X, y, weights, batches, rates)
                losses.append(loss_sum)
                hits.append(hit_count)
        for start in starts:
            batch = order[start : start + size]
            params, batch_loss, batch_hits = one_step(
                params, X, y, weights, batch, lrs[start // size]
            )
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


def row_bucket(n: int) -> int:
    """``n`` rounded up to one of a few sizes: a multiple of ``2**(bits(n) - 4)`` (at most
    1/8 more rows), so that data sets of similar sizes share one compiled shape."""
    grain = 1 << max(n.bit_length() - 4, 0)
    return -(-n // grain) * grain


def step_bucket(steps: int) -> int:
    """The number of steps rounded up to a power of two."""
    return 1 << max(steps - 1, 0).bit_length()


@functools.cache
def _jax_padded_epoch(step: Step, xp: Namespace) -> Callable[..., Any]:
    """``jax.jit`` of one epoch over batches of fixed shape: a ``lax.scan`` whose steps
    take rows ``idx`` with weights ``mask * w`` (0 for the rows that only pad a batch), and
    whose steps past the epoch's end (``active`` false) leave everything as it was."""
    jax = optional_import("jax")

    def gathered(params: Any, X: Array, y: Array, w: Array | None, batch: Any) -> Any:
        idx, mask, count, _, lr = batch
        Xb, yb = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
        wb = mask if w is None else xp.take(w, idx, axis=0) * mask
        return step(params, Xb, yb, lr, xp=xp, weights=wb, count=count)

    def epoch(params: Any, X: Array, y: Array, w: Array | None, batches: Any) -> Any:
        first = jax.tree_util.tree_map(lambda a: a[0], batches)
        _, loss_shape, hits_shape = jax.eval_shape(gathered, params, X, y, w, first)
        zero_loss = xp.zeros((), dtype=loss_shape.dtype)
        zero_hits = xp.zeros((), dtype=hits_shape.dtype)

        def body(carry: Any, batch: Any) -> Any:
            params, loss_sum, hits = carry

            def run(params: Any) -> Any:
                return gathered(params, X, y, w, batch)

            def skip(params: Any) -> Any:
                return params, zero_loss, zero_hits

            params, batch_loss, batch_hits = jax.lax.cond(batch[3], run, skip, params)
            return (params, loss_sum + batch_loss, hits + batch_hits), None

        return jax.lax.scan(body, (params, zero_loss, zero_hits), batches)[0]

    return jax.jit(epoch)


def _jax_fixed_shape_runner(step: Step, xp: Namespace) -> EpochRunner:
    """Whole JAX epochs in shapes that depend on the data only through a few buckets.

    The data are padded once per data set to :func:`row_bucket` rows; an epoch is
    :func:`step_bucket` steps of ``size`` rows each, the last real batch filled up with
    zero-weight rows, the steps after it switched off. Compiled once per (row bucket,
    features, batch size, step bucket): cross-validation folds share one compilation.
    """
    epoch = _jax_padded_epoch(step, xp)
    padded: dict[str, Any] = {}
    finished = _one_epoch_deep()

    def pad(a: Array | None, rows: int) -> Array | None:
        return None if a is None else pad_rows(a, rows, xp=xp)

    def run(
        params: Any,
        X: Array,
        y: Array,
        order: np.ndarray | None,
        size: int,
        lrs: Sequence[float],
        weights: Array | None = None,
    ) -> tuple[Any, Array, Array]:
        n = X.shape[0]
        rows = row_bucket(n)
        made_of = padded.get("of", ())
        if len(made_of) != 3 or any(a is not b for a, b in zip(made_of, (X, y, weights))):
            # the padded copies, made once per data set (kept with what they were made of)
            padded["of"] = (X, y, weights)
            padded["arrays"] = (pad(X, rows), pad(y, rows), pad(weights, rows))
        Xp, yp, wp = padded["arrays"]
        size = min(size, n)
        steps = -(-n // size)
        total = step_bucket(steps)
        index_dtype = np.int32 if rows < 2**31 else np.int64
        idx = np.zeros(total * size, dtype=index_dtype)
        idx[:n] = np.arange(n) if order is None else order
        mask = np.zeros(total * size, dtype=_numpy_dtype(X))
        mask[:n] = 1.0
        counts = np.zeros(total, dtype=_numpy_dtype(X))
        counts[:steps] = [min(size, n - k * size) for k in range(steps)]
        rates = np.zeros(total, dtype=_numpy_dtype(X))
        rates[:steps] = lrs[:steps]
        batches = (
            idx.reshape(total, size),
            mask.reshape(total, size),
            counts,
            np.arange(total) < steps,
            rates,
        )
        return finished(epoch(params, Xp, yp, wp, batches))

    run.pipelined = True  # type: ignore[attr-defined]
    return run


def _numpy_dtype(x: Array) -> Any:
    return np.float32 if "float32" in str(x.dtype) else np.float64


# --- torch.compile ----------------------------------------------------------------------------


@functools.cache
def _torch_compiled(step: Step, xp: Namespace) -> Callable[..., Any]:
    torch = optional_import("torch")

    def gather_step(
        params: Any, X: Array, y: Array, w: Array | None, idx: Array | None, lr: Array
    ) -> Any:
        if idx is not None:
            X, y = torch.index_select(X, 0, idx), torch.index_select(y, 0, idx)
            if w is not None:
                w = torch.index_select(w, 0, idx)
        return step(params, X, y, lr, xp=xp, weights=w)

    return torch.compile(gather_step, dynamic=False)


def _torch_compiled_runner(step: Step, xp: Namespace) -> EpochRunner:
    compiled = _torch_compiled(step, xp)

    def run(
        params: Any,
        X: Array,
        y: Array,
        order: np.ndarray | None,
        size: int,
        lrs: Sequence[float],
        weights: Array | None = None,
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
            params, batch_loss, batch_hits = compiled(params, X, y, weights, idx, rates[i])
            losses.append(batch_loss)
            hits.append(batch_hits)
        return params, xp.sum(xp.stack(losses)), xp.sum(xp.stack(hits))

    return run


# --- one function of arrays, compiled where the backend compiles ------------------------------


def take_rows(x: Array, idx: Array, *, xp: Namespace) -> Array:
    """Rows ``idx`` of ``x`` (``index_select`` on torch, ``take`` elsewhere, row indexing of
    a SciPy sparse matrix)."""
    if is_sparse(x):
        return x[idx]
    return _take_fn(xp)(x, idx)


def pad_rows(a: Array, rows: int, *, xp: Namespace) -> Array:
    """``a`` with zero rows appended up to ``rows`` rows. A JAX array on the CPU is padded
    through its host view (no compilation per data-set size, see
    :func:`xpnet._compat.host_view`)."""
    if a.shape[0] == rows:
        return a
    view = host_view(a)
    if view is not None:
        filler = np.zeros((rows - a.shape[0], *a.shape[1:]), dtype=view.dtype)
        return placed_like(np.concatenate([view, filler]), a, xp=xp)
    filler = xp.zeros((rows - a.shape[0], *a.shape[1:]), dtype=a.dtype, device=device(a))
    return xp.concat([a, filler], axis=0)


def placed_like(data: np.ndarray, a: Array, *, xp: Namespace) -> Array:
    """Host ``data`` as an array of ``xp`` placed as ``a`` is: on its device, and for JAX
    committed to it only where ``a`` is (``jax.jit`` compiles anew for a new placement)."""
    committed = getattr(a, "committed", True)
    return asarray(data, backend=xp, device=device(a) if committed else None)


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
