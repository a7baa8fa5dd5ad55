"""xpnet.optim: sgd_step, learning-rate schedules, minibatches, train.

``train`` is checked against the lecture's SGD written out by hand: a loop of
``loss_and_grad`` and ``sgd_step`` over the minibatches of :func:`xpnet.optim.minibatches`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import Backend, assert_close, assert_params_close, params_to_backend, to_backend

import xpnet
from xpnet.optim import constant_lr, inverse_time_lr, minibatches

#: float64 agreement between train() and the hand-written loop (eager: identical
#: operations; JAX runs train's step under jax.jit, which may fuse and round differently).
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return xpnet.datasets.load_iris_2d(backend="numpy", dtype="float64")


def _sgd_by_hand(X, y, params, *, epochs, schedule, batch_size=None, seed=0, shuffle=True):
    """The lecture's SGD slides on NumPy: select m samples, g <- grad, theta <- theta - eta_t g."""
    n = X.shape[0]
    size = batch_size if batch_size is not None and batch_size < n else None
    orders = minibatches(n, size, seed=seed, shuffle=shuffle)
    t, losses = 0, []
    for _ in range(epochs):
        total = 0.0
        for idx in next(orders):
            loss, grads = xpnet.loss_and_grad(X[idx], y[idx], params)
            total += float(loss) * len(idx)
            params = xpnet.sgd_step(params, grads, schedule(t))
            t += 1
        losses.append(total / n)
    return params, losses


# --- sgd_step and schedules --------------------------------------------------------------------


def test_sgd_step_accepts_a_0d_array_learning_rate(backend: Backend, xp) -> None:
    params = params_to_backend(xpnet.init_params(2, 3, 2, init="lecture"), backend)
    grads = params_to_backend([np.ones((2, 3)), np.ones(3), np.ones((3, 2)), np.ones(2)], backend)
    lr = to_backend(np.asarray(0.5), backend)
    stepped = xpnet.sgd_step(params, grads, lr)
    expected = [p - 0.5 for p in xpnet.init_params(2, 3, 2, init="lecture")]
    assert_params_close(stepped, expected, backend=backend, rtol=0, atol=0)


@pytest.mark.parametrize("lr", [-0.1, math.nan, math.inf])
def test_sgd_step_rejects_a_bad_learning_rate(lr: float) -> None:
    params = xpnet.init_params(2, 3, 2)
    with pytest.raises(ValueError, match=r"^lr: the learning rate must be finite and >= 0"):
        xpnet.sgd_step(params, params, lr)


def test_sgd_step_rejects_mismatched_gradients(backend: Backend) -> None:
    params = params_to_backend(xpnet.init_params(2, 3, 2), backend)
    with pytest.raises(ValueError, match=r"^grads.W1: shape \(3, 2\) differs from \(2, 3\)"):
        xpnet.sgd_step(params, params._replace(W1=params.W2), 0.1)
    with pytest.raises(ValueError, match=r"^grads: has 3 arrays"):
        xpnet.sgd_step(params, tuple(params[:3]), 0.1)
    with pytest.raises(TypeError, match=r"^params: expected Params"):
        xpnet.sgd_step(list(params), params, 0.1)


def test_constant_and_inverse_time_schedules() -> None:
    assert [constant_lr(0.3)(t) for t in (0, 1, 1000)] == [0.3, 0.3, 0.3]
    schedule = inverse_time_lr(0.5, decay=0.1)
    assert [schedule(t) for t in (0, 10, 30)] == [0.5, 0.25, 0.125]
    assert inverse_time_lr(1.0)(100) == 0.5  # default decay 0.01


# --- minibatches -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "size"), [(10, 3), (10, 1), (10, 10), (7, None), (150, 16)])
def test_minibatches_partition_every_epoch(n: int, size: int | None) -> None:
    epochs = minibatches(n, size, seed=3)
    orders = []
    for _ in range(3):
        batches = next(epochs)
        expected_sizes = [size or n] * (n // (size or n)) + (
            [n % size] if size and n % size else []
        )
        assert [len(b) for b in batches] == expected_sizes
        order = np.concatenate(batches)
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        orders.append(order)
    if n > 1:  # a new order each epoch
        assert not all(np.array_equal(orders[0], o) for o in orders[1:])


def test_minibatches_follow_the_seed() -> None:
    a, b, c = minibatches(20, 4, seed=1), minibatches(20, 4, seed=1), minibatches(20, 4, seed=2)
    first_a, first_b, first_c = next(a), next(b), next(c)
    assert all(np.array_equal(x, y) for x, y in zip(first_a, first_b))
    assert not all(np.array_equal(x, y) for x, y in zip(first_a, first_c))


def test_minibatches_without_shuffling_keep_the_order() -> None:
    epochs = minibatches(5, 2, shuffle=False)
    for _ in range(2):
        assert [b.tolist() for b in next(epochs)] == [[0, 1], [2, 3], [4]]


# --- train: the lecture's SGD on every backend ---------------------------------------------------


@pytest.mark.parametrize(
    ("batch_size", "lr", "epochs"),
    [
        (None, 0.5, 8),  # full-batch gradient descent
        (16, 0.2, 3),  # minibatch SGD (the last batch of each epoch has 6 samples)
        (150, 0.5, 4),  # a batch as large as the data is full batch
    ],
    ids=["full-batch", "minibatch-16", "batch-n"],
)
def test_train_is_sgd_by_hand(backend: Backend, iris, batch_size, lr, epochs) -> None:
    X, y = iris
    start = xpnet.init_params(2, 10, 3, seed=0)
    expected, losses = _sgd_by_hand(
        X, y, start, epochs=epochs, schedule=constant_lr(lr), batch_size=batch_size, seed=4
    )
    params, history = xpnet.train(
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(start, backend),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=4,
    )
    assert isinstance(params, xpnet.Params)
    assert_params_close(params, expected, backend=backend, **TOL)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)
    assert history.lr == [lr] * epochs


def test_single_sample_sgd_is_sgd_by_hand(backend: Backend, iris) -> None:
    X, y = iris[0][::10], iris[1][::10]  # 15 samples, 15 steps per epoch
    start = xpnet.init_params(2, 6, 3, seed=1)
    expected, losses = _sgd_by_hand(
        X, y, start, epochs=2, schedule=constant_lr(0.05), batch_size=1, seed=9
    )
    params, history = xpnet.train(
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(start, backend),
        epochs=2,
        lr=0.05,
        batch_size=1,
        seed=9,
    )
    assert_params_close(params, expected, backend=backend, **TOL)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)


def test_inverse_time_schedule_decreases_per_step(backend: Backend, iris) -> None:
    X, y = iris
    schedule = inverse_time_lr(0.5, decay=0.05)
    start = xpnet.init_params(2, 10, 3, seed=2)
    expected, _ = _sgd_by_hand(X, y, start, epochs=3, schedule=schedule, batch_size=50, seed=0)
    params, history = xpnet.train(
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(start, backend),
        epochs=3,
        lr=schedule,
        batch_size=50,
    )
    assert_params_close(params, expected, backend=backend, **TOL)
    # 3 steps per epoch: the last step of epoch e is t = 3 e + 2
    assert history.lr == pytest.approx([schedule(2), schedule(5), schedule(8)], rel=1e-15)
    assert history.lr[0] > history.lr[1] > history.lr[2]


def test_shuffle_false_visits_samples_in_order(iris) -> None:
    X, y = iris
    start = xpnet.init_params(2, 4, 3, seed=0)
    expected, _ = _sgd_by_hand(
        X, y, start, epochs=2, schedule=constant_lr(0.1), batch_size=40, shuffle=False
    )
    params, _ = xpnet.train(X, y, start, epochs=2, lr=0.1, batch_size=40, shuffle=False)
    assert_params_close(params, expected, rtol=0, atol=0)


def test_history_has_one_entry_per_epoch(backend: Backend, iris) -> None:
    X, y = iris
    start = params_to_backend(xpnet.init_params(2, 10, 3, seed=0), backend)
    Xb, yb = to_backend(X, backend), to_backend(y, backend)
    params, history = xpnet.train(Xb, yb, start, epochs=7, lr=0.3)
    assert len(history) == 7
    for series in (history.loss, history.accuracy, history.lr, history.seconds):
        assert len(series) == 7
        assert all(isinstance(v, float) for v in series)
    assert all(0.0 <= a <= 1.0 for a in history.accuracy)
    assert all(s >= 0 for s in history.seconds)
    # full batch: entry 0 is measured at the initial parameters, before their update
    loss0, _ = xpnet.loss_and_grad(Xb, yb, start)
    assert history.loss[0] == pytest.approx(float(loss0), rel=1e-12)
    accuracy0 = np.mean(xpnet.to_numpy(xpnet.predict(Xb, start)) == y)
    assert history.accuracy[0] == pytest.approx(accuracy0, abs=1e-12)


def test_zero_epochs_returns_the_initial_parameters(backend: Backend, iris) -> None:
    X, y = iris
    start = params_to_backend(xpnet.init_params(2, 4, 3), backend)
    params, history = xpnet.train(to_backend(X, backend), to_backend(y, backend), start, epochs=0)
    assert len(history) == 0
    assert_params_close(params, start, rtol=0, atol=0)


def test_callback_sees_every_epoch_and_can_stop_training(backend: Backend, iris) -> None:
    X, y = iris
    seen = []

    def callback(epoch: int, params: xpnet.Params, record: dict) -> bool:
        assert isinstance(params, xpnet.Params)
        assert xpnet.backend_name(params.W1) == backend.library
        seen.append((epoch, dict(record)))
        return epoch == 2  # stop after the third epoch

    _, history = xpnet.train(
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(xpnet.init_params(2, 4, 3), backend),
        epochs=50,
        lr=0.1,
        callback=callback,
    )
    assert [epoch for epoch, _ in seen] == [0, 1, 2]
    assert len(history) == 3
    assert set(seen[0][1]) == {"loss", "accuracy", "lr"}
    assert [record["loss"] for _, record in seen] == history.loss


def test_callback_returning_none_does_not_stop(iris) -> None:
    X, y = iris
    _, history = xpnet.train(
        X, y, xpnet.init_params(2, 4, 3), epochs=4, callback=lambda *args: None
    )
    assert len(history) == 4


def test_progress_bar_runs_and_reports(backend: Backend, iris, capsys) -> None:
    X, y = iris
    _, history = xpnet.train(
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(xpnet.init_params(2, 4, 3), backend),
        epochs=5,
        progress=True,
    )
    assert len(history) == 5
    err = capsys.readouterr().err
    assert "train" in err
    assert "5/5" in err


def test_train_does_not_modify_its_inputs(backend: Backend, iris) -> None:
    X, y = iris
    start = xpnet.init_params(2, 4, 3, seed=0)
    Xb, yb, params = (
        to_backend(X, backend),
        to_backend(y, backend),
        params_to_backend(start, backend),
    )
    xpnet.train(Xb, yb, params, epochs=3, lr=0.5, batch_size=32)
    assert_close(Xb, X, backend=backend, rtol=0, atol=0)
    assert_close(yb, y, backend=backend, rtol=0, atol=0)
    assert_params_close(params, start, backend=backend, rtol=0, atol=0)


def test_jax_compiled_and_eager_training_agree(iris) -> None:
    pytest.importorskip("jax")
    X, y = (to_backend(a, Backend.JAX) for a in iris)
    start = params_to_backend(xpnet.init_params(2, 10, 3, seed=0), Backend.JAX)
    jitted, h_jit = xpnet.train(X, y, start, epochs=4, lr=0.3, batch_size=50, compile="auto")
    eager, h_eager = xpnet.train(X, y, start, epochs=4, lr=0.3, batch_size=50, compile="none")
    assert_params_close(jitted, eager, **TOL)
    np.testing.assert_allclose(h_jit.loss, h_eager.loss, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"epochs": -1}, ValueError, r"^epochs: must be >= 0"),
        ({"epochs": 2.5}, TypeError, r"^epochs: expected an int"),
        ({"batch_size": 0}, ValueError, r"^batch_size: must be >= 1"),
        ({"batch_size": 1.5}, TypeError, r"^batch_size: expected an int"),
        ({"lr": -0.5}, ValueError, r"^lr: the learning rate must be finite"),
        ({"lr": math.nan}, ValueError, r"^lr:"),
        ({"lr": "fast"}, TypeError, r"^lr: expected a number or a schedule"),
        ({"compile": "magic"}, ValueError, r"^compile: unknown mode 'magic'"),
    ],
)
def test_train_rejects_bad_options(iris, kwargs: dict, error: type, pattern: str) -> None:
    X, y = iris
    with pytest.raises(error, match=pattern):
        xpnet.train(X, y, xpnet.init_params(2, 4, 3), **kwargs)
