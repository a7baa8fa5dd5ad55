"""Stochastic gradient descent: ``theta <- theta - eta_t g``, full-batch, minibatch or one sample.

The step is generic Array-API code; only how it is driven (``jax.jit`` on JAX)
differs per backend, in :mod:`xpnet._drivers`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _validation as check
from ._compat import array_namespace, is_dask_array
from ._dask import check_chunks, chunk_orders
from ._drivers import epoch_runner, read_back
from ._rng import epoch_orders
from ._sharding import data_parallel
from .mlp import Params, _check_model, _loss_sum_grad_logits

__all__ = [
    "History",
    "constant_lr",
    "inverse_time_lr",
    "minibatches",
    "sgd_step",
    "train",
]

Array = Any
Namespace = Any
Schedule = Callable[[int], float]


def sgd_step(params: Params, grads: Params, lr: float | Array, /) -> Params:
    """One SGD update, ``theta - lr * g`` for each of W1, b1, W2, b2, as a new :class:`Params`.

    Nothing is written in place: the old parameters stay as they were.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet
    >>> params = xpnet.Params(*(xp.ones(2) for _ in range(4)))
    >>> xpnet.sgd_step(params, params, 0.5).W1
    Array([0.5, 0.5], dtype=array_api_strict.float64)
    """
    if not isinstance(params, tuple) or not isinstance(grads, tuple):
        raise TypeError("params, grads: expected Params(W1, b1, W2, b2)")
    if len(params) != len(grads):
        raise ValueError(f"grads: has {len(grads)} arrays but params has {len(params)}")
    names = (*(f"params.{f}" for f in Params._fields), *(f"grads.{f}" for f in Params._fields))
    array_namespace(*params, *grads, names=names)
    for name, p, g in zip(Params._fields, params, grads):
        if tuple(p.shape) != tuple(g.shape):
            raise ValueError(f"grads.{name}: shape {tuple(g.shape)} differs from {tuple(p.shape)}")
        if g.dtype != p.dtype:
            raise TypeError(
                f"grads.{name}: dtype {g.dtype} differs from params.{name}'s {p.dtype}"
            )
    check.check_same_device([*params, *grads], list(names))
    if isinstance(lr, (int, float)) and not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr: the learning rate must be finite and >= 0, got {lr}")
    return _sgd_step(params, grads, lr)


def _sgd_step(params: Params, grads: Params, lr: float | Array) -> Params:
    return Params(*(p - lr * g for p, g in zip(params, grads)))


# --- learning-rate schedules ----------------------------------------------------------------


@dataclass(frozen=True)
class constant_lr:
    """``eta_t = lr`` for every step ``t``.

    Examples
    --------
    >>> from xpnet.optim import constant_lr
    >>> constant_lr(0.1)(1000)
    0.1
    """

    lr: float

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class inverse_time_lr:
    """The decreasing schedule ``eta_t = lr / (1 + decay * t)``, ``t = 0, 1, 2, ...`` steps.

    Its steps sum to infinity while their squares do not, the classic condition
    under which SGD converges.

    Examples
    --------
    >>> from xpnet.optim import inverse_time_lr
    >>> schedule = inverse_time_lr(0.5, decay=1.0)
    >>> schedule(0), schedule(1), schedule(3)
    (0.5, 0.25, 0.125)
    """

    lr: float
    decay: float = 0.01

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.decay * t)


def _as_schedule(lr: float | Schedule) -> Schedule:
    if callable(lr):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise TypeError(f"lr: expected a number or a schedule t -> eta_t, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr: the learning rate must be finite and >= 0, got {lr}")
    return constant_lr(float(lr))


# --- minibatches ---------------------------------------------------------------------------


def minibatches(
    n: int, batch_size: int | None = None, *, seed: int = 0, shuffle: bool = True
) -> Iterator[list[range | Any]]:
    """The sample indices of each epoch's minibatches, as NumPy arrays, epoch after epoch.

    Drawn on the host from ``seed``, so every backend sees the same order. The
    last batch of an epoch may be smaller. ``batch_size=None`` is full-batch.

    Examples
    --------
    >>> from xpnet.optim import minibatches
    >>> epochs = minibatches(5, 2, shuffle=False)
    >>> [b.tolist() for b in next(epochs)]
    [[0, 1], [2, 3], [4]]
    """
    size = n if batch_size is None else batch_size
    for order in epoch_orders(n, seed=seed, shuffle=shuffle):
        yield [order[start : start + size] for start in range(0, n, size)]


# --- training ------------------------------------------------------------------------------


@dataclass
class History:
    """What :func:`train` saw, one entry per epoch.

    ``loss`` and ``accuracy`` are the means over the epoch's minibatches, each
    measured before its update (as scikit-learn's ``loss_curve_``); ``lr`` is the
    last learning rate of the epoch; ``seconds`` the wall time of the epoch (where a
    compiled driver runs several full-batch epochs in one call, their mean).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)


def _train_step(
    params: Params, X: Array, y: Array, lr: Any, *, xp: Namespace, e_y: Array | None = None
) -> tuple[Params, Array, Array]:
    """One SGD step on a batch; returns the new params, the batch's summed loss and hits.

    ``e_y`` (optional): the one-hot rows of ``y``, when the driver keeps them across steps.
    """
    loss_sum, grads, z = _loss_sum_grad_logits(X, y, params, xp=xp, e_y=e_y)
    hits = xp.count_nonzero(xp.argmax(z, axis=1) == y)
    return _sgd_step(params, grads, lr), loss_sum, hits


def train(
    X: Array,
    y: Array,
    params: Params,
    /,
    *,
    epochs: int = 100,
    lr: float | Schedule = 0.1,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    progress: bool = False,
    callback: Callable[[int, Params, dict[str, float]], bool | None] | None = None,
    compile: str = "auto",
    devices: Any = None,
) -> tuple[Params, History]:
    """Train the network with SGD; return the final parameters and the per-epoch history.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs, floating, finite.
    y : array of int, shape (n,)
        Labels in ``[0, K)``.
    params : Params
        Initial parameters (see :func:`init_params`); never modified.
    epochs : int
        Passes over the data.
    lr : float or callable
        A constant learning rate, or a schedule ``t -> eta_t`` over steps
        (e.g. :class:`inverse_time_lr`).
    batch_size : int, optional
        ``None``: full-batch gradient descent; ``1``: single-sample SGD; ``m``:
        minibatches of ``m`` samples (the last one may be smaller).
    shuffle : bool
        Draw a new sample order every epoch (from ``seed``, the same on every backend).
    seed : int
        Seed of the minibatch order.
    progress : bool
        Show a progress bar with the running loss and accuracy.
    callback : callable, optional
        ``callback(epoch, params, record)`` after each epoch; ``record`` holds
        ``loss``, ``accuracy``, ``lr``; returning True stops training.
    compile : {"auto", "none", "jit", "epoch"}
        How the generic step is driven; every mode gives the same results.
        ``"auto"``: the fastest for the backend (``"epoch"`` on JAX, eager elsewhere);
        ``"none"``: eagerly, one Python call per minibatch; ``"jit"``: each step
        compiled (``jax.jit`` on JAX, ``torch.compile`` on torch); ``"epoch"``: the
        whole epoch compiled into one ``jax.jit``-ed ``lax.scan`` over the minibatches,
        and full-batch epochs many at a time in one compiled loop (JAX; eager elsewhere).

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict", seed=0)
    >>> params, history = xpnet.train(X, y, params, epochs=50, lr=0.5)
    >>> history.loss[-1] < history.loss[0]
    True
    """
    if is_dask_array(X):
        check_chunks(X, y)
    X, y, params, step = data_parallel(
        X, y, params, _train_step, devices=devices, batch_size=batch_size, compile=compile
    )
    xp = _check_model(X, params, y)
    check.check_finite(X, "X", xp=xp)
    check.check_positive_int(epochs, "epochs", allow_zero=True)
    if batch_size is not None:
        check.check_positive_int(batch_size, "batch_size")
    schedule = _as_schedule(lr)
    run_epoch = epoch_runner(step, xp, compile)
    n = X.shape[0]
    size = n if batch_size is None or batch_size >= n else batch_size
    steps = -(-n // size)
    # Same draws as `minibatches`: one permutation per epoch, only when there is an order.
    orders = epoch_orders(n, seed=seed, shuffle=True) if shuffle and size < n else None
    if orders is not None and is_dask_array(X):  # streamed chunk by chunk: a per-chunk order
        orders = chunk_orders(X.chunks[0], seed=seed, shuffle=True)
    history = History()
    bar = _progress_bar(epochs, progress)
    # Unless a callback or the progress bar needs each epoch's numbers at once, the epoch
    # sums stay on the device and are read back together at the end: one transfer instead
    # of two per epoch (each a synchronisation on asynchronous backends such as JAX).
    pending: list[tuple[Array, Array]] | None = [] if callback is None and bar is None else None
    t = 0
    chunked = getattr(run_epoch, "full_batch_epochs", None)
    if chunked is not None and pending is not None and orders is None and size >= n:
        # Full batch, nobody watching each epoch, a compiling driver (JAX): many epochs per
        # compiled call. Each epoch is still one step on the whole batch, as below.
        chunk = run_epoch.full_batch_chunk  # type: ignore[attr-defined]
        for first in range(0, epochs, chunk):
            start = time.perf_counter()
            lrs = [schedule(t + i) for i in range(min(chunk, epochs - first))]
            params, loss_sums, hit_counts = chunked(params, X, y, lrs)
            t += len(lrs)
            history.loss += [v / n for v in loss_sums]
            history.accuracy += [v / n for v in hit_counts]
            history.lr += [float(v) for v in lrs]
            history.seconds += [(time.perf_counter() - start) / len(lrs)] * len(lrs)
        return params, history
    loop_start = time.perf_counter()
    for epoch in range(epochs):
        start = time.perf_counter()
        order = None if orders is None else next(orders)
        lrs = [schedule(t + i) for i in range(steps)]
        params, loss_sum, hits = run_epoch(params, X, y, order, size, lrs)
        t += steps
        history.lr.append(float(lrs[-1]))
        if pending is not None:
            pending.append((loss_sum, hits))
            history.seconds.append(time.perf_counter())  # a time stamp, made durations below
            continue
        record = {"loss": float(loss_sum) / n, "accuracy": float(hits) / n, "lr": history.lr[-1]}
        history.loss.append(record["loss"])
        history.accuracy.append(record["accuracy"])
        history.seconds.append(time.perf_counter() - start)
        if bar is not None:
            bar.set_postfix(
                loss=f"{record['loss']:.4f}", acc=f"{record['accuracy']:.3f}", refresh=False
            )
            bar.update(1)
        if callback is not None and callback(epoch, params, record):
            break
    if bar is not None:
        bar.close()
    if pending:
        loss_sums, hit_counts = (read_back(xp, column) for column in zip(*pending))
        history.loss = [v / n for v in loss_sums]
        history.accuracy = [v / n for v in hit_counts]
        history.seconds = _epoch_durations(
            loop_start,
            history.seconds,
            time.perf_counter(),
            pipelined=getattr(run_epoch, "pipelined", False),
        )
    return params, history


def _epoch_durations(
    loop_start: float, returned: list[float], done: float, *, pipelined: bool
) -> list[float]:
    """Wall time of each epoch from the times its driver returned and the final read-back.

    A pipelined driver (JAX) returns from epoch ``k + 1`` once epoch ``k`` has finished, so
    epoch ``k`` ended when call ``k + 1`` returned, and the last one when the read-back did.
    """
    ends = [*returned[1:], done] if pipelined else [*returned[:-1], done]
    return [end - begin for begin, end in zip([loop_start, *ends[:-1]], ends)]


def _progress_bar(epochs: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="train", unit="epoch")
