"""Every fast path of training gives the results of the plain one.

``train`` drives the generic step in several ways (``xpnet._drivers``): an eager loop that
hoists loop-invariant work (one-hot targets, epoch sums), ``jax.jit`` per step, the whole
epoch as one jitted ``lax.scan``, and ``torch.compile``. The reference here is the plainest
possible loop, written with the public API only: ``minibatches`` for the sample order,
``xp.take`` for each batch, ``loss_and_grad`` and ``sgd_step``. All must agree in float64
to rounding, on every backend, with the same minibatch order everywhere.
"""

from __future__ import annotations

import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest
from helpers import Backend

import xpnet
from xpnet._compat import device
from xpnet.optim import minibatches

RTOL, ATOL = 1e-10, 1e-12


def _data(n: int = 90, d: int = 5, k: int = 4, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.argmax(X @ rng.standard_normal((d, k)), axis=1)
    return X, y


def _reference(
    X: Any,
    y: Any,
    params: xpnet.Params,
    *,
    epochs: int,
    lr: Any,
    batch_size: int | None,
    shuffle: bool,
    seed: int,
) -> tuple[xpnet.Params, list[float], list[float]]:
    """The plain loop: public functions only, one batch at a time, nothing hoisted."""
    xp = xpnet.namespace(xpnet.backend_name(X))
    schedule = lr if callable(lr) else (lambda t: lr)
    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    orders = minibatches(n, None if full else batch_size, seed=seed, shuffle=shuffle)
    losses, accuracies, t = [], [], 0
    for _ in range(epochs):
        loss_sum = hits = 0.0
        for batch in [None] if full else next(orders):
            if batch is None:
                Xb, yb = X, y
            else:
                idx = xpnet.asarray(np.asarray(batch), backend=xp, device=device(X))
                Xb, yb = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
            loss, grads = xpnet.loss_and_grad(Xb, yb, params)
            predicted = xpnet.to_numpy(xpnet.predict(Xb, params))
            hits += float(np.sum(predicted == xpnet.to_numpy(yb)))
            loss_sum += float(loss) * Xb.shape[0]
            params = xpnet.sgd_step(params, grads, schedule(t))
            t += 1
        losses.append(loss_sum / n)
        accuracies.append(hits / n)
    return params, losses, accuracies


def _assert_params_close(
    a: xpnet.Params, b: xpnet.Params, rtol: float = RTOL, atol: float = ATOL
) -> None:
    for name, p, q in zip(xpnet.Params._fields, a, b):
        np.testing.assert_allclose(
            xpnet.to_numpy(p), xpnet.to_numpy(q), rtol=rtol, atol=atol, err_msg=name
        )


CONFIGS = [  # (n, batch_size, shuffle)
    pytest.param((90, None, True), id="full-batch"),
    pytest.param((90, 16, True), id="batch16-shuffled-remainder"),
    pytest.param((90, 30, False), id="batch30-in-order"),
    pytest.param((20, 1, True), id="single-sample"),
]


def _modes(backend: Backend) -> list[str]:
    return ["auto", "none", "jit", "epoch"] if backend is Backend.JAX else ["auto"]


@pytest.mark.parametrize("config", CONFIGS)
def test_train_equals_the_plain_loop(
    backend: Backend,
    to_xp: Any,
    config: tuple[int, int | None, bool],
    request: pytest.FixtureRequest,
) -> None:
    n, batch_size, shuffle = config
    if backend.library == "dask" and batch_size == 1:
        reason = (
            "Dask bug, not xpnet's: x[i] with i = dask.array.from_array(np.array([0])) (int64) "
            "reports shape (n, ...) instead of (1, ...), so the reference loop's batch of "
            "sample 0 divides by n; xpnet's own Dask driver indexes chunks with NumPy (its "
            "batch_size=1 training is checked against NumPy in test_dask.py). Not run: the "
            "lazy plain loop recomputes its whole history at every step (35 s)"
        )
        request.applymarker(pytest.mark.xfail(run=False, reason=reason))
    X_np, y_np = _data(n=n)
    X, y = to_xp(X_np, dtype="float64"), to_xp(y_np)
    params = xpnet.init_params(5, 7, 4, xp=xpnet.namespace(backend.library), dtype="float64")
    schedule = xpnet.inverse_time_lr(0.3, decay=0.05)
    options = dict(epochs=3, lr=schedule, batch_size=batch_size, shuffle=shuffle, seed=1)
    expected, losses, accuracies = _reference(X, y, params, **options)
    steps = -(-n // (batch_size or n))
    for mode in _modes(backend):
        got, history = xpnet.train(X, y, params, compile=mode, **options)
        _assert_params_close(got, expected)
        np.testing.assert_allclose(history.loss, losses, rtol=RTOL, err_msg=mode)
        assert history.accuracy == accuracies, mode
        assert history.lr == [schedule(steps * (e + 1) - 1) for e in range(3)], mode


def test_minibatch_order_is_the_same_on_every_backend(backend: Backend, to_xp: Any) -> None:
    """Shuffled minibatches of one seed: every backend ends where NumPy ends."""
    X_np, y_np = _data(n=77)
    p_np = xpnet.init_params(5, 6, 4, dtype="float64")
    expected, _ = xpnet.train(X_np, y_np, p_np, epochs=4, lr=0.2, batch_size=10, seed=5)
    X, y = to_xp(X_np, dtype="float64"), to_xp(y_np)
    params = xpnet.init_params(5, 6, 4, xp=xpnet.namespace(backend.library), dtype="float64")
    got, _ = xpnet.train(X, y, params, epochs=4, lr=0.2, batch_size=10, seed=5)
    _assert_params_close(got, expected)


def test_float32_drivers_agree(backend: Backend, to_xp: Any) -> None:
    """float32 where the user asks for it: the dtype is kept and the drivers agree."""
    X_np, y_np = _data(n=64)
    X, y = to_xp(X_np, dtype="float32"), to_xp(y_np)
    params = xpnet.init_params(5, 8, 4, xp=xpnet.namespace(backend.library), dtype="float32")
    results = {
        mode: xpnet.train(X, y, params, epochs=3, lr=0.1, batch_size=16, compile=mode)[0]
        for mode in _modes(backend)[:2]  # the default driver and the eager one
    }
    for got in results.values():
        assert all(p.dtype == X.dtype for p in got)
        _assert_params_close(got, results["auto"], rtol=1e-4, atol=1e-6)


def test_jax_compiles_once_per_shape() -> None:
    """The jitted step and epoch are cached: a second ``train`` call compiles nothing."""
    pytest.importorskip("jax")
    from xpnet._drivers import _jax_compiled

    X_np, y_np = _data(n=50)
    X, y = xpnet.asarray(X_np, backend="jax"), xpnet.asarray(y_np, backend="jax")
    params = xpnet.init_params(5, 6, 4, xp="jax", dtype="float64")
    # train builds this step (the optimizer's own rate zeroed: it comes in per step)
    step = xpnet._engine.Step(xpnet.optim.SGD(0.0))
    compiled = _jax_compiled(step, xpnet.namespace("jax"))
    xpnet.train(X, y, params, epochs=2, lr=0.1, batch_size=16)
    xpnet.train(X, y, params, epochs=2, lr=0.1)  # full batch
    sizes = [f._cache_size() for f in compiled]
    xpnet.train(X, y, params, epochs=3, lr=xpnet.inverse_time_lr(0.1), batch_size=16, seed=4)
    xpnet.train(X, y, params, epochs=70, lr=xpnet.inverse_time_lr(0.1))
    assert [f._cache_size() for f in compiled] == sizes


def test_torch_compile_equals_eager() -> None:
    """``compile="jit"`` on torch (``torch.compile``) gives the eager results."""
    torch = pytest.importorskip("torch")
    if not torch._dynamo.is_dynamo_supported():
        pytest.skip("torch.compile is not supported here")
    X_np, y_np = _data(n=48)  # three shuffled batches of 16: one compiled graph
    X = xpnet.asarray(X_np, backend="torch", dtype="float64")
    y = xpnet.asarray(y_np, backend="torch")
    params = xpnet.init_params(5, 6, 4, xp="torch", dtype="float64")
    schedule = xpnet.inverse_time_lr(0.3, decay=0.1)
    eager, h_eager = xpnet.train(X, y, params, epochs=3, lr=schedule, batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamo's notes on array-api-compat's lru_caches
        compiled, h_comp = xpnet.train(
            X, y, params, epochs=3, lr=schedule, batch_size=16, compile="jit"
        )
    _assert_params_close(compiled, eager)
    np.testing.assert_allclose(h_comp.loss, h_eager.loss, rtol=RTOL)
    assert h_comp.accuracy == h_eager.accuracy


def test_torch_eager_kernels_equal_the_generic_step() -> None:
    """torch's eager loop runs Adam's donated update as ``torch._foreach_*`` calls and ReLU
    as ``torch.relu`` (``xpnet._drivers.torch_eager_step``): the generic step's numbers, to
    rounding, over several epochs of a deep network; a pure (first) step exactly."""
    torch = pytest.importorskip("torch")
    from xpnet._drivers import torch_eager_step
    from xpnet._engine import Step

    X_np, y_np = _data(n=96)
    X = xpnet.asarray(X_np, backend="torch", dtype="float64")
    y = xpnet.asarray(y_np, backend="torch")
    layers = xpnet.init_layers((5, 8, 6, 4), xp="torch", dtype="float64", seed=2)
    adam = xpnet.optim.Adam(0.05)
    xp = xpnet.namespace("torch")
    generic = Step(adam)
    fast = torch_eager_step(generic)
    assert type(fast.optimizer) is not xpnet.optim.Adam
    assert fast.activation != "relu"
    assert torch_eager_step(Step(xpnet.optim.SGD(0.1), activation="tanh")) == Step(
        xpnet.optim.SGD(0.1), activation="tanh"
    )
    carries = {}
    for name, step in (("generic", generic), ("torch", fast)):
        carry = (layers, adam.init(layers))
        for t, start in enumerate(range(0, 96, 16)):
            Xb, yb = X[start : start + 16], y[start : start + 16]
            carry, loss_sum, hits = step(carry, Xb, yb, 0.05, xp=xp, donate=t > 0)
            if t == 0:  # not donated: the pure step, bit for bit
                first = [a.clone() for layer in carry[0] for a in layer]
                carries.setdefault("first", first)
                for a, b in zip(first, carries["first"]):
                    assert torch.equal(a, b)
        carries[name] = carry
    got = [a for layer in carries["torch"][0] for a in layer]
    want = [a for layer in carries["generic"][0] for a in layer]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=RTOL, atol=ATOL)
    for part in ("m", "s"):
        for a, b in zip(
            [x for layer in getattr(carries["torch"][1], part) for x in layer],
            [x for layer in getattr(carries["generic"][1], part) for x in layer],
        ):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=RTOL, atol=ATOL)
    trained, history = xpnet.train(X, y, layers, epochs=3, batch_size=16, optimizer=adam)
    host, host_history = xpnet.train(
        X_np, y_np, xpnet.init_layers((5, 8, 6, 4), dtype="float64", seed=2),
        epochs=3, batch_size=16, optimizer=adam,
    )  # fmt: skip
    for a, b in zip([a for layer in trained for a in layer], [a for la in host for a in la]):
        np.testing.assert_allclose(a.numpy(), b, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(history.loss, host_history.loss, rtol=RTOL)


def test_unknown_compile_mode() -> None:
    X, y = _data(n=10)
    with pytest.raises(ValueError, match="compile: unknown mode 'fast'"):
        xpnet.train(X, y, xpnet.init_params(5, 3, 4), epochs=1, compile="fast")


def test_minibatches_do_not_copy_the_data_set() -> None:
    """Batches are taken by index: training allocates far less than the data's size."""
    X_np, y_np = _data(n=20_000, d=100, k=10)
    params = xpnet.init_params(100, 16, 10, dtype="float64")
    xpnet.train(X_np[:512], y_np[:512], params, epochs=1, lr=0.1, batch_size=64)  # warm-up
    tracemalloc.start()
    try:
        xpnet.train(X_np, y_np, params, epochs=2, lr=0.1, batch_size=64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X_np.nbytes, f"peak {peak} bytes for {X_np.nbytes} bytes of data"


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_large_inputs_are_still_checked_for_finiteness(backend: Backend, to_xp: Any, bad: float):
    """``train`` checks big inputs through their sum (no temporary of their size); a NaN or
    inf anywhere is still found, and huge finite values (a sum that overflows) still pass."""
    X_np, y_np = _data(n=700, d=100, k=3)
    params = xpnet.init_params(100, 4, 3, xp=xpnet.namespace(backend.library), dtype="float64")
    X_bad = X_np.copy()
    X_bad[456, 78] = bad
    with pytest.raises(ValueError, match="X: contains NaN or inf"):
        xpnet.train(to_xp(X_bad, dtype="float64"), to_xp(y_np), params, epochs=1)
    X_huge = np.full_like(X_np, 1e307)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        xpnet._validation.check_finite(
            to_xp(X_huge, dtype="float64"), "X", xp=xpnet.namespace(backend.library)
        )


def test_history_read_back_at_the_end_equals_per_epoch(backend: Backend, to_xp: Any) -> None:
    """Without a callback the epoch sums stay on the device until the end (JAX pipelines
    epochs); the history is the one a per-epoch read-back (callback) gives, and the epoch
    times add up to no more than the call's wall time."""
    import time

    X_np, y_np = _data(n=60)
    X, y = to_xp(X_np, dtype="float64"), to_xp(y_np)
    params = xpnet.init_params(5, 6, 4, xp=xpnet.namespace(backend.library), dtype="float64")
    records: list[dict] = []
    options = dict(epochs=4, lr=0.2, batch_size=16, seed=2)
    watched_params, watched = xpnet.train(
        X, y, params, callback=lambda e, p, r: records.append(r), **options
    )
    start = time.perf_counter()
    quiet_params, quiet = xpnet.train(X, y, params, **options)
    wall = time.perf_counter() - start
    _assert_params_close(quiet_params, watched_params, rtol=0.0, atol=0.0)
    assert quiet.loss == watched.loss == [r["loss"] for r in records]
    assert quiet.accuracy == watched.accuracy == [r["accuracy"] for r in records]
    assert quiet.lr == watched.lr
    assert len(quiet.seconds) == 4
    assert all(s > 0 for s in quiet.seconds)
    assert sum(quiet.seconds) <= wall


def test_jax_full_batch_epochs_in_compiled_chunks() -> None:
    """Full-batch training on JAX runs up to 64 epochs per compiled call; more epochs than
    one chunk (with a schedule across the chunk boundary) equal the eager driver's."""
    pytest.importorskip("jax")
    X_np, y_np = _data(n=40)
    X, y = xpnet.asarray(X_np, backend="jax"), xpnet.asarray(y_np, backend="jax")
    params = xpnet.init_params(5, 6, 4, xp="jax", dtype="float64")
    schedule = xpnet.inverse_time_lr(0.5, decay=0.02)
    eager, h_eager = xpnet.train(X, y, params, epochs=70, lr=schedule, compile="none")
    chunked, h_chunked = xpnet.train(X, y, params, epochs=70, lr=schedule)
    _assert_params_close(chunked, eager)
    np.testing.assert_allclose(h_chunked.loss, h_eager.loss, rtol=RTOL)
    assert h_chunked.accuracy == h_eager.accuracy
    assert h_chunked.lr == h_eager.lr == [schedule(t) for t in range(70)]
    assert len(h_chunked.seconds) == 70
