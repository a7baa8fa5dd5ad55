"""Data-parallel JAX: one training run over several devices, with XLA's all-reduce.

``train(..., devices=...)`` (or data the user already sharded with ``jax.sharding``) puts
the samples of ``X`` and ``y`` in equal row blocks over a one-axis device mesh (axis
``"batch"``) and copies the parameters to every device. Inside the compiled step each
minibatch is constrained to the same row sharding, so every device runs the forward and
the hand-derived backward on its share of the batch; the gradient sums over the batch
(``X^T dJ/da``, ``sum_i dJ/dz_i``) become XLA all-reduces across the devices, and the
update, computed from the reduced gradients, leaves the parameters replicated. The math is
the generic step of :mod:`xpnet.optim`, unchanged: the same numbers as on one device up to
the order of the floating-point sums.

The same code maps onto several GPUs: ``devices=jax.devices("gpu")``; on one host with
``--xla_force_host_platform_device_count=N`` it runs over ``N`` CPU devices.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._optional import optional_import
from ._typing import Array

Step = Callable[..., Any]

#: The name of the mesh axis the samples are split along.
BATCH_AXIS = "batch"


def resolve_devices(devices: Any) -> tuple[Any, ...]:
    """``devices`` as a tuple of ``jax.Device``: a sequence of devices, an int ``N`` (the
    first ``N`` of ``jax.devices()``), or a one-axis ``jax.sharding.Mesh``."""
    jax = optional_import("jax")

    if isinstance(devices, jax.sharding.Mesh):
        if devices.devices.ndim != 1:
            raise ValueError(
                f"devices: a mesh for data parallelism has one axis, got {devices.axis_names}"
            )
        devices = list(devices.devices.flat)
    elif isinstance(devices, int) and not isinstance(devices, bool):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"devices: asked for {devices} devices, JAX has {len(available)} ({available})"
            )
        devices = available[:devices]
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence):
        raise TypeError(
            "devices: expected a sequence of jax devices, an int or a jax.sharding.Mesh, "
            f"got {type(devices).__name__}"
        )
    if len(devices) == 0:
        raise ValueError("devices: is empty; give at least one device")
    for i, d in enumerate(devices):
        if not isinstance(d, jax.Device):
            raise TypeError(f"devices: entry {i} is a {type(d).__name__}, not a jax device")
    platforms = sorted({d.platform for d in devices})
    if len(platforms) > 1:
        raise ValueError(
            f"devices: mixes platforms {platforms}; data parallelism runs one program on "
            "devices of one kind (e.g. jax.devices('gpu'))"
        )
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices: lists a device twice ({list(devices)})")
    return tuple(devices)


def devices_of(x: Array) -> tuple[Any, ...] | None:
    """The devices a JAX array is sharded over, when more than one (else None)."""
    sharding = getattr(x, "sharding", None)
    if sharding is None or len(sharding.device_set) < 2:
        return None
    mesh = getattr(sharding, "mesh", None)
    if mesh is not None and mesh.devices.ndim == 1:
        return tuple(mesh.devices.flat)
    return tuple(sorted(sharding.device_set, key=lambda d: d.id))


@functools.cache
def shardings(devices: tuple[Any, ...]) -> tuple[Any, Any]:
    """``(rows, replicated)``: rows split over the devices' batch axis; copies on each."""
    jax = optional_import("jax")
    from jax.sharding import NamedSharding, PartitionSpec

    mesh = jax.sharding.Mesh(np.array(devices, dtype=object), (BATCH_AXIS,))
    return NamedSharding(mesh, PartitionSpec(BATCH_AXIS)), NamedSharding(mesh, PartitionSpec())


def check_divisible(n: int, batch_size: int | None, devices: tuple[Any, ...]) -> None:
    """Each device gets an equal share of the samples and of every minibatch: no row is
    dropped or padded behind the user's back."""
    count = len(devices)
    if n % count:
        raise ValueError(
            f"X: its {n} samples cannot be split evenly over {count} devices; use a "
            f"multiple of {count} samples (xpnet never drops rows silently)"
        )
    if batch_size is not None and batch_size < n and batch_size % count:
        raise ValueError(
            f"batch_size: {batch_size} is not divisible by the {count} devices; each device "
            "takes an equal share of every minibatch"
        )


@functools.cache
def sharded_step(step: Step, devices: tuple[Any, ...] | None) -> Step:
    """``step`` with its minibatch constrained to the row sharding (cached, so the compiled
    drivers, cached per step, compile once per device set)."""
    if devices is None:
        return step
    jax = optional_import("jax")

    rows, _ = shardings(devices)

    def data_parallel_step(params: Any, X: Array, y: Array, lr: Any, **kwargs: Any) -> Any:
        X = jax.lax.with_sharding_constraint(X, rows)
        y = jax.lax.with_sharding_constraint(y, rows)
        return step(params, X, y, lr, **kwargs)

    return data_parallel_step


def data_parallel(
    X: Array,
    y: Array,
    params: Any,
    *,
    devices: Any,
    batch_size: int | None,
    compile: str = "auto",
) -> tuple[Array, Array, Any, tuple[Any, ...] | None]:
    """What :func:`xpnet.train` does first with ``devices=``: ``X`` and ``y`` split by rows
    over the devices, the parameters replicated; returns them with the devices (None, and
    everything unchanged, when ``devices`` is None and ``X`` is not already sharded)."""
    from ._compat import is_jax_array
    from ._validation import check_positive_int

    if devices is None:
        devices = devices_of(X) if is_jax_array(X) else None
        if devices is None:
            return X, y, params, None
    if not is_jax_array(X):
        raise TypeError(
            f"devices: data parallelism runs on JAX arrays, got X of type {type(X).__name__}; "
            "move the data with xpnet.asarray(X, backend='jax') first"
        )
    if compile == "none":
        raise ValueError(
            "compile: 'none' runs one eager operation at a time, which JAX does not split "
            "over devices; data parallelism (devices=) needs 'auto', 'jit' or 'epoch'"
        )
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
    resolved = resolve_devices(devices)
    if not isinstance(params, tuple):
        raise TypeError(f"params: expected a tuple of arrays, got {type(params).__name__}")
    if not is_jax_array(y) or y.ndim < 1 or X.ndim != 2 or y.shape[0] != X.shape[0]:
        return X, y, params, resolved  # left to the model's checks, which name what is wrong
    check_divisible(int(X.shape[0]), batch_size, resolved)
    rows, _ = shardings(resolved)
    X, y = jax_device_put((X, y), rows)
    return X, y, replicate(params, resolved), resolved


def replicate(tree: Any, devices: tuple[Any, ...] | None) -> Any:
    """Every array of ``tree`` copied onto each of ``devices`` (unchanged when None)."""
    if devices is None:
        return tree
    return jax_device_put(tree, shardings(devices)[1])


def jax_device_put(tree: Any, sharding: Any) -> Any:
    jax = optional_import("jax")

    return jax.device_put(tree, sharding)
