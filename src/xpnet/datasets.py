"""Data sets: the lecture's iris, and other small sets shipped with scikit-learn.

Each loader returns ``(X, y)`` on the backend, dtype and device you ask for:
``X`` floating of shape ``(n, d)``, ``y`` integer labels of shape ``(n,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as check
from ._optional import optional_import
from ._typing import Array
from .backends import asarray, default_float_dtype, namespace, resolve_dtype

__all__ = [
    "load_digits",
    "load_iris_2d",
    "make_blobs",
    "make_classification_dask",
    "open_zarr",
    "save_zarr",
]


def _place(
    X: np.ndarray, y: np.ndarray, backend: Any, dtype: Any, device: Any
) -> tuple[Array, Array]:
    xp = namespace(backend)
    target = resolve_dtype(xp, dtype) or default_float_dtype(xp)
    if not check.is_floating(target, xp=xp):
        raise TypeError(f"dtype: X must have a real floating dtype, got {target}")
    backend = backend if isinstance(backend, str) else xp  # by name: that backend's hooks
    return asarray(X, backend=backend, dtype=target, device=device), asarray(
        y.astype(np.int64), backend=backend, device=device
    )


def load_iris_2d(
    *, backend: Any = "numpy", dtype: Any = None, device: Any = None
) -> tuple[Array, Array]:
    """The lecture's data: iris, first two features (sepal length and width), centred.

    Exactly the slides' ``X = X[:, :2]; X = X - np.mean(X, axis=0)``, 150 samples,
    3 classes (labels 0, 1, 2).

    Parameters
    ----------
    backend : str or namespace
        ``"numpy"``, ``"array_api_strict"``, ``"torch"`` or ``"jax"``.
    dtype : str or dtype, optional
        Default: the backend's default floating dtype (float64 for NumPy, float32 for torch).
    device : optional
        Where the arrays live, e.g. ``"cuda"``.

    Examples
    --------
    >>> import xpnet
    >>> import array_api_strict as xp
    >>> X, y = xpnet.datasets.load_iris_2d(backend="array_api_strict", dtype="float64")
    >>> X.shape, y.shape, y.dtype
    ((150, 2), (150,), array_api_strict.int64)
    >>> bool(xp.all(xp.abs(xp.mean(X, axis=0)) < 1e-12))  # centred
    True
    """
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = X[:, :2]
    return _place(X - np.mean(X, axis=0), y, backend, dtype, device)


def load_digits(
    *, backend: Any = "numpy", dtype: Any = None, device: Any = None
) -> tuple[Array, Array]:
    """scikit-learn's 8x8 digits: 1797 samples, 64 pixel features scaled to [0, 1], 10 classes.

    Examples
    --------
    >>> import xpnet
    >>> import array_api_strict as xp
    >>> X, y = xpnet.datasets.load_digits(backend="array_api_strict", dtype="float32")
    >>> X.shape, float(xp.max(X))
    ((1797, 64), 1.0)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    X, y = sklearn_digits(return_X_y=True)
    return _place(X / 16.0, y, backend, dtype, device)


def make_blobs(
    n_samples: int = 300,
    n_features: int = 2,
    n_classes: int = 3,
    *,
    seed: int = 0,
    spread: float = 0.5,
    backend: Any = "numpy",
    dtype: Any = None,
    device: Any = None,
) -> tuple[Array, Array]:
    """Gaussian blobs around well-separated centres: an easy, separable classification set.

    The centres are drawn in ``[-5, 5]^d`` (a wider box if they do not fit), each at
    least ``8 * spread`` from the others, so the classes do not overlap: four standard
    deviations of margin on each side.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        Each at least 1.
    seed : int
        In ``[0, 2**32)``; draws the centres and the points.
    spread : float
        The standard deviation of each blob, a finite number > 0.
    backend, dtype, device
        As for :func:`load_iris_2d`.

    Examples
    --------
    >>> import xpnet
    >>> import array_api_strict as xp
    >>> X, y = xpnet.datasets.make_blobs(90, 2, 3, backend="array_api_strict")
    >>> X.shape, xp.unique_values(y)
    ((90, 2), Array([0, 1, 2], dtype=array_api_strict.int64))
    """
    from sklearn.datasets import make_blobs as sklearn_blobs

    for value, name in ((n_samples, "n_samples"), (n_features, "n_features")):
        check.check_positive_int(value, name)
    n_classes = check.check_positive_int(n_classes, "n_classes")
    seed = check.check_seed(seed)
    spread = check.check_real(spread, "spread", low=0.0, strict=True)
    centres = _separated_centres(n_classes, n_features, 8.0 * spread, seed=seed)
    X, y = sklearn_blobs(
        n_samples=n_samples, centers=centres, cluster_std=spread, random_state=seed
    )
    return _place(X, y, backend, dtype, device)


def _separated_centres(k: int, d: int, min_distance: float, *, seed: int) -> np.ndarray:
    """``k`` points in ``[-half, half]^d``, pairwise at least ``min_distance`` apart.

    Rejection sampling from ``seed``; the box grows when 1000 draws in a row fail.
    """
    rng = np.random.default_rng(seed)
    half, misses = 5.0, 0
    centres: list[np.ndarray] = []
    while len(centres) < k:
        candidate = rng.uniform(-half, half, size=d)
        if all(np.linalg.norm(candidate - c) >= min_distance for c in centres):
            centres.append(candidate)
            misses = 0
            continue
        misses += 1
        if misses == 1000:
            half, misses = half * 1.25, 0
    return np.stack(centres)


def make_classification_dask(
    n_samples: int,
    n_features: int,
    n_classes: int,
    *,
    chunks: int = 100_000,
    seed: int = 0,
    dtype: Any = "float32",
    class_sep: float = 1.0,
) -> tuple[Array, Array]:
    """A labelled data set as lazy Dask arrays, generated chunk by chunk from the seed.

    Each class ``k`` has a centre ``c_k ~ N(0, (2 class_sep)^2 / d)`` per feature (drawn from
    ``seed``); a sample of class ``y`` is ``c_y`` plus noise of mean 0 and variance 1 in
    every feature (uniform on ``[-sqrt(3), sqrt(3)]``: five times cheaper to draw than
    normal noise, which matters when the data are made anew each epoch), its label drawn
    uniformly. Chunk ``i`` (``chunks`` rows, the last one smaller) is drawn from
    ``default_rng([seed, i])`` only: its content depends on nothing but the seed and its
    index, so any chunk can be (re)computed alone, on any worker, in any order, and the
    whole set never exists in memory at once. ``X`` and ``y`` of one chunk come from one
    task, so computing both reads the chunk once.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        ``n`` rows, ``d`` features, ``K >= 2`` classes.
    chunks : int
        Rows per chunk.
    seed : int
        Seed of the centres and of every chunk.
    dtype : str or dtype
        Floating dtype of ``X`` (``"float32"`` or ``"float64"``); ``y`` is int64.
    class_sep : float
        Scale of the distances between the class centres (in units of the noise).

    Returns
    -------
    X : dask.array.Array, shape (n, d), chunks ``(chunks, d)``
    y : dask.array.Array of int64, shape (n,), the same row chunks

    Examples
    --------
    >>> import xpnet
    >>> X, y = xpnet.datasets.make_classification_dask(1000, 4, 3, chunks=300, seed=0)
    >>> X.chunks
    ((300, 300, 300, 100), (4,))
    >>> X.blocks[1].compute().shape, y.blocks[3].compute().shape
    ((300, 4), (100,))
    """
    dask = optional_import("dask")
    da = optional_import("dask.array")

    from ._validation import check_num_classes, check_positive_int

    check_positive_int(n_samples, "n_samples")
    check_positive_int(n_features, "n_features")
    check_num_classes(n_classes, "n_classes")
    check_positive_int(chunks, "chunks")
    check_positive_int(seed, "seed", allow_zero=True)
    if isinstance(class_sep, bool) or not isinstance(class_sep, (int, float)) or class_sep < 0:
        raise ValueError(f"class_sep: must be a number >= 0, got {class_sep!r}")
    resolved = np.dtype(resolve_dtype(namespace("numpy"), dtype))
    if resolved.kind != "f":
        raise TypeError(f"dtype: expected a floating dtype, got {resolved}")
    centres = np.random.default_rng(seed).standard_normal((n_classes, n_features))
    centres *= 2.0 * class_sep / np.sqrt(n_features)
    starts = range(0, n_samples, chunks)
    parts = [
        dask.delayed(_classification_chunk, pure=True)(
            centres, seed, i, min(chunks, n_samples - start), resolved
        )
        for i, start in enumerate(starts)
    ]
    rows = [min(chunks, n_samples - start) for start in starts]
    X = da.concatenate(
        [da.from_delayed(p[0], (r, n_features), dtype=resolved) for p, r in zip(parts, rows)]
    )
    y = da.concatenate([da.from_delayed(p[1], (r,), dtype=np.int64) for p, r in zip(parts, rows)])
    return X, y


def _classification_chunk(
    centres: np.ndarray, seed: int, index: int, rows: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ``index`` of :func:`make_classification_dask`: a function of its arguments only."""
    rng = np.random.default_rng([seed, index])
    y = rng.integers(0, centres.shape[0], size=rows, dtype=np.int64)
    half_width = np.sqrt(3.0)  # uniform on [-a, a] has variance a^2 / 3
    X = rng.random((rows, centres.shape[1]), dtype=np.float32).astype(dtype, copy=False)
    X *= 2.0 * half_width
    X += (centres - half_width).astype(dtype)[y]
    return X, y


# --- a data set in files: Zarr -----------------------------------------------------------------


def save_zarr(path: str, X: Array, y: Array, *, compress: bool = False) -> None:
    """Write ``X`` and ``y`` (Dask or NumPy arrays) to the Zarr group ``path`` as ``X``, ``y``.

    Each row chunk of ``X`` becomes one Zarr chunk (whole rows, every feature), written by
    the task that computes it: with a ``distributed.Client`` the workers make and write the
    chunks in parallel, and the data set never exists in memory at once. Uncompressed by
    default: float features of real data compress little (random ones by 12 % with Zarr's
    default Zstandard) while decompressing costs a core that training needs.

    Parameters
    ----------
    path : str
        A directory, created (an existing one with ``X`` or ``y`` in it is refused).
    X : array, shape (n, d); y : array, shape (n,)
        Row-chunked alike (Dask), or in memory (written in chunks of about 128 MB).
    compress : bool
        Zarr's default compressor (Zstandard) instead of none.

    Notes
    -----
    Your own data set, in files of another kind, is converted chunk by chunk: make ``X`` and
    ``y`` lazy Dask arrays of its rows (``np.load(path, mmap_mode="r")`` then
    ``dask.array.from_array`` for NumPy files; ``dask.dataframe.read_csv`` or
    ``read_parquet`` then ``.to_dask_array(lengths=True)`` for tables;
    ``dask.array.from_delayed`` of a loader for anything else), save them here, and train on
    :func:`open_zarr`'s arrays (the second example; docs: "Scaling out").

    Examples
    --------
    >>> import tempfile, os, xpnet
    >>> X, y = xpnet.datasets.make_classification_dask(1000, 4, 3, chunks=300, seed=0)
    >>> folder = tempfile.mkdtemp()
    >>> xpnet.datasets.save_zarr(os.path.join(folder, "train.zarr"), X, y)
    >>> X2, y2 = xpnet.datasets.open_zarr(os.path.join(folder, "train.zarr"))
    >>> X2.chunks, bool((X2 == X).all().compute())
    (((300, 300, 300, 100), (4,)), True)

    From NumPy files on disk, never loaded whole:

    >>> import numpy as np, dask.array as da
    >>> np.save(os.path.join(folder, "X.npy"), np.ones((500, 4), np.float32))
    >>> np.save(os.path.join(folder, "y.npy"), np.arange(500) % 3)
    >>> def rows(name):
    ...     stored = np.load(os.path.join(folder, name), mmap_mode="r")
    ...     return da.from_array(stored, chunks=(200, *stored.shape[1:]))
    >>> xpnet.datasets.save_zarr(os.path.join(folder, "mine.zarr"), rows("X.npy"), rows("y.npy"))
    >>> X3, y3 = xpnet.datasets.open_zarr(os.path.join(folder, "mine.zarr"))
    >>> start = xpnet.init_layers((4, 8, 3), xp="dask", seed=0, dtype="float32")
    >>> trained, history = xpnet.train(X3, y3, start, epochs=1, lr=0.1, batch_size=100)
    >>> X3.chunks[0], len(history.loss)
    ((200, 200, 100), 1)
    """
    import dask
    import dask.array as da

    from ._optional import optional_import

    optional_import("zarr", purpose="to write Zarr files")
    if not isinstance(X, da.Array):
        rows = max(1, 2**27 // max(1, X.nbytes // max(1, X.shape[0])))
        X = da.from_array(np.asarray(X), chunks=(rows, -1))
    if not isinstance(y, da.Array):
        y = da.from_array(np.asarray(y), chunks=X.chunks[0])
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X, y: expected shapes (n, d) and (n,), got {X.shape} and {y.shape}")
    X = X.rechunk({1: -1})
    y = y.rechunk((X.chunks[0],))
    codecs: dict[str, Any] = {} if compress else {"compressors": None}
    dask.compute(
        da.to_zarr(X, path, component="X", compute=False, **codecs),
        da.to_zarr(y, path, component="y", compute=False, **codecs),
    )


def open_zarr(path: str, *, x: str = "X", y: str = "y") -> tuple[Array, Array]:
    """The data set in the Zarr group ``path`` as lazy Dask arrays, one task per Zarr chunk.

    Nothing is read until computed. ``xpnet.train`` and the estimators take the result as
    they take any Dask array: full-batch epochs as a map-reduce over the chunks (on the
    workers, where a ``distributed.Client`` is active); minibatch epochs stream the chunks to
    the training process, which reads them itself since they are plain reads of a file.
    The same holds for ``dask.array.from_zarr(path, component=...)`` (or HDF5 through
    ``dask.array.from_array(h5py_dataset, chunks=...)``) on files written another way: the
    row chunks must hold whole samples (``X.rechunk({1: -1})`` otherwise).

    Parameters
    ----------
    path : str
        The Zarr group (a directory, or any store URL Zarr opens).
    x, y : str
        The names of the inputs and of the labels (or targets) in the group.

    Returns
    -------
    X : dask.array.Array, shape (n, d); y : dask.array.Array, shape (n,)
    """
    import dask.array as da

    from ._optional import optional_import

    zarr = optional_import("zarr", purpose="to read Zarr files")
    X_stored = zarr.open_array(path, path=x, mode="r")
    y_stored = zarr.open_array(path, path=y, mode="r")
    # as dask.array.from_zarr, with a getter that reads a whole uncompressed chunk of a local
    # store straight from its file (one array of the chunk's size, not two)
    from ._dask import read_stored

    X = da.from_array(X_stored, chunks=X_stored.chunks, getitem=read_stored)
    y_arr = da.from_array(y_stored, chunks=y_stored.chunks, getitem=read_stored)
    if y_arr.chunks[0] != X.chunks[0]:
        y_arr = y_arr.rechunk((X.chunks[0], *y_arr.chunks[1:]))
    return X, y_arr
