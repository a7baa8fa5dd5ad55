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

import collections
import concurrent.futures
import functools
import math
import os
import sys
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

    allowed = {
        core.getter,
        core.getter_nofancy,
        core.getter_inline,
        read_stored,
        checked_block,
        _encoded_block,
    }
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


def stored_block(part: Any) -> tuple[Any, tuple[slice, ...], Any] | None:
    """``(source, index, lock)`` when computing ``part`` (a Delayed of one chunk) is one read
    ``source[index]`` of a stored array (a getter of ``dask.array.from_array``/``from_zarr``,
    :func:`reads_stored_data`); None for any other graph, which Dask computes."""
    if not reads_stored_data(part):
        return None
    graph = dict(part.__dask_graph__())
    task = graph.get(part.key)
    args = getattr(task, "args", None)  # dask._task_spec.Task: getter(TaskRef, DataNode)
    if not isinstance(args, tuple) or len(args) != 2:
        return None
    source = graph.get(getattr(args[0], "key", None))
    source = getattr(source, "value", source)  # a DataNode, or the array itself
    index = getattr(args[1], "value", args[1])
    kwargs = getattr(task, "kwargs", None) or {}
    if source is None or not isinstance(index, tuple):
        return None
    if not all(isinstance(s, slice) for s in index) or set(kwargs) - {"asarray", "lock"}:
        return None
    return source, index, kwargs.get("lock")


def read_into(source: Any, index: tuple[slice, ...], out: np.ndarray, lock: Any = None) -> None:
    """``out[...] = source[index]`` without a temporary array of the chunk's size where the
    source can write into ``out``: a Zarr array (an uncompressed chunk of a local store is
    read straight into ``out``, :func:`read_zarr_chunk_into`), anything else through its
    ``__getitem__``. A fresh array per chunk costs page faults for every page of it, on this
    machine as much as the read itself (and much more when the kernel compacts memory)."""
    if lock is not None and not isinstance(lock, bool):
        with lock:
            return read_into(source, index, out)
    if _is_zarr_array(source):
        if read_zarr_chunk_into(source, index, out):
            return
        try:
            from zarr.core.buffer.cpu import NDBuffer
        except ImportError:  # zarr 2 takes the NumPy array itself
            source.get_orthogonal_selection(index, out=out)
        else:
            source.get_orthogonal_selection(index, out=NDBuffer.from_numpy_array(out))
        return
    out[...] = source[index]


def _is_zarr_array(x: Any) -> bool:
    zarr = sys.modules.get("zarr")  # loaded by whoever made a Zarr array
    return zarr is not None and isinstance(x, getattr(zarr, "Array", ()))


def read_zarr_chunk_into(array: Any, index: tuple[slice, ...], out: np.ndarray) -> bool:
    """Read one whole chunk of a Zarr array stored uncompressed in a local directory (a file
    holding the chunk's bytes as they are in memory) into ``out``; False, having read nothing,
    for anything else (compressed or filtered chunks, other stores, an edge or missing
    chunk, another byte order), which Zarr then reads itself."""
    try:
        from zarr.storage import LocalStore

        meta, store_path = array.metadata, array.store_path
        if not isinstance(store_path.store, LocalStore) or out.dtype != array.dtype:
            return False
        if meta.zarr_format == 3:
            names = [type(codec).__name__ for codec in meta.codecs]
            endian = getattr(getattr(meta.codecs[0], "endian", None), "value", None)
            if names != ["BytesCodec"] or endian not in (None, sys.byteorder):
                return False
        elif meta.compressor is not None or meta.filters or meta.order != "C":
            return False
        if not out.dtype.isnative or not out.flags.c_contiguous:
            return False
        chunk = array.chunks
        coords = []
        for sl, size, length in zip(index, chunk, array.shape):
            start, stop, step = sl.indices(length)
            if step != 1 or start % size or stop - start != size:
                return False  # not exactly one whole chunk (an edge chunk is padded)
            coords.append(start // size)
        key = meta.encode_chunk_key(tuple(coords))
        path = os.path.join(str(store_path.store.root), store_path.path, key)
        view = out.data.cast("B")
        with open(path, "rb", buffering=0) as f:
            if os.fstat(f.fileno()).st_size != out.nbytes:
                return False
            done = 0
            while done < out.nbytes:
                got = f.readinto(view[done:])
                if not got:
                    return False
                done += got
    except (ImportError, AttributeError, OSError, TypeError, ValueError):
        return False
    return True


def read_stored(source: Any, index: Any, asarray: bool = True, lock: Any = None) -> Any:
    """``source[index]``: the getter of the chunks of :func:`xpnet.datasets.open_zarr` (on a
    worker, in a full-batch epoch). A whole uncompressed chunk of a local Zarr store is read
    from its file straight into a new array (:func:`read_zarr_chunk_into`), where Zarr's own
    read makes a second array of the chunk's size and copies it; anything else goes to
    Dask's ``getter``."""
    if (
        isinstance(index, tuple)
        and all(isinstance(s, slice) for s in index)
        and _is_zarr_array(source)
    ):
        shape = tuple(len(range(*s.indices(n))) for s, n in zip(index, source.shape))
        out = np.empty(shape, np.dtype(source.dtype).newbyteorder("="))
        if lock is None or isinstance(lock, bool):
            if read_zarr_chunk_into(source, index, out):
                return out
        else:
            with lock:
                if read_zarr_chunk_into(source, index, out):
                    return out
    from dask.array.core import getter

    return getter(source, index, asarray=asarray, lock=lock)


class ChunkBuffers:
    """Arrays reused from chunk to chunk while streaming: the ``k``-th chunk goes into slot
    ``k % slots``, so a chunk's memory is overwritten only ``slots`` chunks later."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._arrays: dict[tuple[int, str], np.ndarray] = {}

    def get(self, k: int, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` in slot ``k % slots`` (a view of a larger one
        where a smaller chunk comes)."""
        key = (k % self.slots, name)
        array = self._arrays.get(key)
        if (
            array is None
            or array.dtype != dtype
            or array.shape[1:] != shape[1:]
            or (array.shape[0] < shape[0])
        ):
            array = self._arrays[key] = np.empty(shape, dtype)
        return array[: shape[0]]


#: Chunks read ahead of the one being trained on (each a buffer of a chunk's size).
PREFETCH = 2


def stream_chunks(
    X: Array,
    y: Array,
    order: ChunkOrder,
    *,
    num_classes: int | None,
    weights: Array | None = None,
) -> Iterator[tuple[tuple[np.ndarray, ...], np.ndarray | None]]:
    """The chunks of ``(X, y)`` (and of ``weights``, when given: ``(X, y, w)``) as NumPy
    arrays, in ``order``, each computed once, with the order of their rows:
    ``((X_chunk, y_chunk[, w_chunk]), rows)``, ``rows`` a permutation of the chunk's rows
    or None (as stored), applied batch by batch by :func:`stream_batches`.

    The next chunks (:data:`PREFETCH`) are read in a background thread while the caller
    works on the current one: by this process when the arrays only read stored arrays
    (``from_zarr``, ``from_array``: :func:`reads_stored_data`), since this process needs the
    rows anyway and a read on a worker would add a copy through the cluster's sockets; by the
    current Dask scheduler (threads, or the workers of a ``distributed.Client``) otherwise, or
    when ``dask.config.set({"xpnet.stream.read-stored-here": False})``. Read here, a chunk
    goes into a buffer reused ``PREFETCH + 1`` chunks later (:class:`ChunkBuffers`): a chunk
    is valid until the next but ``PREFETCH`` one is asked for. Each chunk's labels and values
    are checked as it arrives.
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
    buffers = ChunkBuffers(PREFETCH + 1)

    def read(k: int, name: str, part: Any, array: Array) -> np.ndarray:
        found = stored_block(part)
        if found is None:
            return np.asarray(dask.compute(part, scheduler="sync")[0])
        source, index, lock = found
        rows = index[0].indices(array.shape[0])
        shape = (len(range(*rows)), *array.shape[1:])
        out = buffers.get(k, name, shape, np.dtype(array.dtype))
        read_into(source, index, out, lock)
        return out

    def load(k: int) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
        block = int(order.blocks[k])
        if here:
            chunk = tuple(
                read(k, str(i), part[block], array)
                for i, (part, array) in enumerate(zip(parts, columns))
            )
        else:
            chunk = tuple(dask.compute(*(part[block] for part in parts)))
        if num_classes is not None:
            check_label_values(chunk[1], "y", num_classes=num_classes, xp=np_xp)
        check_finite(chunk[0], "X", xp=np_xp)
        return chunk, order.rows(k)

    count = len(order.blocks)
    if count == 0:
        return
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xpnet-prefetch") as pool:
        pending = collections.deque(pool.submit(load, k) for k in range(min(PREFETCH, count)))
        for k in range(count):
            current = pending.popleft().result()
            if k + PREFETCH < count:
                pending.append(pool.submit(load, k + PREFETCH))
            yield current


def _row_parts(a: Array) -> np.ndarray:
    """One Delayed per row chunk of ``a`` (every other axis merged into one chunk)."""
    whole = {i: -1 for i in range(1, a.ndim)}
    return (a.rechunk(whole) if whole else a).to_delayed(optimize_graph=False).reshape(-1)


def stream_batches(
    chunks: Iterator[tuple[tuple[np.ndarray, ...], np.ndarray | None]], size: int
) -> Iterator[tuple[np.ndarray, ...]]:
    """Minibatches of ``size`` consecutive rows of the stream of chunks (``(X, y)`` or
    ``(X, y, w)``; the last batch may be smaller), each chunk's rows taken in its order
    ``rows`` (None: as stored); a batch spans two chunks where a chunk boundary falls inside
    it, so the batches are those of in-memory training on the concatenated, reordered
    stream. Each batch is a new array (the rows are taken batch by batch, as in-memory
    training takes them), never a view of a chunk, whose buffer the stream reuses."""
    carry: list[tuple[np.ndarray, ...]] = []
    carried = 0
    for arrays, rows in chunks:
        start, count = 0, arrays[0].shape[0]
        if carried:
            start = min(size - carried, count)
            carry.append(_take_rows(arrays, rows, 0, start))
            carried += start
            if carried < size:
                continue
            yield _concat(carry)
            carry, carried = [], 0
        stop = start + (count - start) // size * size
        for first in range(start, stop, size):
            yield _take_rows(arrays, rows, first, first + size)
        if stop < count:
            carry, carried = [_take_rows(arrays, rows, stop, count)], count - stop
    if carried:
        yield _concat(carry)


def _take_rows(
    arrays: tuple[np.ndarray, ...], rows: np.ndarray | None, first: int, stop: int
) -> tuple[np.ndarray, ...]:
    """Rows ``first:stop`` of the chunk's order (``rows``; None: as stored), as new arrays."""
    if rows is None:
        return tuple(a[first:stop].copy() for a in arrays)
    return tuple(np.take(a, rows[first:stop], axis=0) for a in arrays)


def _concat(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


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
