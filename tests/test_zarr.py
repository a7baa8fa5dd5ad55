"""Data sets in Zarr files: written and opened by ``xpnet.datasets``, streamed by this process.

A minibatch epoch over chunks that only read a stored array reads them in the training
process (no copy through a cluster); any other graph goes through the scheduler. Both give
the same training as in-memory NumPy on the same sample order.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet

pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from xpnet import _dask  # noqa: E402


@pytest.fixture
def stored(tmp_path):  # type: ignore[no-untyped-def]
    X, y = xpnet.datasets.make_classification_dask(1000, 5, 3, chunks=300, seed=0)
    path = str(tmp_path / "train.zarr")
    xpnet.datasets.save_zarr(path, X, y)
    return path, X, y


def test_save_and_open_round_trip(stored) -> None:  # type: ignore[no-untyped-def]
    path, X, y = stored
    X2, y2 = xpnet.datasets.open_zarr(path)
    assert X2.chunks == X.chunks
    assert y2.chunks == y.chunks
    assert X2.dtype == np.float32
    assert y2.dtype == np.int64
    np.testing.assert_array_equal(X2.compute(), X.compute())
    np.testing.assert_array_equal(y2.compute(), y.compute())


def test_save_numpy_arrays(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X = np.arange(40, dtype=np.float64).reshape(10, 4)
    y = np.arange(10) % 2
    xpnet.datasets.save_zarr(str(tmp_path / "d.zarr"), X, y)
    X2, y2 = xpnet.datasets.open_zarr(str(tmp_path / "d.zarr"))
    np.testing.assert_array_equal(X2.compute(), X)
    np.testing.assert_array_equal(y2.compute(), y)


def test_reads_stored_data(stored) -> None:  # type: ignore[no-untyped-def]
    path, X, _ = stored
    X2, y2 = xpnet.datasets.open_zarr(path)
    parts = X2.to_delayed(optimize_graph=False).reshape(-1)
    assert _dask.reads_stored_data(parts[1])
    assert _dask.reads_stored_data(y2.to_delayed(optimize_graph=False).reshape(-1)[0])
    computed = (X2 * 2).to_delayed(optimize_graph=False).reshape(-1)
    assert not _dask.reads_stored_data(computed[1])
    generated = X.to_delayed(optimize_graph=False).reshape(-1)
    assert not _dask.reads_stored_data(generated[1])


@pytest.mark.parametrize("read_here", [True, False])
def test_streamed_epoch_from_files_equals_numpy(stored, read_here: bool) -> None:  # type: ignore[no-untyped-def]
    path, _, _ = stored
    X, y = xpnet.datasets.open_zarr(path)
    layers = xpnet.init_layers((5, 8, 3), seed=0, dtype="float32")
    params = tuple(xpnet.Layer(da.from_array(W), da.from_array(b)) for W, b in layers)
    with dask.config.set({"xpnet.stream.read-stored-here": read_here}):
        trained, history = xpnet.train(X, y, params, epochs=2, lr=0.1, batch_size=64, seed=0)
    # the same sample order, spelled out, on the in-memory arrays
    orders = _dask.chunk_orders(X.chunks[0], seed=0, shuffle=True)
    X_np, y_np = dask.compute(X, y)
    host = layers
    for _ in range(2):
        order = next(orders).indices()
        host = xpnet.train(X_np[order], y_np[order], host, epochs=1, lr=0.1, batch_size=64,
                           shuffle=False)[0]  # fmt: skip
    for (W, b), (W_ref, b_ref) in zip(trained, host):
        np.testing.assert_allclose(np.asarray(W.compute()), W_ref, atol=1e-5)
        np.testing.assert_allclose(np.asarray(b.compute()), b_ref, atol=1e-5)
    assert np.all(np.isfinite(history.loss))


@pytest.mark.parametrize("read_here", [True, False])
def test_estimators_stream_files_read_here_and_equal_numpy(stored, read_here: bool) -> None:  # type: ignore[no-untyped-def]
    """What the estimators stream (X with its value check folded in, the target rows
    encoded per chunk) still only reads the files: this process reads them itself."""
    path, _, _ = stored
    X, y = xpnet.datasets.open_zarr(path)
    clf = xpnet.MLPClassifier((8,), batch_size=64, max_iter=2, shuffle=False, random_state=0)
    data = clf._validate_dask_data_for_fit(X, y, None, False, True)
    for array in (data.X, data.target):
        assert _dask.reads_stored_data(array.to_delayed(optimize_graph=False).reshape(-1)[1])
    with dask.config.set({"xpnet.stream.read-stored-here": read_here}):
        ours = clf.fit(X, y)
    expected = xpnet.MLPClassifier(**clf.get_params()).fit(*dask.compute(X, y))
    for a, e in zip(ours.coefs_, expected.coefs_):
        np.testing.assert_allclose(a, e, rtol=1e-6)
    assert ours.loss_curve_ == pytest.approx(expected.loss_curve_, rel=1e-6)


# --- reading a stored chunk into a reused buffer ----------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_into_gives_every_chunk_as_zarr_reads_it(tmp_path, compress: bool) -> None:  # type: ignore[no-untyped-def]
    X, y = xpnet.datasets.make_classification_dask(1000, 5, 3, chunks=300, seed=0)
    path = str(tmp_path / "train.zarr")
    xpnet.datasets.save_zarr(path, X, y, compress=compress)
    X2, y2 = xpnet.datasets.open_zarr(path)
    for arr in (X2, y2):
        parts = arr.to_delayed(optimize_graph=False).reshape(-1)
        for i, part in enumerate(parts):
            source, index, lock = _dask.stored_block(part)
            out = np.full(part.compute().shape, -7, dtype=arr.dtype)
            # whole chunks of an uncompressed store are read from their files directly;
            # the padded edge chunk and compressed chunks by Zarr, into the same buffer
            direct = not compress and i < len(parts) - 1
            fresh = out.copy()
            assert _dask.read_zarr_chunk_into(source, index, fresh) is direct
            _dask.read_into(source, index, out, lock)
            np.testing.assert_array_equal(out, np.asarray(source[index]))
            if direct:
                np.testing.assert_array_equal(fresh, out)


def test_stored_block_is_none_for_computed_chunks(stored) -> None:  # type: ignore[no-untyped-def]
    path, X, _ = stored
    X2, _ = xpnet.datasets.open_zarr(path)
    assert _dask.stored_block((X2 * 2).to_delayed(optimize_graph=False).reshape(-1)[0]) is None
    assert _dask.stored_block(X.to_delayed(optimize_graph=False).reshape(-1)[0]) is None


def test_a_locked_source_is_read_under_its_lock() -> None:
    import threading

    data = np.arange(60.0).reshape(20, 3)
    X = da.from_array(data, chunks=(8, 3), lock=threading.Lock(), inline_array=False)
    part = X.to_delayed(optimize_graph=False).reshape(-1)[1]
    found = _dask.stored_block(part)
    if found is None:  # this Dask materialises in-memory chunks: nothing to read
        pytest.skip("dask.array.from_array of a NumPy array has no getter tasks here")
    source, index, lock = found
    assert lock is not None
    out = np.empty((8, 3))
    _dask.read_into(source, index, out, lock)
    np.testing.assert_array_equal(out, data[8:16])


def test_stream_batches_take_each_chunks_rows_in_its_order() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    rows_a, rows_b = np.array([3, 0, 5, 1, 4, 2]), np.array([2, 0, 3, 1])
    chunks = iter([((X[:6], y[:6]), rows_a), ((X[6:], y[6:]), rows_b)])
    batches = list(_dask.stream_batches(chunks, 4))
    order = np.concatenate([rows_a, 6 + rows_b])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), order)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X[order])
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    # a batch never shares memory with its chunk (the stream reuses the chunks' buffers)
    plain = list(_dask.stream_batches(iter([((X, y), None)]), 4))
    assert not any(np.shares_memory(b[0], X) for b in plain)


def test_chunk_buffers_are_reused_slots_apart() -> None:
    buffers = _dask.ChunkBuffers(3)
    first = buffers.get(0, "X", (10, 4), np.float32)
    assert buffers.get(3, "X", (10, 4), np.float32) is not None
    assert np.shares_memory(buffers.get(3, "X", (10, 4), np.float32), first)
    assert not np.shares_memory(buffers.get(1, "X", (10, 4), np.float32), first)
    smaller = buffers.get(6, "X", (7, 4), np.float32)
    assert smaller.shape == (7, 4)
    assert np.shares_memory(smaller, first)
    assert buffers.get(0, "X", (10, 4), np.float64).dtype == np.float64


def test_streamed_epoch_from_compressed_files_equals_uncompressed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = xpnet.datasets.make_classification_dask(1000, 5, 3, chunks=300, seed=0)
    layers = xpnet.init_layers((5, 8, 3), seed=0, dtype="float32")
    params = tuple(xpnet.Layer(da.from_array(W), da.from_array(b)) for W, b in layers)
    results = []
    for compress in (False, True):
        path = str(tmp_path / f"train{compress}.zarr")
        xpnet.datasets.save_zarr(path, X, y, compress=compress)
        X2, y2 = xpnet.datasets.open_zarr(path)
        trained, _ = xpnet.train(X2, y2, params, epochs=2, lr=0.1, batch_size=64, seed=0)
        results.append([np.asarray(p.compute()) for layer in trained for p in layer])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compress", [False, True])
def test_open_zarr_reads_every_chunk_as_dask_from_zarr(tmp_path, compress: bool) -> None:  # type: ignore[no-untyped-def]
    X, y = xpnet.datasets.make_classification_dask(1000, 5, 3, chunks=300, seed=0)
    path = str(tmp_path / "train.zarr")
    xpnet.datasets.save_zarr(path, X, y, compress=compress)
    X2, y2 = xpnet.datasets.open_zarr(path)
    for mine, name in ((X2, "X"), (y2, "y")):
        reference = da.from_zarr(path, component=name)
        assert mine.chunks == reference.chunks
        for i in range(len(mine.chunks[0])):
            block = mine.blocks[i].compute(scheduler="sync")
            np.testing.assert_array_equal(block, reference.blocks[i].compute())
            assert block.dtype == reference.dtype
