"""``train``: the lecture's training loop as a policy over the engine.

It brings what a researcher's loop has: seeded sample orders, the same on every backend; a
learning-rate schedule; a :class:`History` of each epoch; a progress bar; a callback that may
stop training; optional sample weights and validation data. The epochs themselves run in
:mod:`xpnet._engine`, which the scikit-learn estimators share.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _validation as check
from ._compat import is_dask_array
from ._dask import check_chunks, check_known_chunks, chunk_orders
from ._drivers import read_back
from ._engine import Engine, EpochResult, Step
from ._network import check_model, forward_layers, mean_loss
from ._rng import epoch_orders
from ._sharding import data_parallel, replicate
from ._typing import Array, like
from .optim import SGD, Adam, Optimizer, Schedule, as_schedule

__all__ = ["History", "train"]


@dataclass
class History:
    """What :func:`train` saw, one entry per epoch.

    ``loss`` and ``accuracy`` are per-sample means over the epoch: every sample counts once
    (weighted by ``sample_weight`` when given), its loss and whether its class was predicted
    right, measured with the parameters of its minibatch just before that minibatch's update
    (as scikit-learn's ``loss_curve_``); with ``alpha``, each batch's L2 term counts once. They
    are not the mean of the batch means, which weighs a short last batch like a full one (iris,
    ``batch_size=16``, seed 0, first epoch: 1.11712 against 1.10705), nor the loss or accuracy
    of the parameters at the end of the epoch (evaluate those with :func:`cross_entropy` and
    :func:`predict`, or pass ``validation=``). ``accuracy`` is empty for regression losses.
    ``lr`` is the last learning rate of the epoch; ``seconds`` the wall time of the epoch
    (where a compiled driver runs several full-batch epochs in one call, their mean).

    With ``validation=(X_val, y_val)``, ``val_loss`` and ``val_accuracy`` are the mean loss
    (with the same L2 penalty) and the accuracy of the parameters as they stand at the end
    of each epoch, on those rows.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)


def train(
    X: Array,
    y: Array,
    params: Any,
    /,
    *,
    epochs: int = 100,
    lr: float | Schedule | None = None,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    progress: bool = False,
    callback: Callable[[int, Any, dict[str, float]], bool | None] | None = None,
    compile: str = "auto",
    optimizer: Optimizer | None = None,
    activation: str = "relu",
    loss: str = "cross_entropy",
    alpha: float = 0.0,
    devices: Any = None,
    sample_weight: Array | None = None,
    validation: tuple[Array, Array] | None = None,
) -> tuple[Any, History]:
    """Train the network; return the final parameters and the per-epoch history.

    With none of ``optimizer``, ``activation``, ``loss``, ``alpha`` given, this is the
    lecture's SGD on the cross-entropy of a ReLU network.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs, floating, finite.
    y : array
        Labels in ``[0, K)`` (cross-entropy), or ``(n, K)`` targets for the other losses.
    params : Params or tuple of Layer
        Initial parameters (see :func:`init_params`, :func:`init_layers`); never modified.
        The result has the same form.
    epochs : int
        Passes over the data.
    lr : float or callable, optional
        A constant learning rate, or a schedule ``t -> eta_t`` over steps
        (e.g. :class:`inverse_time_lr`). Default: the optimizer's ``lr`` (0.1 for the
        default plain SGD).
    batch_size : int, optional
        ``None``: full-batch gradient descent; ``1``: single-sample SGD; ``m``:
        minibatches of ``m`` samples (the last one may be smaller).
    shuffle : bool
        ``True`` (default): a new order of the samples every epoch, drawn from ``seed``, the
        same on every backend. ``False``: every epoch visits the samples in their stored order,
        ``0, 1, ..., n - 1``, cut into the same consecutive minibatches, and ``seed`` is not
        used; with ``batch_size=1`` this is the slides' single-sample SGD. Full-batch training
        is the same either way.
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
    optimizer : SGD or Adam, optional
        The update rule; default ``SGD(lr)`` without momentum.
    activation, loss, alpha
        As for :func:`loss_and_grad`. For regression losses ``History.accuracy`` stays
        empty.
    devices : sequence of jax devices, int or jax.sharding.Mesh, optional
        JAX data parallelism: the samples of every batch split over these devices (the
        first ``N`` of ``jax.devices()`` for an int), the parameters replicated, the
        gradients all-reduced by XLA; the samples and the batch size must divide evenly.
        Data already sharded over several devices trains there without ``devices``.
    sample_weight : array of shape (n,), optional
        Non-negative weights of the samples: each batch's gradient is that of its weighted
        mean loss (as :func:`loss_and_grad` with ``sample_weight``), and ``History.loss`` the
        weighted mean. Not on Dask arrays (the estimators' ``fit`` takes them there).
    validation : (X_val, y_val), optional
        Rows to evaluate the parameters on after each epoch: fills ``History.val_loss``
        and ``History.val_accuracy``. Same backend, dtype and kind of targets as ``X, y``.

    Notes
    -----
    On Dask arrays (row chunks holding whole samples), full-batch training runs each epoch
    as one map-reduce over the chunks and one ``persist``; with a ``batch_size`` the chunks
    are streamed to this process in a seeded order (chunks, then rows within a chunk)
    while the next one is computed. See the "Scaling out" guide.

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict")
    >>> params = xpnet.init_params(2, 10, 3, xp="array_api_strict", seed=0)
    >>> params, history = xpnet.train(X, y, params, epochs=50, lr=0.5)
    >>> history.loss[-1] < history.loss[0]
    True
    """
    # the options first: their checks read no data, so a call with a bad option and bad
    # data fails on the option on every backend (Dask reads values only when computing)
    check.check_positive_int(epochs, "epochs", allow_zero=True)
    if batch_size is not None:
        check.check_positive_int(batch_size, "batch_size")
    check.check_seed(seed)
    check.check_bool(shuffle, "shuffle")
    check.check_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
    if lr is not None:
        schedule = as_schedule(lr)
    if optimizer is None:
        optimizer = SGD(0.1 if lr is None or callable(lr) else lr)
    elif not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(
            f"optimizer: expected xpnet.optim.SGD or Adam, got {type(optimizer).__name__}"
        )
    if lr is None:
        schedule = as_schedule(optimizer.lr)
    if validation is not None and (not isinstance(validation, tuple) or len(validation) != 2):
        raise TypeError(
            f"validation: expected a tuple (X_val, y_val), got {type(validation).__name__}"
        )
    for name, array in (("X", X), ("y", y)):
        if is_dask_array(array):  # before the shape checks, which need the sizes
            check_known_chunks(array, name)
    X, y, params, devices = data_parallel(
        X, y, params, devices=devices, batch_size=batch_size, compile=compile
    )
    checked = check_model(
        X, params, y, activation=activation, loss=loss, alpha=alpha, sample_weight=sample_weight
    )
    xp = checked.xp
    if is_dask_array(X):
        check_chunks(X, y)
        if sample_weight is not None:
            raise TypeError(
                "sample_weight: not supported on Dask arrays by train yet; train on in-memory "
                "arrays to weight the samples, or fit xpnet.MLPClassifier / MLPRegressor, "
                "whose fit streams the weights with the chunks"
            )
    check.check_finite(X, "X", xp=xp)
    evaluate = None
    if validation is not None:
        evaluate = _validation(validation, params, checked, alpha=float(alpha))
    step = Step(
        dataclasses.replace(optimizer, lr=0.0),
        checked.activation.name,
        checked.loss.name,
        float(alpha),
    )
    engine = Engine(step, xp, compile=compile, devices=devices)
    classifier = checked.loss.output_name in ("softmax", "logistic")
    labels = y if checked.loss.labels else checked.target
    weights = checked.weights if sample_weight is not None else None
    user_params = params
    carry = replicate((checked.layers, optimizer._init(checked.layers)), devices)
    n = X.shape[0]
    total = float(n) if weights is None else float(xp.sum(weights))
    size = n if batch_size is None or batch_size >= n else batch_size
    steps = -(-n // size)
    # Same draws as `minibatches`: one permutation per epoch, only when there is an order.
    orders: Iterator[Any] | None = None
    if shuffle and size < n:
        orders = epoch_orders(n, seed=seed, shuffle=True)
        if is_dask_array(X):  # streamed chunk by chunk: an order of chunks, then of rows
            orders = chunk_orders(X.chunks[0], seed=seed, shuffle=True)
    history = History()
    bar = _progress_bar(epochs, progress)
    # Unless a callback or the progress bar needs each epoch's numbers at once, the epoch
    # sums stay on the device and are read back together at the end: one transfer instead
    # of two per epoch (each a synchronisation on asynchronous backends such as JAX).
    watched = callback is not None or bar is not None
    pending: list[tuple[Array, ...]] = []
    if not watched and evaluate is None and orders is None and size >= n and weights is None:
        chunked = _full_batch_epochs(engine, carry, X, labels, schedule, epochs, n, classifier)
        if chunked is not None:
            carry, history = chunked
            return like(carry[0], user_params), history

    def rates(epoch: int) -> list[float]:
        first = epoch * steps
        return [schedule(first + i) for i in range(steps)]

    def after_epoch(result: EpochResult) -> bool:
        history.lr.append(float(result.lrs[-1]))
        extra = () if evaluate is None else evaluate(result.carry[0])
        if not watched:
            pending.append((result.loss_sum, result.hits, *extra))
            history.seconds.append(time.perf_counter())  # a time stamp, made durations below
            return False
        record = {"loss": float(result.loss_sum) / total, "lr": history.lr[-1]}
        history.loss.append(record["loss"])
        if classifier:
            record["accuracy"] = float(result.hits) / n
            history.accuracy.append(record["accuracy"])
        if extra:
            record["val_loss"] = float(extra[0])
            history.val_loss.append(record["val_loss"])
            if classifier:
                record["val_accuracy"] = float(extra[1])
                history.val_accuracy.append(record["val_accuracy"])
        history.seconds.append(result.seconds)
        if bar is not None:
            shown = {"loss": f"{record['loss']:.4f}"}
            if classifier:
                shown["acc"] = f"{record['accuracy']:.3f}"
            if "val_loss" in record:
                shown["val_loss"] = f"{record['val_loss']:.4f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(1)
        if callback is not None:
            return bool(callback(result.index, like(result.carry[0], user_params), record))
        return False

    loop_start = time.perf_counter()
    carry = engine.run(
        carry,
        X,
        labels,
        epochs=epochs,
        size=size,
        order=lambda _: None if orders is None else next(orders),
        lrs=rates,
        on_epoch=after_epoch,
        weights=weights,
    )
    if bar is not None:
        bar.close()
    if pending:
        columns = [read_back(xp, list(column)) for column in zip(*pending)]
        history.loss = [v / total for v in columns[0]]
        history.accuracy = [v / n for v in columns[1]] if classifier else []
        if evaluate is not None:
            history.val_loss = columns[2]
            history.val_accuracy = columns[3] if classifier else []
        history.seconds = _epoch_durations(
            loop_start, history.seconds, time.perf_counter(), pipelined=engine.pipelined
        )
    return like(carry[0], user_params), history


def _full_batch_epochs(
    engine: Engine,
    carry: Any,
    X: Array,
    labels: Array,
    schedule: Schedule,
    epochs: int,
    n: int,
    classifier: bool,
) -> tuple[Any, History] | None:
    """Full batch, nobody watching each epoch, a compiling driver (JAX): many epochs per
    compiled call. Each epoch is still one step on the whole batch. None where the driver
    cannot."""
    if not engine.runs_many_full_batch_epochs:
        return None
    history = History()
    chunk = engine.full_batch_chunk
    for first in range(0, epochs, chunk):
        start = time.perf_counter()
        lrs = [schedule(first + i) for i in range(min(chunk, epochs - first))]
        result = engine.full_batch_epochs(carry, X, labels, lrs)
        assert result is not None
        carry, loss_sums, hit_counts = result
        history.loss += [v / n for v in loss_sums]
        if classifier:
            history.accuracy += [v / n for v in hit_counts]
        history.lr += [float(v) for v in lrs]
        history.seconds += [(time.perf_counter() - start) / len(lrs)] * len(lrs)
    return carry, history


def _validation(
    validation: tuple[Array, Array], params: Any, checked: Any, *, alpha: float
) -> Callable[[Any], tuple[Array, ...]]:
    """``evaluate(layers) -> (val_loss, val_accuracy)``: 0-D arrays, on the validation rows
    (checked here like the training data: same backend, kinds of targets, finite)."""
    X_val, y_val = validation
    val = check_model(
        X_val,
        params,
        y_val,
        activation=checked.activation.name,
        loss=checked.loss.name,
        alpha=alpha,
    )
    if val.xp is not checked.xp:
        raise TypeError("validation: X_val and y_val must come from the training data's backend")
    xp = val.xp
    check.check_finite(X_val, "X_val", xp=xp)
    spec, activation = val.loss, val.activation
    labels = y_val if spec.labels else None
    target: Any = val.target

    def evaluate(layers: Any) -> tuple[Array, ...]:
        loss = mean_loss(
            X_val, target, layers, xp=xp, activation=activation, loss=spec, alpha=alpha
        )
        if spec.output_name == "softmax" and labels is not None:
            z = forward_layers(X_val, layers, activation=activation, xp=xp)[1]
            right = xp.count_nonzero(xp.argmax(z, axis=1) == labels)
            return loss, xp.astype(right, X_val.dtype) / X_val.shape[0]
        if spec.output_name == "logistic":
            z = forward_layers(X_val, layers, activation=activation, xp=xp)[1]
            right = xp.count_nonzero(xp.all((z > 0) == (target > 0.5), axis=1))
            return loss, xp.astype(right, X_val.dtype) / X_val.shape[0]
        return (loss,)

    return evaluate


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
