"""MLPClassifier / MLPRegressor fitted on Dask arrays, chunk by chunk.

The oracle is the same estimator fitted on the computed (in-memory NumPy) arrays: with
``shuffle=False`` the streamed rows are those of the in-memory fit, batch by batch, and every
fitted number must agree to rtol 1e-10 in float64. Shuffled Dask fits visit the chunks, then
the rows of each, in an order drawn from ``random_state``; the oracle is then the in-memory
fit on that order, one epoch at a time.
"""

from __future__ import annotations

import pickle
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import xpnet

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import xpnet.estimators  # noqa: E402
from xpnet._dask import chunk_orders  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = 1e-10
N, CHUNKS = 230, 70  # uneven chunks: 70, 70, 70, 20; batch sizes below do not divide them


def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    if kind == "multiclass":
        return make_classification(N, 5, n_informative=3, n_classes=3, random_state=0)
    if kind == "binary":
        return make_classification(N, 4, random_state=1)
    if kind == "strings":
        X, y = make_classification(
            N, 4, n_informative=3, n_redundant=1, n_classes=3, random_state=3
        )
        return X, np.array(["setosa", "versicolor", "virginica"])[y]
    if kind == "multilabel":
        X, _ = make_classification(N, 4, random_state=2)
        return X, (rng.rand(N, 3) > 0.5).astype(np.int64)
    if kind == "regression":
        X, y = make_regression(N, 4, noise=0.1, random_state=0)
        return X, y / 100.0
    if kind == "regression2":
        X, y = make_regression(N, 4, n_targets=2, random_state=1)
        return X, y / 100.0
    if kind == "poisson":
        X = rng.standard_normal((N, 3))
        return X, rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    raise ValueError(kind)


def _weights(n: int = N) -> np.ndarray:
    return np.random.default_rng(5).uniform(0.2, 2.0, n)


def _chunked(a: np.ndarray, chunks: int = CHUNKS) -> Any:
    return da.from_array(a, chunks=(chunks, *a.shape[1:]))


def _estimator(kind: str, **params: Any) -> Any:
    params = {"hidden_layer_sizes": (6,), "random_state": 0, "max_iter": 4, **params}
    if kind.startswith("regression") or kind == "poisson":
        loss = "poisson" if kind == "poisson" else "squared_error"
        return xpnet.MLPRegressor(loss=loss, **params)
    return xpnet.MLPClassifier(**params)


def _host(a: Any) -> np.ndarray:
    return np.asarray(a.compute() if hasattr(a, "compute") else a)


def assert_same_fit(ours: Any, expected: Any, *, rtol: float = RTOL) -> None:
    """Every fitted number of ``ours`` (a Dask fit, its weights NumPy) equals ``expected``'s."""
    for name in ("coefs_", "intercepts_"):
        for a, e in zip(getattr(ours, name), getattr(expected, name), strict=True):
            assert type(a) is np.ndarray  # the model lives on the host
            np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-13)
    for name in ("n_iter_", "t_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(expected, name), name
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        theirs = getattr(expected, name, None)
        if theirs is None:
            assert getattr(ours, name, None) is None, name
        else:
            np.testing.assert_allclose(getattr(ours, name), theirs, rtol=rtol)
    assert ours.loss_ == pytest.approx(expected.loss_, rel=rtol)
    if hasattr(expected, "classes_"):
        np.testing.assert_array_equal(_host(ours.classes_), _host(expected.classes_))


def assert_same_predictions(ours: Any, expected: Any, X: np.ndarray) -> None:
    """On NumPy and on Dask input, the same predictions (the Dask ones lazy)."""
    for data in (X, _chunked(X)):
        np.testing.assert_array_equal(_host(ours.predict(data)), expected.predict(X))
        if hasattr(expected, "predict_proba"):
            np.testing.assert_allclose(
                _host(ours.predict_proba(data)), expected.predict_proba(X), rtol=RTOL
            )


# --- shuffle=False: the in-memory fit, row for row ---------------------------------------------

CASES = [
    ("multiclass", {"batch_size": 32}, None),
    ("multiclass", {"solver": "sgd", "batch_size": 32, "learning_rate": "invscaling"}, "w"),
    ("multiclass", {"class_weight": "balanced", "batch_size": 45}, None),
    ("multiclass", {"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}, "batch_size": 32}, "w"),
    ("binary", {}, None),  # batch_size "auto": 200 rows, over three chunks
    ("binary", {"solver": "sgd", "momentum": 0.5, "batch_size": 7}, "w"),
    ("strings", {"batch_size": 50}, None),
    ("multilabel", {"batch_size": 32}, "w"),
    ("regression", {"batch_size": 32}, None),
    ("regression", {"solver": "sgd", "batch_size": 64, "learning_rate": "adaptive"}, "w"),
    ("regression2", {"batch_size": 32}, None),
    ("poisson", {"batch_size": 40, "learning_rate_init": 0.01}, "w"),
]


@pytest.mark.parametrize(
    ("kind", "params", "weighted"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_unshuffled_fit_equals_the_in_memory_fit(kind, params, weighted) -> None:
    X, y = _data(kind)
    w = _weights() if weighted else None
    params = {**params, "shuffle": False}
    expected = _estimator(kind, **params).fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="sync"):
        ours = _estimator(kind, **params).fit(
            _chunked(X), _chunked(y), sample_weight=None if w is None else _chunked(w)
        )
    assert_same_fit(ours, expected)
    assert_same_predictions(ours, expected, X)


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": N},  # one batch of every row: a map-reduce per epoch
        {"solver": "lbfgs"},  # one map-reduce per evaluation
        {"solver": "lbfgs", "class_weight": "balanced"},
    ],
)
def test_full_batch_solvers_equal_the_in_memory_fit(params) -> None:
    X, y = _data("multiclass")
    w = _weights()
    expected = _estimator("multiclass", max_iter=6, **params).fit(X, y, sample_weight=w)
    ours = _estimator("multiclass", max_iter=6, **params)
    ours.fit(_chunked(X), _chunked(y), sample_weight=_chunked(w))
    if params.get("solver") == "lbfgs":  # L-BFGS has no curves
        for a, e in zip(
            [*ours.coefs_, *ours.intercepts_], [*expected.coefs_, *expected.intercepts_]
        ):
            assert type(a) is np.ndarray
            np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-13)
        assert ours.n_iter_ == expected.n_iter_
        assert ours.loss_ == pytest.approx(expected.loss_, rel=1e-10)
    else:
        assert_same_fit(ours, expected)
    assert_same_predictions(ours, expected, X)


def test_in_memory_labels_or_weights_go_with_dask_rows() -> None:
    """X on Dask and y (or X) in memory: the in-memory one is cut into the other's chunks."""
    X, y = _data("multiclass")
    w = _weights()
    params = {"shuffle": False, "batch_size": 32}
    expected = _estimator("multiclass", **params).fit(X, y, sample_weight=w)
    assert_same_fit(
        _estimator("multiclass", **params).fit(_chunked(X), y, sample_weight=w), expected
    )
    assert_same_fit(
        _estimator("multiclass", **params).fit(X, _chunked(y), sample_weight=w), expected
    )


def test_warm_start_and_float32_follow_the_in_memory_fit() -> None:
    X, y = _data("multiclass")
    params = {"shuffle": False, "batch_size": 32, "warm_start": True}
    expected = _estimator("multiclass", **params).fit(X, y).fit(X, y)
    ours = _estimator("multiclass", **params).fit(_chunked(X), _chunked(y))
    ours.fit(_chunked(X), _chunked(y))
    assert_same_fit(ours, expected)
    X32 = X.astype(np.float32)
    expected32 = _estimator("regression", shuffle=False).fit(X32[:, :4], _data("regression")[1])
    ours32 = _estimator("regression", shuffle=False).fit(
        _chunked(X32[:, :4]), _chunked(_data("regression")[1])
    )
    assert ours32.coefs_[0].dtype == np.float32
    assert_same_fit(ours32, expected32, rtol=1e-5)


# --- shuffled: chunks, then rows, in an order drawn from random_state -------------------------


def _recorded_seeds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seeds the estimators give ``chunk_orders`` (their order is then spelled out)."""
    seeds: list[int] = []
    original = xpnet.estimators.chunk_orders

    def recording(chunks: Any, *, seed: int, shuffle: bool) -> Iterator[Any]:
        seeds.append(seed)
        return original(chunks, seed=seed, shuffle=shuffle)

    monkeypatch.setattr(xpnet.estimators, "chunk_orders", recording)
    return seeds


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_shuffled_fit_is_the_in_memory_fit_on_the_seeded_chunk_order(kind, monkeypatch) -> None:
    X, y = _data(kind)
    w = _weights()
    seeds = _recorded_seeds(monkeypatch)
    params = {"batch_size": 32, "max_iter": 3, "tol": 0.0}
    ours = _estimator(kind, **params).fit(_chunked(X), _chunked(y), sample_weight=_chunked(w))
    assert len(seeds) == 1
    # The oracle: one in-memory epoch per order, unshuffled, each continuing the last
    # (partial_fit: same initial weights, optimizer state carried on).
    expected = _estimator(kind, **params, shuffle=False)
    orders = chunk_orders((70, 70, 70, 20), seed=seeds[0], shuffle=True)
    extra = {"classes": np.unique(y)} if kind == "multiclass" else {}
    for _ in range(3):
        idx = next(orders).indices()
        expected.partial_fit(X[idx], y[idx], sample_weight=w[idx], **extra)
    for a, e in zip([*ours.coefs_, *ours.intercepts_], [*expected.coefs_, *expected.intercepts_]):
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(ours.loss_curve_, expected.loss_curve_, rtol=RTOL)


def test_shuffled_fit_is_reproducible_and_depends_on_random_state() -> None:
    X, y = _data("multiclass")
    Xd, yd = _chunked(X), _chunked(y)

    def fit(seed: int) -> Any:
        return _estimator("multiclass", batch_size=32, random_state=seed).fit(Xd, yd)

    first, again, other = fit(0), fit(0), fit(1)
    assert_same_fit(again, first, rtol=0.0)
    assert not np.allclose(first.loss_curve_, other.loss_curve_, rtol=1e-6)
    # the same initial weights with another order of the rows: another curve
    unshuffled = _estimator("multiclass", batch_size=32, shuffle=False).fit(Xd, yd)
    assert not np.allclose(first.loss_curve_, unshuffled.loss_curve_, rtol=1e-6)


def test_data_in_one_chunk_train_in_scikit_learns_order() -> None:
    X, y = _data("multiclass")
    expected = _estimator("multiclass", batch_size=32).fit(X, y)  # shuffled, sklearn's RNG
    ours = _estimator("multiclass", batch_size=32).fit(_chunked(X, N), _chunked(y, N))
    assert_same_fit(ours, expected)


def test_a_dask_fit_saves_loads_and_trains_on_exactly(tmp_path) -> None:
    """The model of a Dask fit is an ordinary host model: saved, loaded on any backend, and
    its optimizer state resumes: partial_fit after loading continues the fit exactly."""
    X, y = _data("multiclass")
    Xd, yd = _chunked(X), _chunked(y)
    model = _estimator("multiclass", batch_size=32, shuffle=False).fit(Xd, yd)
    path = xpnet.save(tmp_path / "model.safetensors", model)
    loaded = xpnet.load(path, backend="numpy")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    loaded.partial_fit(Xd, yd)
    model.partial_fit(Xd, yd)
    assert_same_fit(loaded, model, rtol=0.0)


# --- partial_fit, and dask-ml's Incremental protocol -------------------------------------------


@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")  # the last block: 20 rows
@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_partial_fit_on_blocks_equals_partial_fit_on_their_values(kind, shuffle) -> None:
    X, y = _data(kind)
    w = _weights()
    Xd, yd, wd = _chunked(X), _chunked(y), _chunked(w)
    extra = {"classes": np.unique(y)} if kind == "multiclass" else {}
    if kind == "multilabel":
        extra = {"classes": np.arange(3)}
    ours = _estimator(kind, batch_size=32, shuffle=shuffle)
    expected = clone(ours)
    for i in range(Xd.numblocks[0]):
        block = (Xd.blocks[i], yd.blocks[i], wd.blocks[i])
        ours.partial_fit(*block[:2], sample_weight=block[2], **extra)
        X_np, y_np, w_np = (b.compute() for b in block)
        expected.partial_fit(X_np, y_np, sample_weight=w_np, **extra)
    assert_same_fit(ours, expected)
    assert ours.t_ == N  # every row once


def test_partial_fit_on_several_chunks_streams_them_in_order() -> None:
    X, y = _data("multiclass")
    classes = np.unique(y)
    ours = _estimator("multiclass", batch_size=45, shuffle=False)
    expected = clone(ours)
    for _ in range(2):
        ours.partial_fit(_chunked(X), _chunked(y), classes=classes)
        expected.partial_fit(X, y, classes=classes)
    assert_same_fit(ours, expected)


def _partial_fit(model: Any, X: np.ndarray, y: np.ndarray, kwargs: dict[str, Any]) -> Any:
    """dask-ml's ``_partial_fit``: one block, then the model goes on to the next task."""
    model.partial_fit(X, y, **kwargs)
    return model


def test_dask_ml_incremental_protocol_keeps_working() -> None:
    """What ``dask_ml.wrappers.Incremental.fit`` does: a chain of Dask tasks, each calling
    ``partial_fit(X_block, y_block, classes=...)`` on NumPy blocks (the model handed from
    task to task, pickled through a cluster), in a shuffled block order."""
    X, y = _data("multiclass")
    Xd, yd = _chunked(X), _chunked(y)
    kwargs = {"classes": np.unique(y)}
    order = np.random.RandomState(0).permutation(Xd.numblocks[0])
    model: Any = dask.delayed(clone(_estimator("multiclass", batch_size=32)))
    for i in order:
        model = dask.delayed(_partial_fit)(model, Xd.blocks[i], yd.blocks[i], kwargs)
    fitted = pickle.loads(pickle.dumps(model.compute(scheduler="threads")))
    expected = _estimator("multiclass", batch_size=32)
    starts = np.cumsum((0, *Xd.chunks[0]))
    for i in order:
        rows = slice(starts[i], starts[i + 1])
        expected.partial_fit(X[rows], y[rows], **kwargs)
    assert_same_fit(fitted, expected)


def test_dask_ml_incremental_itself() -> None:
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = _data("multiclass")
    classes = np.unique(y)
    incremental = wrappers.Incremental(
        _estimator("multiclass", batch_size=32), shuffle_blocks=False
    )
    incremental.fit(_chunked(X), _chunked(y), classes=classes)
    expected = _estimator("multiclass", batch_size=32)
    for start in range(0, N, CHUNKS):
        rows = slice(start, start + CHUNKS)
        expected.partial_fit(X[rows], y[rows], classes=classes)
    assert_same_fit(incremental.estimator_, expected)
    np.testing.assert_array_equal(_host(incremental.predict(_chunked(X))), expected.predict(X))


# --- early stopping and validation rows ----------------------------------------------------------


def test_early_stopping_without_validation_rows_asks_for_them() -> None:
    X, y = _data("multiclass")
    estimator = _estimator("multiclass", early_stopping=True)
    with pytest.raises(ValueError, match=r"^early_stopping: .*X_val=.*y_val="):
        estimator.fit(_chunked(X), _chunked(y))
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        estimator.partial_fit(_chunked(X), _chunked(y), classes=np.unique(y))


@pytest.mark.parametrize("validation_on_dask", [False, True])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_validation_rows_score_each_epoch_as_in_memory(validation_on_dask, early_stopping) -> None:
    X, y = _data("multiclass")
    X_val, y_val = X[180:], y[180:]
    X, y = X[:180], y[:180]
    params = {
        "shuffle": False, "batch_size": 32, "max_iter": 30, "early_stopping": early_stopping,
        "n_iter_no_change": 2, "tol": 1e-2,
    }  # fmt: skip
    expected = _estimator("multiclass", **params).fit(X, y, X_val=X_val, y_val=y_val)
    if validation_on_dask:
        X_val, y_val = _chunked(X_val, 20), _chunked(y_val, 20)
    ours = _estimator("multiclass", **params).fit(
        _chunked(X), _chunked(y), X_val=X_val, y_val=y_val
    )
    assert_same_fit(ours, expected)
    assert ours.best_validation_score_ == pytest.approx(expected.best_validation_score_)
    if early_stopping:
        assert ours.n_iter_ < 30  # it stopped, with the best epoch's weights
        assert_same_predictions(ours, expected, X)


# --- chunk by chunk: each chunk read once per epoch, no compute holds more than a chunk --------


class RecordingScheduler:
    """Dask's synchronous scheduler, recording each call's graph size and the most rows of
    any array it returns."""

    def __init__(self) -> None:
        self.graphs: list[int] = []
        self.rows: list[int] = []

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.graphs.append(len(dsk if isinstance(dsk, Mapping) else dsk.__dask_graph__()))
        result = dask.get(dsk, keys, **kwargs)
        self.rows.append(max([0, *(a.shape[0] for a in _arrays(result) if a.ndim)]))
        return result


def _arrays(result: Any) -> Iterator[np.ndarray]:
    if isinstance(result, (list, tuple)):
        for item in result:
            yield from _arrays(item)
    elif isinstance(result, np.ndarray):
        yield result


def _counted(X: np.ndarray, y: np.ndarray, reads: Counter) -> tuple[Any, Any]:
    """``(X, y)`` as Dask arrays whose chunk ``i`` counts in ``reads[i]`` each time it is read."""

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        reads[i] += 1
        rows = slice(i * CHUNKS, (i + 1) * CHUNKS)
        return X[rows], y[rows]

    parts = [dask.delayed(read, pure=True)(i) for i in range(4)]
    sizes = [min(CHUNKS, N - i * CHUNKS) for i in range(4)]
    Xd = da.concatenate(
        [da.from_delayed(p[0], (r, X.shape[1]), dtype=X.dtype) for p, r in zip(parts, sizes)]
    )
    yd = da.concatenate([da.from_delayed(p[1], (r,), dtype=y.dtype) for p, r in zip(parts, sizes)])
    return Xd, yd


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_each_chunk_is_read_once_an_epoch_and_never_the_whole_set(kind) -> None:
    X, y = _data(kind)
    graphs = {}
    for epochs in (1, 4):
        reads, scheduler = Counter(), RecordingScheduler()
        Xd, yd = _counted(X, y, reads)
        with dask.config.set(scheduler=scheduler):
            model = _estimator(kind, batch_size=32, max_iter=epochs, tol=0.0).fit(Xd, yd)
        assert model.n_iter_ == epochs
        # the classifier reads y once more, for its distinct labels (no rows kept)
        passes = epochs + (kind == "multiclass")
        assert reads == Counter(dict.fromkeys(range(4), passes))
        assert max(scheduler.rows) <= CHUNKS  # no compute brought back more than a chunk
        graphs[epochs] = max(scheduler.graphs)
    assert graphs[4] == graphs[1]  # the graph does not grow with the epochs


# --- what is refused, with the argument's name --------------------------------------------------


def test_bad_dask_inputs_are_refused_with_the_argument_named() -> None:
    X, y = _data("multiclass")
    Xd, yd = _chunked(X), _chunked(y)
    clf = _estimator("multiclass")
    with pytest.raises(ValueError, match=r"^X: is chunked along the feature axis"):
        clf.fit(da.from_array(X, chunks=(70, 2)), yd)
    with pytest.raises(ValueError, match=r"^y: its chunks .* differ from X's row chunks"):
        clf.fit(Xd, _chunked(y, 50))
    with pytest.raises(ValueError, match=r"^sample_weight: its chunks .* differ"):
        clf.fit(Xd, yd, sample_weight=_chunked(_weights(), 50))
    with pytest.raises(ValueError, match=r"^sample_weight: has 229 values but X has 230"):
        clf.fit(Xd, yd, sample_weight=_chunked(_weights()[:-1]))
    with pytest.raises(ValueError, match=r"^sample_weight: must contain at least one non-zero"):
        clf.fit(Xd, yd, sample_weight=da.zeros(N, chunks=CHUNKS))
    with pytest.raises(ValueError, match=r"^y: has 229 samples but X has 230"):
        clf.fit(Xd, y[:-1])
    with pytest.raises(ValueError, match=r"^X: has unknown \(NaN\) chunk sizes"):
        clf.fit(Xd[Xd[:, 0] > 0], yd[Xd[:, 0] > 0])
    bad = X.copy()
    bad[150, 1] = np.nan
    with pytest.raises(ValueError, match=r"^X: contains NaN or inf"):  # when its chunk is read
        clf.fit(_chunked(bad), yd)
    with pytest.raises(ValueError, match=r"^y: .*NaN"):
        clf.fit(Xd, _chunked(np.where(np.arange(N) == 100, np.nan, y)))
    multilabel = _data("multilabel")[1]
    with pytest.raises(ValueError, match=r"^class_weight: on Dask arrays only for single-label"):
        _estimator("multiclass", class_weight="balanced").fit(Xd, _chunked(multilabel))
    classes = np.unique(y)
    clf.partial_fit(Xd, yd, classes=classes)
    with pytest.raises(ValueError, match="has classes not in"):
        clf.partial_fit(Xd, yd + 5)
    reg = _estimator("regression")
    with pytest.raises(ValueError, match=r"^y: regression targets must be numbers"):
        reg.fit(Xd, _chunked(np.array(["a", "b"] * (N // 2))))
    with pytest.raises(ValueError, match=r"^y: contains NaN or inf"):
        reg.fit(Xd, _chunked(np.where(np.arange(N) == 100, np.inf, 1.0)))


def test_train_still_refuses_dask_sample_weights_with_directions() -> None:
    X, y = _data("multiclass")
    params = xpnet.init_params(5, 4, 3, seed=0, xp="dask", dtype="float64")
    with pytest.raises(TypeError, match=r"^sample_weight: .*MLPClassifier"):
        xpnet.train(_chunked(X), _chunked(y), params, epochs=1, sample_weight=_chunked(_weights()))


# --- a LocalCluster of worker processes: the per-chunk encoders travel to the workers ---------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="700MiB",
            dashboard_address=":0",
            silence_logs=40,
        )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def test_fit_on_a_local_cluster_equals_the_in_memory_fit(client) -> None:
    X, y = _data("strings")
    w = _weights()
    params = {"shuffle": False, "batch_size": 32, "class_weight": "balanced"}
    expected = _estimator("strings", **params).fit(X, y, sample_weight=w)
    ours = _estimator("strings", **params).fit(_chunked(X), _chunked(y), sample_weight=_chunked(w))
    assert_same_fit(ours, expected)
