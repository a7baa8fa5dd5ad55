"""The training engine: the one place where epochs run.

Two faces train networks: :func:`xpnet.train` and the scikit-learn estimators. Both are
policies over this engine; neither has a minibatch loop of its own.

- :class:`Step` is one optimizer update on one batch (optimizer, activation, loss, alpha,
  sample weights) and what it reports: the batch's loss sum and hits as ``train`` reports
  them, or the loss as scikit-learn reports it (``report=`` the output activation).
- :class:`Engine` drives a step over epochs through the backend's driver
  (:mod:`xpnet._drivers`: eager, one ``lax.scan`` per JAX epoch, ``torch.compile``, Dask
  streaming, JAX data parallelism). The face brings the sample orders, the learning rates
  of each epoch and a callback after each epoch, which may stop the run.

A new face (a Keras-style ``fit``, a streaming trainer) is another policy here: it makes a
``Step``, an ``Engine``, and calls :meth:`Engine.run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._drivers import epoch_runner
from ._kernels import one_hot
from ._network import l2_half, loss_sum_and_grad
from ._sharding import sharded_step
from ._typing import Array, Namespace
from .losses import LOSSES

__all__ = ["Engine", "EpochResult", "Step", "reported_loss"]


def reported_loss(
    output: Array,
    target: Array,
    layers: Any,
    *,
    out_activation: str,
    alpha: float,
    sample_weight: Array | None,
    xp: Namespace,
) -> Array:
    """The loss scikit-learn reports (``loss_``, ``loss_curve_``), a 0-D array.

    Computed from the outputs ``p`` as scikit-learn does (the gradients come from the core
    and do not depend on it): log-losses on ``p`` clipped to ``[eps, 1 - eps]``, the squared
    error halved and averaged over the outputs too, the Poisson deviance with its constant
    ``y log y - y``; the weighted mean over the samples, plus ``alpha / (2 n_w) sum ||W||^2``.
    """
    if out_activation in ("softmax", "logistic"):
        eps = float(xp.finfo(output.dtype).eps)
        p = xp.minimum(xp.maximum(output, eps), 1.0 - eps)  # clip, without compat's checks
        if out_activation == "softmax":  # target: the one-hot rows
            per_sample = -xp.sum(target * xp.log(p), axis=1)
        else:
            per_sample = -xp.sum(target * xp.log(p) + (1.0 - target) * xp.log(1.0 - p), axis=1)
    elif out_activation == "identity":
        per_sample = 0.5 * xp.sum((target - output) ** 2, axis=1) / output.shape[1]
    else:  # "exp": half the Poisson deviance, with y log(y / p) = 0 where y = 0
        positive = target > 0
        ratio = xp.where(positive, target, xp.ones_like(target)) / output
        y_log = xp.where(positive, target * xp.log(ratio), xp.zeros_like(target))
        per_sample = xp.sum(y_log - target + output, axis=1)
    if sample_weight is None:
        data_loss, total = xp.mean(per_sample), per_sample.shape[0]
    else:
        total = xp.sum(sample_weight)
        data_loss = xp.sum(sample_weight * per_sample) / total
    if alpha == 0:
        return data_loss
    return data_loss + l2_half(layers, alpha, xp=xp) / total


@dataclass(frozen=True)
class Step:
    """One optimizer update on one batch, the generic function every driver runs::

        step((layers, state), X, y, lr, *, xp, e_y=None, weights=None, count=None)
            -> ((layers, state), loss_sum, hits)

    ``y`` holds the labels (cross-entropy) or the target rows; ``e_y`` the one-hot rows
    when a driver keeps them; ``weights`` the rows' sample weights (zero for rows that only
    pad a batch to a fixed shape; ``count`` is then the number of real rows).

    ``report="loss_sum"`` (``train``): the batch's loss sum ``sum_i w_i L_i + alpha / 2
    sum ||W||^2`` and its correct predictions. ``report=`` an output activation
    (``"softmax"``, ``"logistic"``, ``"identity"``, ``"exp"``; the estimators): the loss as
    scikit-learn reports it, times the batch's row count, and no hits.

    Hashable by value (the optimizer's own ``lr`` is zeroed: the rate comes in per step),
    so the compiled drivers reuse their compilations across calls.
    """

    optimizer: Any
    activation: str = "relu"
    loss: str = "cross_entropy"
    alpha: float = 0.0
    report: str = "loss_sum"

    def __call__(
        self,
        carry: Any,
        X: Array,
        y: Array,
        lr: Any,
        *,
        xp: Namespace,
        e_y: Array | None = None,
        weights: Array | None = None,
        count: Any = None,
        donate: bool = False,
    ) -> tuple[Any, Array, Array]:
        layers, state = carry
        spec = LOSSES[self.loss]
        target = e_y
        if target is None:
            labels = spec.labels and y.ndim == 1
            target = one_hot(y, layers[-1].W.shape[1], dtype=X.dtype, xp=xp) if labels else y
        result = loss_sum_and_grad(
            X,
            target,
            layers,
            xp=xp,
            activation=self.activation,
            loss=spec,
            alpha=self.alpha,
            weights=weights,
        )
        if self.report == "loss_sum":
            loss_sum, hits = result.loss_sum, _hits(result.z, y, self.loss, xp=xp)
        else:  # scikit-learn's reported loss, with the weights before the update
            batch_loss = reported_loss(
                result.output,
                target,
                layers,
                out_activation=self.report,
                alpha=self.alpha,
                sample_weight=weights,
                xp=xp,
            )
            loss_sum = batch_loss * (X.shape[0] if count is None else count)
            hits = xp.count_nonzero(result.z[:0, 0] > 0)
        layers, state = self.optimizer._step(
            layers, grads=result.grads, state=state, lr=lr, xp=xp, donate=donate
        )
        return (layers, state), loss_sum, hits

    def targets(self, carry: Any, X: Array, y: Array, *, xp: Namespace) -> Array | None:
        """The one-hot rows of all of ``y`` for cross-entropy labels (built once per run),
        or None when there is nothing to hoist or it would outgrow the data."""
        if not LOSSES[self.loss].labels or y.ndim != 1:
            return None
        n, d = X.shape
        k = carry[0][-1].W.shape[1]
        if n * k > max(n * d, 1 << 20):
            return None
        return one_hot(y, k, dtype=X.dtype, xp=xp)


def _hits(z: Array, y: Array, loss: str, *, xp: Namespace) -> Array:
    """Correct predictions in the batch: the label (cross-entropy), every output of the row
    (binary cross-entropy: exact-match, as scikit-learn's multilabel accuracy); regression
    has none (a count over no rows, 0 in the same integer dtype)."""
    if loss == "cross_entropy" and y.ndim == 1:
        return xp.count_nonzero(xp.argmax(z, axis=1) == y)
    if loss == "cross_entropy":
        return xp.count_nonzero(xp.argmax(z, axis=1) == xp.argmax(y, axis=1))
    if loss == "binary_cross_entropy":
        return xp.count_nonzero(xp.all((z > 0) == (y > 0.5), axis=1))
    return xp.count_nonzero(z[:0, 0] > 0)


@dataclass
class EpochResult:
    """What one epoch left: its index, the parameters and optimizer state after it, the
    sums of its batches' losses and hits (0-D arrays, still on the device), its learning
    rates and its wall time (seconds since the epoch began; the driver may still run)."""

    index: int
    carry: Any
    loss_sum: Array
    hits: Array
    lrs: Sequence[float]
    seconds: float


#: ``on_epoch(result) -> stop?``: called after each epoch; True stops the run.
EpochCallback = Callable[[EpochResult], Any]


class Engine:
    """A :class:`Step` driven over epochs on one backend.

    ``compile`` picks the driver (see :data:`xpnet._drivers.COMPILE_MODES`); ``devices``
    splits each batch over JAX devices; ``fixed_shapes`` (JAX) pads each epoch to shapes
    that do not depend on the number of samples, so that one compilation serves data sets
    of many sizes (cross-validation folds): the rows to a few sizes, the last batch with
    zero-weight rows, the number of steps to a power of two (the extra steps do nothing).
    """

    def __init__(
        self,
        step: Step,
        xp: Namespace,
        *,
        compile: str = "auto",
        devices: tuple[Any, ...] | None = None,
        fixed_shapes: bool = False,
    ) -> None:
        self.step, self.xp = step, xp
        self.runner = epoch_runner(
            sharded_step(step, devices), xp, compile, fixed_shapes=fixed_shapes
        )

    @property
    def pipelined(self) -> bool:
        """Whether epoch ``k`` may still run when the call for it returns (JAX)."""
        return bool(getattr(self.runner, "pipelined", False))

    def epoch(
        self,
        carry: Any,
        X: Array,
        y: Array,
        *,
        order: Any,
        size: int,
        lrs: Sequence[float],
        weights: Array | None = None,
    ) -> tuple[Any, Array, Array]:
        """One epoch: ``(carry, loss_sum, hits)``. ``order``: the sample order (NumPy
        indices), a Dask chunk order, or None (as stored)."""
        return self.runner(carry, X, y, order, size, lrs, weights)

    def run(
        self,
        carry: Any,
        X: Array,
        y: Array,
        *,
        epochs: int,
        size: int,
        order: Callable[[int], Any],
        lrs: Callable[[int], Sequence[float]],
        on_epoch: EpochCallback,
        weights: Array | None = None,
    ) -> Any:
        """Up to ``epochs`` epochs; returns the final carry.

        ``order(epoch)`` and ``lrs(epoch)`` are asked at the start of each epoch (so they
        may depend on what the epochs before reported), ``on_epoch`` after it.
        """
        for index in range(epochs):
            start = time.perf_counter()
            rates = lrs(index)
            carry, loss_sum, hits = self.epoch(
                carry, X, y, order=order(index), size=size, lrs=rates, weights=weights
            )
            result = EpochResult(index, carry, loss_sum, hits, rates, time.perf_counter() - start)
            if on_epoch(result):
                break
        return carry

    def full_batch_epochs(
        self, carry: Any, X: Array, y: Array, lrs: Sequence[float]
    ) -> tuple[Any, list[float], list[float]] | None:
        """Many full-batch epochs in one compiled call where the driver can (JAX), their
        loss sums and hits read back; None where it cannot."""
        many = getattr(self.runner, "full_batch_epochs", None)
        return None if many is None else many(carry, X, y, lrs)

    @property
    def runs_many_full_batch_epochs(self) -> bool:
        """Whether :meth:`full_batch_epochs` can run (a compiling driver: JAX)."""
        return getattr(self.runner, "full_batch_epochs", None) is not None

    @property
    def full_batch_chunk(self) -> int:
        return int(getattr(self.runner, "full_batch_chunk", 1))
