"""Dask: the same network on chunked arrays, on one machine or a ``dask.distributed`` cluster.

The math is the generic Array-API code of :mod:`xpnet.mlp` and :mod:`xpnet.optim`, run on
array-api-compat's wrapper of ``dask.array``: every operation builds a task graph over the
row chunks of ``X`` and nothing is computed until asked. This module only decides *how*
training drives it (the per-backend part, like :mod:`xpnet._drivers` for the others):

- **full batch**: each epoch is one map-reduce over the row chunks (the forward and the
  hand-derived backward run chunk by chunk; the gradient sums ``X^T dJ/da`` are tree
  reductions across chunks) and one ``dask.persist`` of the new parameters, its loss and its
  hit count. The parameters are small and persisted, so the graph of epoch ``t + 1`` starts
  from values, not from the graph of epoch ``t``: it does not grow with the epochs.
- **minibatches, out of core**: the row chunks are streamed to the training process in a
  seeded order (the chunk order and the row order inside each chunk drawn from the seed),
  the next chunk computed in the background while the current one trains; each chunk is
  read once per epoch. The steps are the NumPy ones, so with the same sample order the
  result is that of in-memory NumPy training.

Value checks that need data (labels in ``[0, K)``, finite inputs) are folded into the
graph (:func:`checked_labels`): a bad chunk fails loudly when it is computed, naming the
argument, and there is no extra pass over the data to look for it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._optional import optional_import
from ._typing import Array, Namespace, tree_leaves, tree_rebuild
from ._validation import fold_check


def is_dask(x: Any) -> bool:
    """True for a ``dask.array.Array`` (without importing Dask when it is not loaded)."""
    from array_api_compat import is_dask_array

    return bool(is_dask_array(x))


# --- checks at the boundary: chunk structure (no data needed) ------------------------------


def check_known_chunks(x: Array, name: str) -> None:
    """``x`` has known chunk sizes (a boolean mask, for one, leaves them NaN)."""
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(
            f"{name}: has unknown (NaN) chunk sizes {x.chunks}; call "
            f"{name}.compute_chunk_sizes() (or build it with known sizes) first"
        )


def check_chunks(X: Array, y: Array | None = None, *, name: str = "X") -> None:
    """``X`` is chunked along rows only, with known chunk sizes; ``y`` has ``X``'s row chunks.

    A chunked feature axis is refused rather than rechunked behind the user's back:
    merging the feature chunks multiplies the memory of every row chunk, a choice the
    user should make (``X.rechunk({1: -1})``).
    """
    check_known_chunks(X, name)
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        raise ValueError(
            f"{name}: is chunked along the feature axis (column chunks {X.chunks[1]}); each "
            f"row chunk must hold whole samples. Rechunk it with {name}.rechunk({{1: -1}})"
        )
    if y is None or not is_dask(y):
        return
    check_known_chunks(y, "y")
    if y.ndim >= 1 and tuple(y.chunks[0]) != tuple(X.chunks[0]):
        raise ValueError(
            f"y: its chunks {y.chunks[0]} differ from {name}'s row chunks {X.chunks[0]}; "
            f"rechunk one of them, e.g. y = y.rechunk({name}.chunks[0])"
        )


def check_row_chunks(a: Array, X: Array, name: str) -> None:
    """Dask ``a`` (per-sample values: weights, targets) has ``X``'s row chunks."""
    check_known_chunks(a, name)
    if tuple(a.chunks[0]) != tuple(X.chunks[0]):
        raise ValueError(
            f"{name}: its chunks {a.chunks[0]} differ from X's row chunks {X.chunks[0]}; "
            f"rechunk it, e.g. {name} = {name}.rechunk(X.chunks[0])"
        )


# --- value checks folded into the graph ----------------------------------------------------


def checked_labels(y: Array, num_classes: int, *, name: str = "y") -> Array:
    """``y`` with the range check of its labels folded into its graph."""
    from ._validation import check_label_values

    check = functools.partial(check_label_values, name=name, num_classes=num_classes)
    return fold_check(y, check)


def checked_finite(X: Array, *, name: str = "X") -> Array:
    """``X`` with the check for NaN and inf folded into its graph."""
    from ._validation import check_finite

    return fold_check(X, functools.partial(check_finite, name=name))


def checked_positive_total(w: Array, *, name: str) -> Array:
    """``w`` whose every chunk waits for the check ``sum(w) > 0`` (a reduction over ``w``
    inside the graph, with no extra pass over the data ``X``)."""
    da = optional_import("dask.array")

    after = functools.partial(_after_positive_total, name=name)
    return da.blockwise(after, "i", w, "i", da.sum(w), "", dtype=w.dtype, meta=w._meta)


def _after_positive_total(block: np.ndarray, total: np.ndarray, *, name: str) -> np.ndarray:
    if not total > 0:
        raise ValueError(f"{name}: the weights sum to 0; at least one must be positive")
    return block


# --- per-sample values made from labels, chunk by chunk (the estimators' targets, weights) ---


def distinct_values(y: Array, *also: Any) -> tuple[Any, ...]:
    """The distinct values of Dask ``y`` (of all its entries, sorted) and how often each
    occurs, computed in one pass over ``y`` together with ``also`` (other lazy values,
    such as a check of the sample weights): ``(values, counts, *also)``."""
    da = optional_import("dask.array")
    dask = optional_import("dask")

    values, counts = da.unique(y, return_counts=True)
    return tuple(dask.compute(values, counts, *also))


def map_rows(
    y: Array, encode: Callable[[np.ndarray], np.ndarray], *, width: int | None, dtype: Any
) -> Array:
    """``encode`` applied to each row chunk of Dask ``y`` (NumPy in, NumPy of ``dtype``
    out, where the chunk is computed): ``width`` values per sample (a target matrix), or
    one per sample for ``width=None`` (weights), in ``y``'s row chunks."""
    da = optional_import("dask.array")

    if y.ndim == 2:
        y = y.rechunk({1: -1})
    if width is None:
        shape: dict[str, Any] = {"chunks": (y.chunks[0],), "drop_axis": 1 if y.ndim == 2 else None}
        meta = np.empty((0,), dtype=dtype)
    else:
        shape = {"chunks": (y.chunks[0], (width,)), "new_axis": 1 if y.ndim == 1 else None}
        meta = np.empty((0, width), dtype=dtype)
    return da.map_blocks(_encoded_block, y, encode=encode, dtype=dtype, meta=meta, **shape)


def _encoded_block(block: np.ndarray, *, encode: Callable[[np.ndarray], np.ndarray]) -> Any:
    return encode(block)


# --- the sample order of an epoch over chunks -----------------------------------------------


@dataclass(frozen=True)
class ChunkOrder:
    """One epoch's sample order over a row-chunked data set, without an index per sample.

    The chunks are visited in the order ``blocks``; the rows of the ``k``-th visited chunk
    in the order ``default_rng(seeds[k]).permutation(rows)``, or ``rows_of_one`` for a data
    set in one chunk, or in their stored order when neither is given. :meth:`indices`
    spells the order out, sample by sample, for tests and for in-memory training on it.
    """

    chunks: tuple[int, ...]
    blocks: np.ndarray
    seeds: np.ndarray | None = None
    rows_of_one: np.ndarray | None = None

    def rows(self, k: int) -> np.ndarray | None:
        """The order of the rows inside the ``k``-th visited chunk (None: as stored)."""
        if self.rows_of_one is not None:
            return self.rows_of_one
        if self.seeds is None:
            return None
        count = self.chunks[int(self.blocks[k])]
        return np.random.default_rng(int(self.seeds[k])).permutation(count)

    def indices(self) -> np.ndarray:
        """The global sample order, one index per row (``n`` integers: for small data)."""
        starts = np.cumsum((0, *self.chunks))
        parts = []
        for k, block in enumerate(self.blocks):
            rows = self.rows(k)
            local = np.arange(self.chunks[int(block)]) if rows is None else rows
            parts.append(starts[int(block)] + local)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def chunk_orders(chunks: Sequence[int], *, seed: int, shuffle: bool) -> Iterator[ChunkOrder]:
    """One :class:`ChunkOrder` per epoch, forever, drawn from ``seed``.

    Each epoch draws a permutation of the chunks, then one seed per chunk for the order
    of its rows (so an order costs a few numbers per chunk, not one per sample). A data set
    in one chunk (it fits in memory) gets the permutation in-memory training draws
    (:func:`xpnet._rng.epoch_orders`), so it trains exactly as a NumPy array would.
    """
    from ._rng import epoch_orders

    chunks = tuple(int(c) for c in chunks)
    if shuffle and len(chunks) == 1:
        for order in epoch_orders(chunks[0], seed=seed, shuffle=True):
            yield ChunkOrder(chunks, np.zeros(1, dtype=np.int64), rows_of_one=order)
    rng = np.random.default_rng(seed)
    while True:
        if not shuffle:
            yield ChunkOrder(chunks, np.arange(len(chunks)))
            continue
        blocks = rng.permutation(len(chunks))
        yield ChunkOrder(chunks, blocks, rng.integers(0, 2**63 - 1, size=len(chunks)))


def reads_stored_data(part: Any) -> bool:
    """Whether computing ``part`` (a Delayed of one chunk, with the graph of its whole array)
    only reads stored data: every task a getter of ``dask.array.from_array`` (which
    ``from_zarr`` uses) or xpnet's own work on the chunk it read (a value check folded into
    the graph, the estimators' encoding of labels into target rows), nothing else computed."""
    from dask.array import core

    from ._validation import checked_block

    allowed = {core.getter, core.getter_nofancy, core.getter_inline, checked_block, _encoded_block}
    for node in dict(part.__dask_graph__()).values():
        if isinstance(node, tuple) and node and callable(node[0]):
            func = node[0]  # a task of the tuple form (dask before the task spec)
        else:
            func = getattr(node, "func", None)  # dask._task_spec.Task; data has none
            if func is None:
                continue
        if func not in allowed:
            return False
    return True


def stream_chunks(
    X: Array,
    y: Array,
    order: ChunkOrder,
    *,
    num_classes: int | None,
    weights: Array | None = None,
) -> Iterator[tuple[np.ndarray, ...]]:
    """The chunks of ``(X, y)`` (and of ``weights``, when given: ``(X, y, w)``) as NumPy
    arrays, in ``order``, each computed once.

    The next chunk is computed in a background thread while the caller works on the current
    one: by this process when the arrays only read stored arrays (``from_zarr``,
    ``from_array``: :func:`reads_stored_data`), since this process needs the rows anyway
    and a read on a worker would add a copy through the cluster's sockets; by the current
    Dask scheduler (threads, or the workers of a ``distributed.Client``) otherwise, or when
    ``dask.config.set({"xpnet.stream.read-stored-here": False})``. Each chunk's labels and
    values are checked as it arrives.
    """
    dask = optional_import("dask")

    from ._compat import array_namespace
    from ._validation import check_finite, check_label_values

    np_xp = array_namespace(np.zeros(0))

    # One Delayed per row chunk, made once: computing X.blocks[i] would slice and optimise
    # the whole array's graph again for every chunk (0.5 s a chunk at 240 chunks).
    columns = [X, y] if weights is None else [X, y, weights]
    parts = [_row_parts(a) for a in columns]

    # Chunks that are plain reads of a stored array (Zarr, HDF5, a memory map) are read by
    # this process, which needs their rows: through a cluster the same read runs on a worker
    # and the chunk is then copied through the sockets (and the scheduler) to this process.
    here = dask.config.get("xpnet.stream.read-stored-here", True) and all(
        reads_stored_data(part[0]) for part in parts
    )
    scheduler = "sync" if here else None

    def load(k: int) -> tuple[np.ndarray, ...]:
        block = int(order.blocks[k])
        chunk = dask.compute(*(part[block] for part in parts), scheduler=scheduler)
        if num_classes is not None:
            check_label_values(chunk[1], "y", num_classes=num_classes, xp=np_xp)
        check_finite(chunk[0], "X", xp=np_xp)
        rows = order.rows(k)
        if rows is None:
            return tuple(chunk)
        return tuple(a[rows] for a in chunk)

    count = len(order.blocks)
    if count == 0:
        return
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xpnet-prefetch") as pool:
        pending = pool.submit(load, 0)
        for k in range(count):
            current = pending.result()
            if k + 1 < count:
                pending = pool.submit(load, k + 1)
            yield current


def _row_parts(a: Array) -> np.ndarray:
    """One Delayed per row chunk of ``a`` (every other axis merged into one chunk)."""
    whole = {i: -1 for i in range(1, a.ndim)}
    return (a.rechunk(whole) if whole else a).to_delayed(optimize_graph=False).reshape(-1)


def stream_batches(
    chunks: Iterator[tuple[np.ndarray, ...]], size: int
) -> Iterator[tuple[np.ndarray, ...]]:
    """Minibatches of ``size`` consecutive rows of the stream of chunks (tuples of arrays
    with the same rows: ``(X, y)`` or ``(X, y, w)``; the last batch may be smaller); a batch
    spans two or more chunks where chunk boundaries fall inside it, so the batches are those
    of in-memory training on the concatenated stream."""
    carry: list[tuple[np.ndarray, ...]] = []
    carried = 0
    for chunk in chunks:
        start, rows = 0, chunk[0].shape[0]
        if carried:
            start = min(size - carried, rows)
            carry.append(tuple(a[:start] for a in chunk))
            carried += start
            if carried < size:
                continue
            yield _concat(carry)
            carry, carried = [], 0
        stop = start + (rows - start) // size * size
        for first in range(start, stop, size):
            yield tuple(a[first : first + size] for a in chunk)
        if stop < rows:
            carry, carried = [tuple(a[stop:] for a in chunk)], rows - stop
    if carried:
        yield _concat(carry)


def _concat(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(column) for column in zip(*parts))


# --- parameters: small pytrees of arrays, moved between Dask and the host -------------------


def persist_tree(*trees: Any) -> tuple[Any, ...]:
    """``dask.persist`` of every array in nested tuples (NamedTuples kept), in one call."""
    dask = optional_import("dask")

    leaves = dask.persist(*(leaf for tree in trees for leaf in tree_leaves(tree)))
    it = iter(leaves)
    return tuple(tree_rebuild(tree, it) for tree in trees)


def to_host_tree(tree: Any) -> Any:
    """The tree with every Dask array computed into NumPy (one ``dask.compute``)."""
    dask = optional_import("dask")

    return tree_rebuild(tree, iter(dask.compute(*tree_leaves(tree))))


def from_host_tree(tree: Any) -> Any:
    """The tree with every NumPy array wrapped as a one-chunk Dask array."""
    da = optional_import("dask.array")

    return tree_rebuild(tree, iter(da.from_array(np.asarray(leaf)) for leaf in tree_leaves(tree)))


# --- the epoch runner -----------------------------------------------------------------------


Step = Callable[..., tuple[Any, Array, Array]]


class DaskEpoch:
    """One epoch of a generic step on Dask arrays: full batch (a map-reduce over the chunks
    and one persist), or minibatches streamed chunk by chunk to NumPy steps here.

    The step is :mod:`xpnet.optim`'s ``step(carry, X, y, lr, *, xp)`` with ``carry =
    (layers, optimizer state)``; ``y`` holds labels (1-D integers: range-checked in the
    graph) or target rows; ``weights`` (Dask, with ``X``'s row chunks) the samples'
    weights, streamed with their rows. The carry comes back where it came from: Dask arrays
    (persisted values, :func:`xpnet.train`) for a Dask carry, NumPy arrays for a NumPy
    carry (the estimators, whose weights live on the host).
    """

    pipelined = False

    def __init__(self, step: Step, xp: Namespace) -> None:
        from ._compat import array_namespace

        self.step, self.xp = step, xp
        self.host_xp = array_namespace(np.zeros(0))

    def __call__(
        self,
        carry: Any,
        X: Array,
        y: Array,
        order: ChunkOrder | None,
        size: int,
        lrs: Sequence[float],
        weights: Array | None = None,
    ) -> tuple[Any, Array, Array]:
        check_chunks(X, y)
        if weights is not None:
            check_row_chunks(weights, X, "sample_weight")
        labels = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
        num_classes = int(carry[0][-1][0].shape[1]) if labels else None
        on_host = not any(is_dask(leaf) for leaf in tree_leaves(carry))
        if size >= X.shape[0]:  # one batch: never gathered here, whatever the order
            return self.full_batch(
                carry, X, y, lrs[0], num_classes=num_classes, weights=weights, on_host=on_host
            )
        if order is None:
            order = next(chunk_orders(X.chunks[0], seed=0, shuffle=False))
        return self.streamed(
            carry,
            X,
            y,
            order,
            size,
            lrs,
            num_classes=num_classes,
            weights=weights,
            on_host=on_host,
        )

    def full_batch(
        self,
        carry: Any,
        X: Array,
        y: Array,
        lr: float,
        *,
        num_classes: int | None,
        weights: Array | None = None,
        on_host: bool = False,
    ) -> tuple[Any, Array, Array]:
        X = checked_finite(X)
        if num_classes is not None:
            y = checked_labels(y, num_classes)
        if on_host:
            carry = from_host_tree(carry)
        new_carry, loss_sum, hits = self.step(carry, X, y, lr, xp=self.xp, weights=weights)
        result: tuple[Any, Array, Array] = (
            to_host_tree((new_carry, loss_sum, hits))
            if on_host
            else persist_tree(new_carry, loss_sum, hits)
        )
        return result

    def streamed(
        self,
        carry: Any,
        X: Array,
        y: Array,
        order: ChunkOrder,
        size: int,
        lrs: Sequence[float],
        *,
        num_classes: int | None,
        weights: Array | None = None,
        on_host: bool = False,
    ) -> tuple[Any, Array, Array]:
        da = optional_import("dask.array")

        host = carry if on_host else to_host_tree(carry)
        losses, hits = [], []
        chunks = stream_chunks(X, y, order, num_classes=num_classes, weights=weights)
        for i, (X_batch, y_batch, *w_batch) in enumerate(stream_batches(chunks, size)):
            host, batch_loss, batch_hits = self.step(
                host,
                X_batch,
                y_batch,
                lrs[i],
                xp=self.host_xp,
                weights=w_batch[0] if w_batch else None,
            )
            losses.append(batch_loss)
            hits.append(batch_hits)
        loss_sum, hit_count = np.sum(np.stack(losses)), np.sum(np.stack(hits))
        if on_host:
            return host, loss_sum, hit_count
        return from_host_tree(host), da.from_array(loss_sum), da.from_array(hit_count)


# --- the backend's hooks (registered as "dask" in xpnet.backends) ------------------------------


def row_chunks(ndim: int, chunks: Any = None) -> Any:
    """Dask's chunks for new data: the given ones, or automatic row chunks that hold whole
    samples (every other axis in one chunk), as training needs."""
    if chunks is not None:
        return chunks
    return {0: "auto", **dict.fromkeys(range(1, ndim), -1)}


def from_numpy(
    data: np.ndarray, *, xp: Namespace, dtype: Any, device: Any, chunks: Any = None
) -> Array:
    """Host data as a Dask array (``chunks``: as ``dask.array.from_array`` takes them;
    default: automatic row chunks)."""
    da = optional_import("dask.array")

    if device not in (None, "cpu"):
        raise ValueError(f"device: Dask arrays of NumPy chunks live on 'cpu', got {device!r}")
    if dtype is not None:
        data = data.astype(dtype, copy=False)
    if chunks is None and data.size == 0:
        chunks = -1  # nothing to split, and Dask's automatic chunks divide by zero
    return da.from_array(data, chunks=row_chunks(data.ndim, chunks))


def to_numpy(x: Array) -> np.ndarray:
    """``x`` computed (by the current scheduler) into one NumPy array."""
    return np.asarray(x.compute())
