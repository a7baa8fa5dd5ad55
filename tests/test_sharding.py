"""Data-parallel JAX: ``train(..., devices=...)`` over host devices equals one device.

The conftest starts JAX with two host CPU devices; eight devices need a fresh process
(XLA reads ``--xla_force_host_platform_device_count`` once), so that case runs in a
subprocess. The oracle is single-device training (float64, to 1e-10).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest

import xpnet

jax = pytest.importorskip("jax")

from xpnet import _sharding  # noqa: E402

N, D, H, K = 48, 5, 8, 3


def two_devices() -> list[Any]:
    devices = jax.devices("cpu")
    if len(devices) < 2:
        pytest.skip("JAX started before the conftest could ask for two host devices")
    return devices[:2]


@pytest.fixture
def problem() -> tuple[Any, Any, xpnet.Params]:
    rng = np.random.default_rng(0)
    X = xpnet.asarray(rng.standard_normal((N, D)), backend="jax")
    y = xpnet.asarray(rng.integers(0, K, N), backend="jax")
    return X, y, xpnet.init_params(D, H, K, xp="jax", seed=3, dtype="float64")


def assert_same_training(a: Any, b: Any) -> None:
    (pa, ha), (pb, hb) = a, b
    for u, v in zip(pa, pb):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-10)
    np.testing.assert_allclose(ha.accuracy, hb.accuracy, rtol=1e-12)


@pytest.mark.parametrize(("batch_size", "compile"), [(None, "auto"), (12, "auto"), (16, "jit")])
def test_two_devices_equal_one(problem, batch_size, compile) -> None:
    X, y, params = problem
    devices = two_devices()
    kwargs = {"epochs": 4, "lr": 0.2, "batch_size": batch_size, "seed": 1, "compile": compile}
    sharded = xpnet.train(X, y, params, devices=devices, **kwargs)
    assert_same_training(sharded, xpnet.train(X, y, params, **kwargs))
    trained = sharded[0]
    for p in trained:  # the parameters stay replicated: a full copy on each device
        assert p.sharding.device_set == set(devices)
        assert p.sharding.is_fully_replicated


def test_data_sharded_by_the_user_is_trained_where_it_lies(problem) -> None:
    X, y, params = problem
    devices = two_devices()
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    Xs, ys = jax.device_put((X, y), rows)
    sharded = xpnet.train(Xs, ys, params, epochs=3, lr=0.2, batch_size=8)
    assert sharded[0].W1.sharding.device_set == set(devices)
    assert_same_training(sharded, xpnet.train(X, y, params, epochs=3, lr=0.2, batch_size=8))


def test_the_compiled_step_all_reduces_the_gradients(problem) -> None:
    X, y, params = problem
    devices = tuple(two_devices())
    from xpnet._drivers import _jax_compiled
    from xpnet._engine import Step
    from xpnet.optim import SGD, SGDState

    step = Step(SGD(0.0))
    layers = (xpnet.Layer(params.W1, params.b1), xpnet.Layer(params.W2, params.b2))
    carry = (layers, SGDState(()))
    batch = np.arange(8, dtype=np.int32)
    jnp = xpnet.namespace("jax")
    Xs, ys, _, placed = _sharding.data_parallel(X, y, params, devices=devices, batch_size=8)
    sharded = _jax_compiled(_sharding.sharded_step(step, placed), jnp)[0]
    args = (_sharding.replicate(carry, placed), Xs, ys, None, batch, 0.1)  # no weights
    assert "all-reduce" in sharded.lower(*args).compile().as_text()
    single = _jax_compiled(step, jnp)[0]
    assert "all-reduce" not in single.lower(carry, X, y, None, batch, 0.1).compile().as_text()


EIGHT_DEVICES = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, numpy as np, xpnet
    jax.config.update("jax_enable_x64", True)
    assert len(jax.devices()) == 8
    rng = np.random.default_rng(0)
    X = xpnet.asarray(rng.standard_normal((64, 5)), backend="jax")
    y = xpnet.asarray(rng.integers(0, 3, 64), backend="jax")
    params = xpnet.init_params(5, 8, 3, xp="jax", seed=3, dtype="float64")
    for batch_size in (None, 16):
        kwargs = dict(epochs=2, lr=0.2, batch_size=batch_size, seed=1)
        one, h1 = xpnet.train(X, y, params, **kwargs)
        eight, h8 = xpnet.train(X, y, params, devices=jax.devices(), **kwargs)
        assert eight.W1.sharding.device_set == set(jax.devices())
        for a, b in zip(one, eight):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h8.loss, h1.loss, rtol=1e-10)
    print("eight devices: equal")
    """
)


def test_eight_devices_equal_one_in_a_fresh_process() -> None:
    src = Path(xpnet.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICES],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eight devices: equal" in result.stdout


# --- bad input ----------------------------------------------------------------------------


def test_devices_must_be_jax_devices_of_one_platform(problem) -> None:
    X, y, params = problem
    with pytest.raises(ValueError, match=r"^devices: is empty"):
        xpnet.train(X, y, params, epochs=1, devices=[])
    with pytest.raises(TypeError, match=r"^devices: entry 1 is a str"):
        xpnet.train(X, y, params, epochs=1, devices=[jax.devices()[0], "cpu:1"])
    with pytest.raises(TypeError, match=r"^devices: expected a sequence"):
        xpnet.train(X, y, params, epochs=1, devices="cpu")
    with pytest.raises(ValueError, match=r"^devices: asked for 99 devices"):
        xpnet.train(X, y, params, epochs=1, devices=99)
    with pytest.raises(ValueError, match=r"^devices: lists a device twice"):
        xpnet.train(X, y, params, epochs=1, devices=[jax.devices()[0]] * 2)
    # A GPU next to the CPU: this machine has none, so an object that passes for one.
    gpu = mock.create_autospec(jax.Device, instance=True)
    gpu.platform = "gpu"
    with pytest.raises(ValueError, match=r"^devices: mixes platforms \['cpu', 'gpu'\]"):
        xpnet.train(X, y, params, epochs=1, devices=[jax.devices()[0], gpu])


def test_devices_need_jax_arrays_and_a_compiled_mode(problem) -> None:
    X, y, params = problem
    Xn, yn = np.asarray(X), np.asarray(y)
    pn = xpnet.Params(*(np.asarray(p) for p in params))
    with pytest.raises(TypeError, match=r"^devices: data parallelism runs on JAX arrays"):
        xpnet.train(Xn, yn, pn, epochs=1, devices=2)
    with pytest.raises(ValueError, match=r"^compile: 'none' runs one eager operation"):
        xpnet.train(X, y, params, epochs=1, devices=two_devices(), compile="none")


def test_samples_and_batches_must_split_evenly(problem) -> None:
    X, y, params = problem
    devices = two_devices()
    with pytest.raises(ValueError, match=r"^X: its 47 samples cannot be split evenly over 2"):
        xpnet.train(X[:47], y[:47], params, epochs=1, devices=devices)
    with pytest.raises(ValueError, match=r"^batch_size: 7 is not divisible by the 2 devices"):
        xpnet.train(X, y, params, epochs=1, batch_size=7, devices=devices)
