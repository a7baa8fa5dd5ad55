"""``python -m xpnet bench --workload out-of-core``: training on more data than memory holds,
read from files.

The data set (:func:`xpnet.datasets.make_classification_dask`, 120,000,000 x 64 float32 by
default: 30.7 GB) is first written to disk as a Zarr group (:func:`xpnet.datasets.save_zarr`,
chunk by chunk by this process's threads, never all in memory),
then opened with :func:`xpnet.datasets.open_zarr` and trained on for

* one **full-batch** epoch: one map-reduce over the row chunks on the workers, one ``persist``;
* one **streamed minibatch** epoch: the chunks streamed to this process in a seeded order,
  the next one read while the current one trains;

with the same ``xpnet.train`` that trains in-memory arrays, so the rates include reading.
Zarr rather than Parquet: a Zarr chunk is a block of a typed n-d array, so a row chunk of
``X`` is one file read straight into a float32 array with known chunk sizes, while Parquet
through ``dask.dataframe`` stores 64 columns (a copy to assemble rows) with partition lengths
unknown until read (NaN chunks).

Next to it, the same two epochs on an in-memory NumPy subset (``--numpy-rows``) give the rows
per second of the same code without Dask, and the ratio Dask / NumPy, with the CPU seconds
of every process per million rows (on a machine shared with other work, the figure that
moves least with the load). Where the time goes: the full-batch epoch on a few chunks under
Dask's task stream (reading and checking, the rest of the step, transfers between workers,
idle worker threads, the scheduler's CPU), and the streamed epoch's parts on a few chunks
(reading a chunk here into a reused buffer, checking it, taking each batch's rows in the
chunk's order, the steps; and, for comparison, reading it on a worker and gathering it here);
the bytes each epoch read from disk rather than the page cache. The resident memory of every
process (this one, which runs the scheduler, the nannies and the streamed steps; each worker)
is sampled every 0.5 s, and its kernel-recorded peak (``VmHWM``, restarted after the NumPy
subset's epochs) read as it goes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

WORKLOAD = "out-of-core"
GiB = 1024**3


def requested(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for this workload (``--workload out-of-core``)."""
    for i, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in ("--workload", "--workloads"):
            value = value or (argv[i + 1] if i + 1 < len(argv) else "")
            if WORKLOAD in value.split(","):
                return True
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m xpnet bench --workload out-of-core",
        description=(
            "One full-batch and one streamed minibatch epoch of xpnet.train on a Dask data set "
            "larger than memory, on a LocalCluster, with the peak memory of every process, "
            "next to the same code on an in-memory NumPy subset."
        ),
    )
    add = parser.add_argument
    add("--workload", "--workloads", dest="workload", default=WORKLOAD, help=argparse.SUPPRESS)
    add("--rows", type=int, default=120_000_000, help="samples n (default 120,000,000)")
    add("--features", type=int, default=64, help="features d (default 64)")
    add("--hidden", type=int, default=32, help="hidden units H (default 32)")
    add("--classes", type=int, default=10, help="classes K (default 10)")
    add("--chunk-rows", type=int, default=500_000, help="rows per chunk (default 500,000)")
    add("--batch-size", type=int, default=4096, help="minibatch size (default 4096)")
    add("--workers", type=int, default=2, help="worker processes, 1 thread each (default 2)")
    add("--memory-limit", default="3.5GiB", help="Dask memory limit per worker (3.5GiB)")
    add("--numpy-rows", type=int, default=4_000_000, help="rows of the NumPy subset (4e6)")
    add("--json", metavar="FILE", default=None, help="also write the report as JSON to FILE")
    add("--markdown", metavar="FILE", default=None, help="also write the table to FILE")
    add("--plot", metavar="FILE", default=None, help="draw memory per process over time")
    add(
        "--store",
        metavar="PATH",
        default=None,
        help="the Zarr store of the data set: reused when it holds this run's data, written "
        "(and kept) otherwise (default: a temporary directory, removed at the end)",
    )
    add(
        "--keep-free-gb",
        type=float,
        default=20.0,
        help="refuse to write the files if less disk than this would stay free (20)",
    )
    add("--breakdown-chunks", type=int, default=6,
        help="chunks timed part by part for the streamed epoch's breakdown (6)")  # fmt: skip
    return parser


# --- memory of every process ----------------------------------------------------------------


def _peak_rss(pid: int) -> int | None:
    """The kernel's record of a process's peak resident memory (``VmHWM``), in bytes."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> None:
    """Start this process's ``VmHWM`` again from its current resident memory (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _role(proc: Any, main_pid: int) -> str:
    if proc.pid == main_pid:
        return "main (client, scheduler, streamed steps)"
    try:
        cmdline = " ".join(proc.cmdline())
    except Exception:  # the process may be gone
        return "other"
    if "spawn_main" in cmdline or "forkserver" in cmdline:
        return "dask worker"  # the nannies run in the main process; each spawns a worker
    return "other"


class MemorySampler:
    """Samples the RSS of this process and of the processes it is told to track (the
    cluster's workers) every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        import psutil

        self.psutil, self.interval = psutil, interval
        self.main = psutil.Process(os.getpid())
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.roles: dict[int, str] = {}
        self.hwm: dict[int, int] = {}
        self.start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="xpnet-memory")
        self.marks: list[tuple[float, str]] = []
        self.tracked: list[Any] = []

    def track(self, pids: Sequence[int]) -> None:
        """Sample these processes too (this run's workers, not other clusters')."""
        self.tracked += [self.psutil.Process(pid) for pid in pids]

    def _processes(self) -> list[Any]:
        return [self.main, *self.tracked]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        now, rss = time.perf_counter() - self.start, {}
        for proc in self._processes():
            try:
                rss[proc.pid] = proc.memory_info().rss
                if proc.pid not in self.roles:
                    self.roles[proc.pid] = _role(proc, self.main.pid)
                peak = _peak_rss(proc.pid)
                if peak is not None:
                    self.hwm[proc.pid] = max(peak, self.hwm.get(proc.pid, 0))
            except self.psutil.Error:
                continue
        self.samples.append((now, rss))

    def mark(self, label: str) -> None:
        self.marks.append((time.perf_counter() - self.start, label))

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def peaks(self) -> list[dict[str, Any]]:
        """Per process: its role, the largest sampled RSS and the kernel's peak (VmHWM)."""
        result = []
        for pid, role in sorted(self.roles.items(), key=lambda item: (item[1], item[0])):
            sampled = max((s.get(pid, 0) for _, s in self.samples), default=0)
            peak = max(self.hwm.get(pid, 0), sampled)
            result.append({"pid": pid, "role": role, "sampled_peak": sampled, "peak": peak})
        return result

    def series(self) -> dict[str, Any]:
        pids = sorted(self.roles)
        return {
            "t": [t for t, _ in self.samples],
            "rss": {str(pid): [s.get(pid, 0) for _, s in self.samples] for pid in pids},
            "roles": {str(pid): self.roles[pid] for pid in pids},
            "marks": self.marks,
        }


# --- the runs -------------------------------------------------------------------------------


def _dask_params(layers: Any) -> Any:
    import dask.array as da

    import xpnet

    return tuple(xpnet.Layer(da.from_array(W), da.from_array(b)) for W, b in layers)


def _epoch(X: Any, y: Any, params: Any, batch_size: int | None) -> float:
    import xpnet

    start = time.perf_counter()
    trained, history = xpnet.train(X, y, params, epochs=1, lr=0.05, batch_size=batch_size, seed=0)
    seconds = time.perf_counter() - start
    if not np.isfinite(history.loss[0]):
        raise RuntimeError(f"the epoch's loss is {history.loss[0]}")
    return seconds


def _system(argv: Sequence[str]) -> dict[str, Any]:
    """What the run ran on (without importing torch or JAX, which would weigh on memory)."""
    import datetime
    import platform

    import dask
    import distributed

    from ._system import cpu_model, load_average

    versions = {"numpy": np.__version__, "dask": dask.__version__}
    versions["distributed"] = distributed.__version__
    try:
        import zarr

        versions["zarr"] = zarr.__version__
    except ImportError:  # pragma: no cover - the run needs it; the report says so
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m xpnet bench " + " ".join(argv),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_average(),
        "versions": versions,
    }


# --- the files ------------------------------------------------------------------------------


def _identity(args: argparse.Namespace) -> dict[str, Any]:
    """What a store written by this workload holds (to reuse one written before)."""
    return {"rows": args.rows, "features": args.features, "classes": args.classes,
            "chunk_rows": args.chunk_rows, "seed": 0, "dtype": "float32"}  # fmt: skip


def _stored_identity(path: str) -> dict[str, Any] | None:
    try:
        import zarr

        stored = zarr.open_group(path, mode="r").attrs.get("xpnet_out_of_core")
        return dict(stored) if isinstance(stored, dict) else None
    except Exception:  # not there, or not a store of ours
        return None


def _write_store(path: str, args: argparse.Namespace, data_bytes: int, say: Any) -> float:
    """Write the data set to ``path`` (the workers make and write the chunks); seconds."""
    import shutil

    import zarr

    import xpnet

    folder = os.path.dirname(os.path.abspath(path))
    free = shutil.disk_usage(folder).free
    keep = args.keep_free_gb * 1e9
    if free - data_bytes < keep:
        raise SystemExit(
            f"error: writing {data_bytes / 1e9:.1f} GB to {folder} would leave "
            f"{(free - data_bytes) / 1e9:.1f} GB free (--keep-free-gb {args.keep_free_gb}); "
            "choose fewer --rows or another --store"
        )
    if os.path.exists(path):
        shutil.rmtree(path)
    X, y = xpnet.datasets.make_classification_dask(
        args.rows, args.features, args.classes, chunks=args.chunk_rows, seed=0, dtype="float32"
    )
    say(f"  writing {data_bytes / 1e9:.1f} GB to {path} (Zarr, uncompressed) ...")
    start = time.perf_counter()
    xpnet.datasets.save_zarr(path, X, y)
    seconds = time.perf_counter() - start
    zarr.open_group(path, mode="r+").attrs["xpnet_out_of_core"] = _identity(args)
    return seconds


# --- where the time goes ----------------------------------------------------------------------


def _cpu_seconds() -> float:
    """CPU seconds (user + system, every thread) of the calling process so far."""
    usage = os.times()
    return usage.user + usage.system


def _disk_read_bytes() -> int:
    """Bytes the calling process has read from storage (not from the page cache) so far."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Counters:
    """CPU seconds and bytes read from disk by this process and by each worker, between
    :meth:`start` and :meth:`stop`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _now(self) -> dict[str, tuple[float, int]]:
        here = {"main": (_cpu_seconds(), _disk_read_bytes())}
        workers = self.client.run(lambda: (_cpu_seconds(), _disk_read_bytes()))
        return {**here, **{f"worker {i}": v for i, v in enumerate(workers.values())}}

    def start(self) -> None:
        self.begin = self._now()

    def stop(self) -> dict[str, Any]:
        end = self._now()
        cpu = {k: end[k][0] - self.begin[k][0] for k in end}
        disk = {k: end[k][1] - self.begin[k][1] for k in end}
        return {"cpu_seconds": cpu, "disk_read_bytes": disk}


def _full_batch_breakdown(X: Any, y: Any, params: Any, chunks: int) -> dict[str, Any]:
    """Where a full-batch epoch's time goes, on its first ``chunks`` chunks: the worker
    threads' time in tasks (reading and checking a chunk; the rest of the step), moving
    results between workers, and idle (waiting on the scheduler, or on other tasks), with
    the tasks per chunk and the CPU time of this process (scheduler and client)."""
    import distributed

    client = distributed.get_client()
    rows = int(sum(X.chunks[0][:chunks]))
    threads = sum(client.nthreads().values())
    cpu = _cpu_seconds()
    with distributed.get_task_stream() as stream:
        wall = _epoch(X[:rows], y[:rows], params, None)
    cpu = _cpu_seconds() - cpu
    read = tasks = transfer = 0.0
    count = 0
    for record in stream.data:
        key = record["key"]
        name = key[0] if isinstance(key, tuple) else str(key)
        for part in record["startstops"]:
            seconds = part["stop"] - part["start"]
            if part["action"] == "compute":
                tasks += seconds
                if name.startswith(("_checked_block", "from-zarr", "array-")):
                    read += seconds
            elif part["action"] == "transfer":
                transfer += seconds
        count += 1
    per = 1.0 / chunks
    return {
        "chunks": chunks,
        "rows": rows,
        "seconds": wall,
        "worker_threads": threads,
        "tasks_per_chunk": count * per,
        "per_chunk": {
            "read a chunk and check its values (tasks on a worker)": read * per,
            "the rest of the step (tasks on a worker)": (tasks - read) * per,
            "transfers between workers": transfer * per,
            "worker threads idle (scheduling, waiting on other tasks)": max(
                0.0, wall * threads - tasks - transfer
            )
            * per,
            "CPU of this process (scheduler, client)": cpu * per,
            "the epoch on these chunks (wall)": wall * per,
        },
    }


def _breakdown(X: Any, y: Any, layers: Any, args: argparse.Namespace, chunks: int) -> Any:
    """Seconds per chunk of each part of the streamed epoch, on ``chunks`` chunks."""
    import dask
    import distributed

    import xpnet
    from xpnet import _dask
    from xpnet._compat import array_namespace
    from xpnet._validation import check_finite, check_label_values

    client = distributed.get_client()
    X_parts = X.to_delayed(optimize_graph=False).reshape(-1)
    y_parts = y.to_delayed(optimize_graph=False).reshape(-1)
    order = next(_dask.chunk_orders(X.chunks[0], seed=0, shuffle=True))
    count = min(chunks, len(order.blocks))
    seeds = order.seeds if order.seeds is not None else np.zeros(len(order.blocks), np.int64)
    subset = _dask.ChunkOrder(order.chunks, order.blocks[:count], seeds[:count])
    np_xp = array_namespace(np.zeros(0))
    parts: dict[str, list[float]] = {
        "read here, into a reused buffer": [],
        "check labels and values": [],
        "take each batch's rows in the chunk's order": [],
        "steps (NumPy, this process)": [],
        "not done: compute on a worker": [],
        "not done: gather from the worker to this process": [],
    }
    buffers = _dask.ChunkBuffers(1)
    for k in range(count):
        block = int(subset.blocks[k])
        start = time.perf_counter()
        chunk = []
        for name, part, array in (("X", X_parts[block], X), ("y", y_parts[block], y)):
            found = _dask.stored_block(part)
            if found is None:
                chunk.append(np.asarray(dask.compute(part, scheduler="sync")[0]))
                continue
            source, index, lock = found
            shape = (len(range(*index[0].indices(array.shape[0]))), *array.shape[1:])
            out = buffers.get(0, name, shape, np.dtype(array.dtype))
            _dask.read_into(source, index, out, lock)
            chunk.append(out)
        X_chunk, y_chunk = chunk
        parts["read here, into a reused buffer"].append(time.perf_counter() - start)
        start = time.perf_counter()
        check_label_values(y_chunk, "y", num_classes=args.classes, xp=np_xp)
        check_finite(X_chunk, "X", xp=np_xp)
        parts["check labels and values"].append(time.perf_counter() - start)
        start = time.perf_counter()
        rows = subset.rows(k)
        batches = list(_dask.stream_batches(iter([((X_chunk, y_chunk), rows)]), args.batch_size))
        parts["take each batch's rows in the chunk's order"].append(time.perf_counter() - start)
        X_ordered = np.concatenate([b[0] for b in batches])
        y_ordered = np.concatenate([b[1] for b in batches])
        del batches
        start = time.perf_counter()
        xpnet.train(X_ordered, y_ordered, layers, epochs=1, lr=0.05,
                    batch_size=args.batch_size, shuffle=False)  # fmt: skip
        parts["steps (NumPy, this process)"].append(time.perf_counter() - start)
        del X_ordered, y_ordered
        start = time.perf_counter()
        futures = client.compute([X_parts[block], y_parts[block]])
        distributed.wait(futures)
        parts["not done: compute on a worker"].append(time.perf_counter() - start)
        start = time.perf_counter()
        client.gather(futures)
        parts["not done: gather from the worker to this process"].append(
            time.perf_counter() - start
        )
        del futures
    rows_total = sum(order.chunks[int(b)] for b in subset.blocks)
    streams = {}
    for label, here in (("stream only, read here", True), ("stream only, via workers", False)):
        with dask.config.set({"xpnet.stream.read-stored-here": here}):
            start = time.perf_counter()
            for _ in _dask.stream_chunks(X, y, subset, num_classes=args.classes):
                pass
            streams[label] = (time.perf_counter() - start) / count
    return {
        "chunks": count,
        "rows": rows_total,
        "median_seconds_per_chunk": {k: float(np.median(v)) for k, v in parts.items()},
        "seconds": parts,
        "stream_seconds_per_chunk": streams,
    }


# --- the run --------------------------------------------------------------------------------


def _numpy_epochs(X: Any, y: Any, layers: Any, batch_size: int) -> tuple[float, float]:
    """Seconds of a full-batch and of a minibatch epoch in memory, each the faster of NumPy's
    default BLAS threads and one thread (spinning BLAS threads on a busy machine can cost
    more than they give), so that the ratio is not flattered by a slow reference."""
    from threadpoolctl import threadpool_limits

    full, streamed = _epoch(X, y, layers, None), _epoch(X, y, layers, batch_size)
    with threadpool_limits(1, user_api="blas"):
        full = min(full, _epoch(X, y, layers, None))
        cpu = _cpu_seconds()
        seconds = _epoch(X, y, layers, batch_size)
        _CPU["numpy minibatch (1 BLAS thread)"] = _cpu_seconds() - cpu
        streamed = min(streamed, seconds)
        cpu = _cpu_seconds()
        seconds = _epoch(X, y, layers, None)
        _CPU["numpy full batch (1 BLAS thread)"] = _cpu_seconds() - cpu
        full = min(full, seconds)
    return full, streamed


#: CPU seconds of the last NumPy epochs with one BLAS thread (set by :func:`_numpy_epochs`).
_CPU: dict[str, float] = {}


def run(args: argparse.Namespace, argv: Sequence[str] = (), say: Any = print) -> dict[str, Any]:
    import shutil
    import tempfile

    import dask
    import distributed
    from threadpoolctl import threadpool_limits

    import xpnet

    from .._optional import optional_import

    optional_import("zarr", purpose="for the out-of-core benchmark's files")
    n, d = args.rows, args.features
    layers = xpnet.init_layers((d, args.hidden, args.classes), seed=0, dtype="float32")
    data_bytes = n * d * 4 + n * 8
    temporary = None
    if args.store is None:
        temporary = tempfile.mkdtemp(prefix="xpnet-out-of-core-")
        store = os.path.join(temporary, "data.zarr")
    else:
        store = args.store
    chunks = -(-n // args.chunk_rows)
    report: dict[str, Any] = {
        "workload": WORKLOAD,
        "system": _system(argv),
        "rows": n,
        "features": d,
        "hidden": args.hidden,
        "classes": args.classes,
        "chunk_rows": args.chunk_rows,
        "chunks": chunks,
        "blas_threads_main_during_dask": 1,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        "data_bytes": data_bytes,
        "machine_memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "store": {"format": "zarr", "path": store, "compressed": False},
    }
    say(f"out-of-core: {n:,} x {d} float32 ({data_bytes / GiB:.1f} GiB with labels), "
        f"{chunks} chunks, {args.workers} workers, files in {store}")  # fmt: skip
    # Warm-up, untimed: the first train call imports and initialises what it needs.
    X_small, y_small = xpnet.datasets.make_classification_dask(
        1000, d, args.classes, chunks=1000, seed=1, dtype="float32"
    )
    X_small, y_small = dask.compute(X_small, y_small, scheduler="sync")
    _epoch(X_small, y_small, layers, None)
    _epoch(X_small, y_small, layers, 100)
    # The in-memory reference, before the cluster (and again after it: on a shared machine
    # the load moves; the faster figure of the two is kept, which does not flatter Dask).
    m = min(args.numpy_rows, n)
    if _stored_identity(store) == _identity(args):
        X_np, y_np = dask.compute(*(a[:m] for a in xpnet.datasets.open_zarr(store)))
        before = _numpy_epochs(X_np, y_np, layers, args.batch_size)
        del X_np, y_np
        gc.collect()
        _reset_peak_rss()  # the peaks below are those of the Dask epochs, not of this subset
    else:
        before = (float("inf"), float("inf"))
    sampler = MemorySampler()
    try:
        # The streamed steps run here while the workers use the cores: one BLAS thread in
        # this process (OpenBLAS threads spinning on busy cores cost far more).
        with sampler, threadpool_limits(1, user_api="blas"):
            if _stored_identity(store) == _identity(args):
                report["store"]["write_seconds"] = None
                say(f"  reusing {store}")
            else:
                # Written by this process's threads before the cluster starts: through the
                # cluster each chunk's X and y, made by one task, travel between workers
                # to the tasks that store them (42 MB/s against 250 MB/s here, measured).
                with dask.config.set(scheduler="threads"):
                    seconds = _write_store(store, args, data_bytes, say)
                report["store"]["write_seconds"] = seconds
                say(f"  written in {seconds:.1f} s ({data_bytes / seconds / 1e6:.0f} MB/s)")
            sampler.mark("files written")
            cluster = distributed.LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=args.memory_limit,
                dashboard_address=":0",
                silence_logs=40,
            )
            try:
                with distributed.Client(cluster) as client:
                    sampler.track(list(client.run(os.getpid).values()))
                    X, y = xpnet.datasets.open_zarr(store)
                    params = _dask_params(layers)
                    # Warm-up on the cluster, untimed: the workers import what tasks need.
                    X_tiny, y_tiny = xpnet.datasets.make_classification_dask(
                        4000, d, args.classes, chunks=1000, seed=1, dtype="float32"
                    )
                    _epoch(X_tiny, y_tiny, params, None)
                    _epoch(X_tiny, y_tiny, params, 100)
                    sampler.mark("cluster up")
                    counters = Counters(client)
                    counters.start()
                    full = _epoch(X, y, params, None)
                    report["full_batch_counters"] = counters.stop()
                    report["load_average_after"] = {"full batch": list(os.getloadavg())}
                    sampler.mark("full-batch epoch done")
                    say(f"  dask full batch: {full:.1f} s, {n / full:,.0f} rows/s")
                    counters.start()
                    streamed = _epoch(X, y, params, args.batch_size)
                    report["streamed_counters"] = counters.stop()
                    report["load_average_after"]["streamed"] = list(os.getloadavg())
                    sampler.mark("streamed epoch done")
                    say(f"  dask streamed minibatches: {streamed:.1f} s, "
                        f"{n / streamed:,.0f} rows/s")  # fmt: skip
                    report["breakdown"] = _breakdown(X, y, layers, args, args.breakdown_chunks)
                    report["full_batch_breakdown"] = _full_batch_breakdown(
                        X, y, params, min(args.breakdown_chunks, chunks)
                    )
                    sampler.mark("breakdown done")
                    sampler.sample()
            finally:
                cluster.close()
        report["dask"] = {
            "full_batch_seconds": full,
            "full_batch_rows_per_second": n / full,
            "streamed_seconds": streamed,
            "streamed_rows_per_second": n / streamed,
            "streamed_seconds_per_chunk": streamed / chunks,
        }
        report["processes"] = sampler.peaks()
        report["memory_series"] = sampler.series()
        report["max_process_peak_bytes"] = max(p["peak"] for p in report["processes"])
        for p in report["processes"]:
            say(f"  peak memory {p['role']} (pid {p['pid']}): {p['peak'] / GiB:.2f} GiB")

        X, y = xpnet.datasets.open_zarr(store)
        X_np, y_np = dask.compute(X[:m], y[:m], scheduler="threads")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    later = _numpy_epochs(X_np, y_np, layers, args.batch_size)
    full_np, streamed_np = min(before[0], later[0]), min(before[1], later[1])
    report["numpy"] = {
        "rows": m,
        "full_batch_seconds": full_np,
        "full_batch_rows_per_second": m / full_np,
        "minibatch_seconds": streamed_np,
        "minibatch_rows_per_second": m / streamed_np,
        "blas_threads": "the faster of the default and 1",
        "measured": "before the cluster started and after it closed; the faster of the two",
        "before_seconds": list(before),
        "after_seconds": list(later),
    }
    report["numpy"]["cpu_seconds_one_blas_thread"] = dict(_CPU)
    report["ratio_full_batch"] = (n / full) / (m / full_np)
    report["ratio_minibatch"] = (n / streamed) / (m / streamed_np)
    report["load_average_at_end"] = list(os.getloadavg())
    say(f"  numpy subset of {m:,} rows: full batch {m / full_np:,.0f} rows/s, "
        f"minibatches {m / streamed_np:,.0f} rows/s")  # fmt: skip
    return report


def _cpu_per_million(report: dict[str, Any], key: str) -> float | None:
    counters = report.get(key)
    if not counters:
        return None
    return sum(counters["cpu_seconds"].values()) / report["rows"] * 1e6


def format_report(report: dict[str, Any]) -> str:
    """The Markdown tables of an out-of-core run."""
    n, dask_, np_, system = report["rows"], report["dask"], report["numpy"], report["system"]
    versions = system.get("versions", {})
    np_cpu = np_.get("cpu_seconds_one_blas_thread", {})
    m = np_["rows"]

    def cpu_cells(dask_key: str, numpy_key: str) -> str:
        mine = _cpu_per_million(report, dask_key)
        ref = np_cpu.get(numpy_key)
        left = f"{mine:.2f}" if mine is not None else "?"
        right = f"{ref / m * 1e6:.2f}" if ref is not None else "?"
        return f"{left} | {right}"

    after = report.get("load_average_after", {})
    loads = "".join(
        f"{[round(v, 2) for v in load]} after the Dask {name} epoch, "
        for name, load in after.items()
    )
    lines = [
        f"Command: `{system['command']}` ({system['date']}; {system['cpu_count']} CPUs, "
        f"{system['cpu']}, shared with other sessions' processes; load average "
        f"{system['load_average_at_start']} at the start, "
        + loads
        + f"{[round(v, 2) for v in report['load_average_at_end']]} at the end; dask "
        f"{versions.get('dask', '?')}, zarr {versions.get('zarr', '?')}, numpy "
        f"{versions.get('numpy', '?')}).",
        "",
        f"Data: {n:,} x {report['features']} float32 + int64 labels = "
        f"{report['data_bytes'] / 1e9:.1f} GB ({report['data_bytes'] / GiB:.1f} GiB); machine "
        f"memory {report['machine_memory_bytes'] / GiB:.1f} GiB. {report['chunks']} chunks of "
        f"{report['chunk_rows']:,} rows; network {report['features']}-{report['hidden']}-"
        f"{report['classes']}; minibatches of {report['batch_size']}; LocalCluster of "
        f"{report['workers']} worker processes x 1 thread, memory limit "
        f"{report['memory_limit']} each.",
        "",
        "| epoch | Dask: seconds | Dask: rows/s | NumPy in memory: rows/s "
        f"({m:,} rows) | Dask / NumPy | CPU s per 1M rows: Dask (all processes) | "
        "CPU s per 1M rows: NumPy (1 BLAS thread) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| full batch (map-reduce, one persist) | {dask_['full_batch_seconds']:.1f} | "
        f"{dask_['full_batch_rows_per_second']:,.0f} | {np_['full_batch_rows_per_second']:,.0f} "
        f"| {report['ratio_full_batch']:.2f} | "
        + cpu_cells("full_batch_counters", "numpy full batch (1 BLAS thread)")
        + " |",
        f"| minibatches (chunks streamed) | {dask_['streamed_seconds']:.1f} | "
        f"{dask_['streamed_rows_per_second']:,.0f} | {np_['minibatch_rows_per_second']:,.0f} | "
        f"{report['ratio_minibatch']:.2f} | "
        + cpu_cells("streamed_counters", "numpy minibatch (1 BLAS thread)")
        + " |",
        "",
        _store_note(report),
        "",
        *_disk_lines(report),
        *_full_batch_table(report),
        *_breakdown_table(report),
        "| process | peak resident memory (VmHWM) | under 4 GiB |",
        "|---|---:|:---:|",
    ]
    for p in report["processes"]:
        ok = "yes" if p["peak"] < 4 * GiB else "**no**"
        lines.append(f"| {p['role']} (pid {p['pid']}) | {p['peak'] / GiB:.2f} GiB | {ok} |")
    return "\n".join(lines)


def _store_note(report: dict[str, Any]) -> str:
    store, dask_ = report["store"], report["dask"]
    written = store.get("write_seconds")
    how = (
        f"written by this process's threads in {written:.0f} s "
        f"({report['data_bytes'] / written / 1e6:.0f} MB/s) before the epochs"
        if written
        else "written by an earlier run and reused"
    )
    return (
        f"The data are read from files: a Zarr group of {report['chunks']} uncompressed chunks "
        f"({how}); both Dask epochs read every chunk from it, so their rows/s include reading, "
        + (
            "from the page cache or from disk (the data set is larger than memory: it cannot "
            "all stay cached). "
            if report["data_bytes"] > report["machine_memory_bytes"]
            else "here from the page cache (the data set fits in memory). "
        )
        + "Zarr, not Parquet through `dask.dataframe`: a Zarr chunk is a block of a typed "
        "n-d array, so a row chunk of `X` is one file read straight into a float32 array, "
        "with every chunk's size known before reading; Parquet stores one column per feature "
        "(64 columns to assemble into rows) with partition lengths unknown until read. "
        "The NumPy subset is read once into memory before its epochs. NumPy's "
        "rows/s are the faster of its default BLAS threads and one thread, measured before "
        "the cluster starts and after it closes; the main process runs its steps with one "
        "BLAS thread while the workers use the cores. CPU seconds count user and system "
        "time of every thread of this process and of the workers during the epoch. "
        f"Streamed epoch: {dask_['streamed_seconds_per_chunk']:.3f} s per chunk."
    )


def _disk_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for key, name in (("full_batch_counters", "full-batch"), ("streamed_counters", "streamed")):
        counters = report.get(key)
        if counters:
            read = sum(counters["disk_read_bytes"].values())
            lines.append(
                f"Read from disk (not the page cache) during the {name} epoch: "
                f"{read / 1e9:.1f} GB of the data set's {report['data_bytes'] / 1e9:.1f} GB."
            )
    return [" ".join(lines), ""] if lines else []


def _full_batch_table(report: dict[str, Any]) -> list[str]:
    breakdown = report.get("full_batch_breakdown")
    if not breakdown:
        return []
    lines = [
        f"Where the full-batch epoch's time goes: the epoch on the first {breakdown['chunks']} "
        f"chunks ({breakdown['rows']:,} rows), timed by Dask's task stream; "
        f"{breakdown['tasks_per_chunk']:.0f} tasks per chunk, {breakdown['worker_threads']} "
        "worker threads (seconds per chunk, summed over the worker threads):",
        "",
        "| part | seconds per chunk |",
        "|---|---:|",
    ]
    for part, seconds in breakdown["per_chunk"].items():
        lines.append(f"| {part} | {seconds:.3f} |")
    return [*lines, ""]


def _breakdown_table(report: dict[str, Any]) -> list[str]:
    breakdown = report.get("breakdown")
    if not breakdown:
        return []
    lines = [
        f"Where the streamed epoch's time goes: {breakdown['chunks']} chunks of the epoch's "
        f"order ({breakdown['rows']:,} rows), each part timed alone (median seconds per "
        "chunk). The chunks are plain reads of the files, so this process reads them itself "
        "in a prefetch thread (two chunks ahead), with no Dask task and no transfer; the "
        "two rows marked 'not done' time the other way, a read on a worker and a copy "
        "through the cluster, for comparison:",
        "",
        "| part | seconds per chunk |",
        "|---|---:|",
    ]
    for part, seconds in breakdown["median_seconds_per_chunk"].items():
        lines.append(f"| {part} | {seconds:.3f} |")
    for label, seconds in breakdown["stream_seconds_per_chunk"].items():
        lines.append(f"| {label} (prefetch thread, read and check, no steps) | {seconds:.3f} |")
    lines.append(
        f"| the whole streamed epoch (reads overlapped with the steps) | "
        f"{report['dask']['streamed_seconds_per_chunk']:.3f} |"
    )
    return [*lines, ""]


def plot_memory(report: dict[str, Any], path: str) -> None:
    """Resident memory of each process over the run, with the epochs marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["memory_series"]
    fig, ax = plt.subplots(figsize=(8, 4))
    t = np.asarray(series["t"])
    for pid, rss in series["rss"].items():
        values = np.asarray(rss) / GiB
        if values.max() < 0.05:
            continue
        ax.plot(t, values, label=f"{series['roles'][pid]} ({pid})", linewidth=1.2)
    ax.axhline(4.0, color="grey", linestyle="--", linewidth=0.8, label="4 GiB target")
    for when, label in series["marks"]:
        ax.axvline(when, color="black", linewidth=0.5, alpha=0.5)
        ax.annotate(label, (when, ax.get_ylim()[1]), rotation=90, va="top", ha="right", size=7)
    ax.set_xlabel("seconds")
    ax.set_ylabel("resident memory (GiB)")
    ax.set_title(
        f"{report['rows']:,} x {report['features']} float32 "
        f"({report['data_bytes'] / GiB:.1f} GiB) on {report['workers']} Dask workers"
    )
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    report = run(args, argv, say=lambda message: print(message, file=sys.stderr, flush=True))
    text = format_report(report)
    print(text)
    if args.plot:
        plot_memory(report, args.plot)
    for path, content in ((args.json, json.dumps(report, indent=1)), (args.markdown, text)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(content + "\n")
    return 0
