"""Dask: lazy graphs, training equal to in-memory NumPy, chunk checks, a LocalCluster.

The oracle of every training test is in-memory NumPy training (``xpnet.train`` on the
computed arrays) with the same sample order; Dask must give its numbers to 1e-10 in float64.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import xpnet

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from xpnet._dask import ChunkOrder, chunk_orders  # noqa: E402

N, D, H, K = 230, 4, 6, 3
CHUNKS = 70  # uneven: 70, 70, 70, 20


def _raise_on_compute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("something was computed while only a graph should have been built")


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)), rng.integers(0, K, N)


@pytest.fixture
def params() -> xpnet.Params:
    return xpnet.init_params(D, H, K, seed=1, dtype="float64")


def on_dask(X: np.ndarray, y: np.ndarray, chunks: int = CHUNKS) -> tuple[Any, Any]:
    return da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks)


def dask_params(params: xpnet.Params) -> xpnet.Params:
    return xpnet.Params(*(da.from_array(p) for p in params))


def assert_trees_close(actual: Any, expected: Any, *, rtol: float = 1e-10) -> None:
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=1e-12)


# --- the backend --------------------------------------------------------------------------------


def test_dask_is_a_registered_backend(data) -> None:
    assert "dask" in xpnet.BACKENDS
    assert xpnet.backends.get_backend("dask").module_name == "dask.array"
    X = xpnet.asarray(data[0], backend="dask", chunks=100)
    assert X.chunks == ((100, 100, 30), (D,))
    assert xpnet.backend_name(X) == "dask"
    np.testing.assert_array_equal(xpnet.to_numpy(X), data[0])
    default = xpnet.asarray(data[0], backend="dask", dtype="float32")
    assert len(default.chunks[1]) == 1  # automatic chunks hold whole samples
    assert default.dtype == np.float32
    assert xpnet.asarray(X, chunks=(50, -1)).chunks[0] == (50, 50, 50, 50, 30)
    params = xpnet.init_params(D, H, K, xp="dask", seed=1, dtype="float64")
    assert_trees_close(params, xpnet.init_params(D, H, K, seed=1, dtype="float64"))
    X_iris, _ = xpnet.datasets.load_iris_2d(backend="dask")
    assert xpnet.backend_name(X_iris) == "dask"
    with pytest.raises(ValueError, match=r"^chunks: only the 'dask' backend has chunks"):
        xpnet.asarray(data[0], backend="numpy", chunks=10)
    with pytest.raises(ValueError, match=r"^device: Dask arrays of NumPy chunks live on 'cpu'"):
        xpnet.asarray(data[0], backend="dask", device="cuda")


# --- laziness ---------------------------------------------------------------------------------


def test_functional_api_builds_graphs_without_computing(data, params) -> None:
    X, y = on_dask(*data)
    p = dask_params(params)
    with dask.config.set(scheduler=_raise_on_compute):
        hidden, logits = xpnet.forward(X, p)
        loss, grads = xpnet.loss_and_grad(X, y, p)
        grads_only = xpnet.backward(X, y, p)
        labels = xpnet.predict(X, p)
        probs = xpnet.predict_proba(X, p)
        Xg, yg = xpnet.datasets.make_classification_dask(500, 3, 2, chunks=100)
        xpnet.loss_and_grad(Xg, yg, dask_params(xpnet.init_params(3, 4, 2, dtype="float32")))
    for lazy in (hidden, logits, loss, *grads, *grads_only, labels, probs):
        assert xpnet._dask.is_dask(lazy)
    expected_loss, expected_grads = xpnet.loss_and_grad(*data, params)
    assert_trees_close([loss.compute(), *dask.compute(*grads)], [expected_loss, *expected_grads])
    np.testing.assert_array_equal(labels.compute(), xpnet.predict(data[0], params))
    np.testing.assert_allclose(probs.compute(), xpnet.predict_proba(data[0], params), rtol=1e-12)


# --- bad labels fail inside the computation, naming y ------------------------------------------


def bad_labels(y: np.ndarray, value: int) -> np.ndarray:
    bad = y.copy()
    bad[150] = value  # in the third chunk
    return bad


@pytest.mark.parametrize("value", [-1, K])
def test_out_of_range_label_fails_when_computed(data, params, value) -> None:
    X, y = on_dask(data[0], bad_labels(data[1], value))
    with dask.config.set(scheduler=_raise_on_compute):
        loss, grads = xpnet.loss_and_grad(X, y, dask_params(params))  # no hidden pass here
    with pytest.raises(ValueError, match=rf"^y: labels must lie in \[0, {K}\)"):
        dask.compute(loss, *grads)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_training_on_an_out_of_range_label_fails(data, params, batch_size) -> None:
    X, y = on_dask(data[0], bad_labels(data[1], K + 2))
    with pytest.raises(ValueError, match=r"^y: labels must lie in"):
        xpnet.train(X, y, dask_params(params), epochs=2, lr=0.1, batch_size=batch_size)


def test_predicting_on_nan_inputs_fails_when_computed(data, params) -> None:
    X = data[0].copy()
    X[100, 2] = np.inf
    Xd, _ = on_dask(X, data[1])
    with dask.config.set(scheduler=_raise_on_compute):
        labels = xpnet.predict(Xd, dask_params(params))
        probs = xpnet.predict_proba(Xd, dask_params(params))
    for lazy in (labels, probs):
        with pytest.raises(ValueError, match=r"^X: contains NaN or inf"):
            lazy.compute()


def test_training_on_nan_inputs_fails(data, params) -> None:
    X = data[0].copy()
    X[200, 1] = np.nan
    Xd, yd = on_dask(X, data[1])
    with pytest.raises(ValueError, match=r"^X: contains NaN or inf"):
        xpnet.train(Xd, yd, dask_params(params), epochs=1, lr=0.1)


# --- bad chunking --------------------------------------------------------------------------


def test_feature_chunks_are_refused_with_the_fix(data, params) -> None:
    X = da.from_array(data[0], chunks=(CHUNKS, 2))
    y = da.from_array(data[1], chunks=CHUNKS)
    with pytest.raises(ValueError, match=r"^X: is chunked along the feature axis.*rechunk"):
        xpnet.train(X, y, dask_params(params), epochs=1)
    trained, _ = xpnet.train(X.rechunk({1: -1}), y, dask_params(params), epochs=1)
    assert_trees_close(trained, xpnet.train(*data, params, epochs=1)[0])


def test_unknown_chunk_sizes_are_refused(data, params) -> None:
    X, y = on_dask(*data)
    keep = da.from_array(np.ones(N, dtype=bool), chunks=CHUNKS)
    with pytest.raises(ValueError, match=r"^X: has unknown \(NaN\) chunk sizes"):
        xpnet.train(X[keep], y[keep], dask_params(params), epochs=1)
    with pytest.raises(ValueError, match=r"^y: has unknown \(NaN\) chunk sizes"):
        xpnet.train(X, y[keep], dask_params(params), epochs=1)


def test_x_and_y_chunked_differently_are_refused(data, params) -> None:
    X = da.from_array(data[0], chunks=(CHUNKS, -1))
    y = da.from_array(data[1], chunks=50)
    with pytest.raises(ValueError, match=r"^y: its chunks .* differ from X's row chunks"):
        xpnet.train(X, y, dask_params(params), epochs=1, batch_size=16)


# --- full-batch gradient descent: one map-reduce and one persist per epoch ----------------------


class CountingScheduler:
    """Dask's synchronous scheduler, counting its calls (each compute/persist is one call)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return dask.get(*args, **kwargs)


def counted_source(X: np.ndarray, y: np.ndarray, reads: Counter) -> tuple[Any, Any]:
    """``(X, y)`` as Dask arrays whose chunk ``i`` counts in ``reads[i]`` each time it is read."""

    def read(i: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        reads[i] += 1
        return X[start:stop], y[start:stop]

    starts = list(range(0, X.shape[0], CHUNKS))
    parts = [
        dask.delayed(read, pure=True)(i, s, min(s + CHUNKS, X.shape[0]))
        for i, s in enumerate(starts)
    ]
    sizes = [min(CHUNKS, X.shape[0] - s) for s in starts]
    Xd = da.concatenate(
        [da.from_delayed(p[0], (r, X.shape[1]), dtype=X.dtype) for p, r in zip(parts, sizes)]
    )
    yd = da.concatenate([da.from_delayed(p[1], (r,), dtype=y.dtype) for p, r in zip(parts, sizes)])
    return Xd, yd


def test_full_batch_equals_numpy_one_persist_and_one_read_per_epoch(data, params) -> None:
    epochs, reads, scheduler = 4, Counter(), CountingScheduler()
    X, y = counted_source(*data, reads)
    with dask.config.set(scheduler=scheduler):
        trained, history = xpnet.train(X, y, dask_params(params), epochs=epochs, lr=0.3)
    expected, expected_history = xpnet.train(*data, params, epochs=epochs, lr=0.3)
    assert_trees_close(trained, expected)
    np.testing.assert_allclose(history.loss, expected_history.loss, rtol=1e-10)
    np.testing.assert_allclose(history.accuracy, expected_history.accuracy, rtol=1e-12)
    assert scheduler.calls == epochs + 2  # a persist per epoch; the losses, the hit counts
    assert reads == Counter(dict.fromkeys(range(4), epochs))  # each chunk once per epoch
    # The parameters are persisted values: their graph is one task each, not a history.
    assert all(len(p.dask) == 1 for p in trained)


# --- minibatches streamed chunk by chunk --------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "shuffle"), [(32, True), (50, False), (1, True)])
def test_streamed_minibatches_equal_numpy_on_the_same_order(
    data, params, batch_size, shuffle
) -> None:
    epochs, reads = 3, Counter()
    X, y = counted_source(*data, reads)
    trained, history = xpnet.train(
        X,
        y,
        dask_params(params),
        epochs=epochs,
        lr=0.05,
        batch_size=batch_size,
        seed=7,
        shuffle=shuffle,
    )
    assert reads == Counter(dict.fromkeys(range(4), epochs))  # each chunk once per epoch
    # The oracle: in-memory NumPy training on the same sample order, epoch by epoch.
    expected, losses = params, []
    orders = chunk_orders(X.chunks[0], seed=7, shuffle=shuffle)
    for _ in range(epochs):
        order = next(orders).indices()
        Xo, yo = data[0][order], data[1][order]
        expected, h = xpnet.train(
            Xo, yo, expected, epochs=1, lr=0.05, batch_size=batch_size, shuffle=False
        )
        losses += h.loss
    assert_trees_close(trained, expected)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)


def test_one_chunk_trains_in_the_order_of_in_memory_training(data, params) -> None:
    X, y = on_dask(*data, chunks=N)
    kwargs = {"epochs": 3, "lr": 0.1, "batch_size": 20, "seed": 5}
    trained, history = xpnet.train(X, y, dask_params(params), **kwargs)
    expected, expected_history = xpnet.train(*data, params, **kwargs)
    assert_trees_close(trained, expected)
    np.testing.assert_allclose(history.loss, expected_history.loss, rtol=1e-10)


def test_chunk_orders_visit_every_sample_once_and_depend_on_the_seed() -> None:
    chunks = (5, 3, 4)
    first, second = (next(chunk_orders(chunks, seed=s, shuffle=True)) for s in (0, 1))
    for order in (first, second):
        assert sorted(order.indices().tolist()) == list(range(12))
        # Rows stay inside their chunk: each chunk's rows are contiguous in the order.
        runs = np.searchsorted(np.cumsum(chunks), order.indices(), side="right")
        assert np.count_nonzero(np.diff(runs)) == len(chunks) - 1
    assert not np.array_equal(first.indices(), second.indices())
    plain = ChunkOrder(chunks, np.arange(3))
    np.testing.assert_array_equal(plain.indices(), np.arange(12))


# --- make_classification_dask -------------------------------------------------------------


def test_make_classification_dask_chunks_depend_only_on_seed_and_index() -> None:
    X, y = xpnet.datasets.make_classification_dask(250, 3, 4, chunks=100, seed=5)
    X2, y2 = xpnet.datasets.make_classification_dask(420, 3, 4, chunks=100, seed=5)
    assert X.chunks == ((100, 100, 50), (3,))
    assert (X.dtype, y.dtype) == (np.float32, np.int64)
    for i in range(2):  # the full chunks of both sets are the same, whatever n is
        np.testing.assert_array_equal(X.blocks[i].compute(), X2.blocks[i].compute())
        np.testing.assert_array_equal(y.blocks[i].compute(), y2.blocks[i].compute())
    other, _ = xpnet.datasets.make_classification_dask(250, 3, 4, chunks=100, seed=6)
    assert not np.array_equal(X.blocks[0].compute(), other.blocks[0].compute())
    labels = y.compute()
    assert set(labels.tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(
        np.concatenate([y.blocks[i].compute() for i in range(3)]), labels
    )


def test_make_classification_dask_is_learnable() -> None:
    X, y = xpnet.datasets.make_classification_dask(2000, 8, 3, chunks=500, seed=0, dtype="float64")
    params = dask_params(xpnet.init_params(8, 16, 3, seed=0, dtype="float64"))
    trained, history = xpnet.train(X, y, params, epochs=5, lr=0.1, batch_size=50)
    # The oracle: scikit-learn's logistic regression on the same data (the classes differ
    # by a shift of one noise distribution, so a linear rule separates them well).
    from sklearn.linear_model import LogisticRegression

    Xn, yn = dask.compute(X, y)
    reference = LogisticRegression().fit(Xn, yn).score(Xn, yn)
    assert reference > 1.5 / 3  # well above chance: the labels carry signal
    accuracy = float(np.mean(xpnet.predict(Xn, xpnet._dask.to_host_tree(trained)) == yn))
    assert accuracy > reference - 0.03


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunks": 0}, r"^chunks: must be >= 1"),
        ({"chunks": 1.5}, r"^chunks: expected an int"),
        ({"dtype": "int32"}, r"^dtype: expected a floating dtype"),
        ({"seed": -1}, r"^seed: must be >= 0"),
        ({"class_sep": -1.0}, r"^class_sep: must be a number >= 0"),
    ],
)
def test_make_classification_dask_bad_arguments(kwargs, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        xpnet.datasets.make_classification_dask(100, 3, 2, **kwargs)


# --- a LocalCluster with worker processes ---------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes, started once for the module (seconds to start)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="700MiB",
        dashboard_address=":0",
        silence_logs=40,
    )
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    """A client of the cluster, the default scheduler for one test only: in a random order,
    the module's other tests run between, on Dask's own threads."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(cluster) as client:
        yield client


def slow_chunk(seed: int, index: int, rows: int, delay: float) -> tuple[np.ndarray, np.ndarray]:
    """A chunk that takes ``delay`` seconds to make, so that an epoch lasts long enough to
    kill a worker in the middle of it (module-level: it is shipped to worker processes)."""
    time.sleep(delay)
    rng = np.random.default_rng([seed, index])
    return rng.standard_normal((rows, D)), rng.integers(0, K, rows)


def slow_source(n: int, delay: float) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    parts, sizes = [], []
    for i, start in enumerate(range(0, n, CHUNKS)):
        sizes.append(min(CHUNKS, n - start))
        parts.append(dask.delayed(slow_chunk, pure=True)(3, i, sizes[-1], delay))
    X = da.concatenate([da.from_delayed(p[0], (r, D), dtype=float) for p, r in zip(parts, sizes)])
    y = da.concatenate([da.from_delayed(p[1], (r,), dtype=np.int64) for p, r in zip(parts, sizes)])
    Xn = np.concatenate([slow_chunk(3, i, r, 0.0)[0] for i, r in enumerate(sizes)])
    yn = np.concatenate([slow_chunk(3, i, r, 0.0)[1] for i, r in enumerate(sizes)])
    return X, y, Xn, yn


@pytest.mark.parametrize("batch_size", [None, 40])
def test_local_cluster_training_equals_numpy(client, params, batch_size) -> None:
    X, y, Xn, yn = slow_source(N, 0.0)
    trained, history = xpnet.train(
        X, y, dask_params(params), epochs=2, lr=0.2, batch_size=batch_size, seed=1
    )
    if batch_size is None:
        expected, expected_history = xpnet.train(Xn, yn, params, epochs=2, lr=0.2)
    else:
        expected, losses, orders = params, [], chunk_orders(X.chunks[0], seed=1, shuffle=True)
        for _ in range(2):
            idx = next(orders).indices()
            expected, h = xpnet.train(
                Xn[idx], yn[idx], expected, epochs=1, lr=0.2, batch_size=40, shuffle=False
            )
            losses += h.loss
        expected_history = xpnet.History(loss=losses)
    assert_trees_close(trained, expected)
    np.testing.assert_allclose(history.loss, expected_history.loss, rtol=1e-10)


def test_killing_a_worker_mid_epoch_still_gives_the_right_result(client, params) -> None:
    """Full batch: the worker dies inside the second epoch's map-reduce, Dask recomputes its
    lost chunks and partial sums elsewhere, and training ends with the in-memory result."""
    n, delay, epochs = 8 * CHUNKS, 0.1, 2  # 8 chunks of 0.1 s: at least 0.4 s per epoch
    X, y, Xn, yn = slow_source(n, delay)
    victim_pid = next(iter(client.run(os.getpid).values()))
    events: dict[str, float] = {}
    second_epoch = threading.Event()

    def kill() -> None:
        # The second epoch lasts at least 8 * 0.1 s / 2 workers: 0.2 s in, it is running.
        if second_epoch.wait(timeout=60):
            time.sleep(0.2)
            events["kill"] = time.monotonic()
            os.kill(victim_pid, signal.SIGKILL)  # a worker process this test's cluster started

    def record_epoch(epoch: int, *_: Any) -> None:
        events[f"epoch {epoch}"] = time.monotonic()
        second_epoch.set()

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        trained, _ = xpnet.train(
            X, y, dask_params(params), epochs=epochs, lr=0.2, callback=record_epoch
        )
    finally:
        second_epoch.set()
        killer.join()
    assert events["epoch 0"] < events["kill"] < events["epoch 1"]
    expected, _ = xpnet.train(Xn, yn, params, epochs=epochs, lr=0.2)
    assert_trees_close(trained, expected)


# --- deeper networks, other optimizers and losses run on Dask too ------------------------------


@pytest.mark.parametrize("batch_size", [None, 46])
def test_deep_network_with_adam_equals_numpy(data, batch_size) -> None:
    X, y = on_dask(*data)
    layers = xpnet.init_layers((D, 8, 6, K), seed=2, dtype="float64")
    kwargs = {
        "epochs": 3, "batch_size": batch_size, "seed": 4, "activation": "tanh", "alpha": 1e-3,
        "optimizer": xpnet.optim.Adam(0.01),
    }  # fmt: skip
    dask_layers = tuple(xpnet.Layer(da.from_array(W), da.from_array(b)) for W, b in layers)
    trained, history = xpnet.train(X, y, dask_layers, **kwargs)
    if batch_size is None:
        expected, expected_history = xpnet.train(*data, layers, **kwargs)
    else:  # Adam's state runs on across epochs: one pass over the three epochs' rows (the
        # batches, 46 rows, divide the 230 samples, so they fall as in three epochs)
        orders = chunk_orders(X.chunks[0], seed=4, shuffle=True)
        idx = np.concatenate([next(orders).indices() for _ in range(3)])
        Xo, yo = data[0][idx], data[1][idx]
        expected, _ = xpnet.train(Xo, yo, layers, **{**kwargs, "epochs": 1, "shuffle": False})
        expected_history = None
    assert isinstance(trained[0], xpnet.Layer)
    for (W, b), (We, be) in zip(trained, expected):
        assert_trees_close([W, b], [We, be])
    if expected_history is not None:
        np.testing.assert_allclose(history.loss, expected_history.loss, rtol=1e-10)


def test_regression_targets_stream_with_their_rows(data) -> None:
    rng = np.random.default_rng(1)
    targets = rng.standard_normal((N, 2))
    X, _ = on_dask(*data)
    Y = da.from_array(targets, chunks=(CHUNKS, -1))
    layers = xpnet.init_layers((D, 5, 2), seed=0, dtype="float64")
    dask_layers = tuple(xpnet.Layer(da.from_array(W), da.from_array(b)) for W, b in layers)
    kwargs = {"epochs": 1, "batch_size": 16, "seed": 0, "loss": "squared_error", "lr": 0.01}
    trained, _ = xpnet.train(X, Y, dask_layers, **kwargs)
    idx = next(chunk_orders(X.chunks[0], seed=0, shuffle=True)).indices()
    expected, _ = xpnet.train(data[0][idx], targets[idx], layers, **{**kwargs, "shuffle": False})
    for (W, b), (We, be) in zip(trained, expected):
        assert_trees_close([W, b], [We, be])


# --- the out-of-core benchmark, at a tiny size ------------------------------------------------


def test_out_of_core_bench_runs_and_reports_every_process(tmp_path) -> None:
    from xpnet.bench import _out_of_core

    assert _out_of_core.requested(["--workload", "out-of-core"])
    assert _out_of_core.requested(["--workloads=iris,out-of-core"])
    assert not _out_of_core.requested(["--workloads", "iris"])
    argv = [
        "--workload", "out-of-core", "--rows", "6000", "--chunk-rows", "2000",
        "--numpy-rows", "2000", "--workers", "1", "--batch-size", "500",
        "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "m.png"),
    ]  # fmt: skip
    assert _out_of_core.main(argv) == 0
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    roles = [p["role"] for p in report["processes"]]
    assert roles.count("dask worker") == 1
    assert any(r.startswith("main") for r in roles)
    assert all(p["peak"] > 0 for p in report["processes"])
    assert report["chunks"] == 3
    assert report["dask"]["streamed_rows_per_second"] > 0
    assert report["ratio_minibatch"] > 0
    # where the time goes: the parts of both epochs, CPU time of every process
    assert report["full_batch_breakdown"]["tasks_per_chunk"] > 0
    assert report["full_batch_breakdown"]["per_chunk"]["the epoch on these chunks (wall)"] > 0
    assert report["breakdown"]["median_seconds_per_chunk"]["steps (NumPy, this process)"] > 0
    assert report["streamed_counters"]["cpu_seconds"]["main"] > 0
    assert len(report["full_batch_counters"]["cpu_seconds"]) == 2  # main and the worker
    text = _out_of_core.format_report(report)
    assert "Where the full-batch epoch's time goes" in text
    assert "Zarr, not Parquet" in text
    assert (tmp_path / "m.png").stat().st_size > 0
