"""xpnet.backends: backend names, namespaces, moving data between backends, dtypes, JAX's x64."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import Backend, assert_close, default_device, dtype_name, to_backend

import xpnet
from xpnet.backends import default_float_dtype, resolve_dtype

LIBRARIES = [b.library for b in Backend if b is not Backend.NUMPY_READONLY]


def _library(name: str) -> str:
    pytest.importorskip(name)
    return name


# --- available_backends / namespace / backend_name ----------------------------------------


def test_available_backends_are_the_installed_ones_in_order() -> None:
    expected = [name for name in xpnet.BACKENDS if importlib.util.find_spec(name) is not None]
    assert xpnet.available_backends() == expected
    assert xpnet.available_backends()[0] == "numpy"


def test_namespace_names_its_backend(backend: Backend, xp) -> None:
    assert xpnet.backend_name(xp) == backend.library
    assert xpnet.backend_name(xp.asarray([1.0, 2.0])) == backend.library
    assert xpnet.namespace(xp) is xp  # a namespace passes through


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("np", "numpy"),
        ("NumPy", "numpy"),
        ("strict", "array_api_strict"),
        ("array-api-strict", "array_api_strict"),
        ("pytorch", "torch"),
        ("jnp", "jax"),
    ],
)
def test_namespace_accepts_aliases(alias: str, name: str) -> None:
    _library(name)
    assert xpnet.namespace(alias) is xpnet.namespace(name)


def test_namespace_unknown_backend_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^backend: unknown backend 'tensorflow'"):
        xpnet.namespace("tensorflow")


def test_asarray_unknown_backend_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^backend:"):
        xpnet.asarray([1.0], backend="mxnet")


def test_backend_name_of_numpy_array_and_namespace() -> None:
    assert xpnet.backend_name(np.zeros(2)) == "numpy"
    assert xpnet.backend_name(xpnet.namespace("numpy")) == "numpy"


# --- asarray between every pair of backends ------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("target", LIBRARIES)
@pytest.mark.parametrize("source", LIBRARIES)
def test_asarray_between_every_pair_preserves_values(source: str, target: str, dtype: str) -> None:
    _library(source), _library(target)
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((3, 4)) * 1e3).astype(dtype)
    if dtype == "int64":
        data = np.array([[-(2**40), -1, 0, 2**40]] * 3, dtype=np.int64)
    x = xpnet.asarray(data, backend=source)
    assert xpnet.backend_name(x) == source
    moved = xpnet.asarray(x, backend=target)
    assert_close(moved, data, backend=target, rtol=0, atol=0)  # bit for bit, dtype kept
    assert_close(xpnet.asarray(moved, backend=source), data, backend=source, rtol=0, atol=0)


@pytest.mark.parametrize("target", LIBRARIES)
def test_asarray_from_nested_lists(target: str) -> None:
    _library(target)
    x = xpnet.asarray([[1, 2], [3, 4]], backend=target, dtype="float64")
    assert_close(x, np.array([[1.0, 2.0], [3.0, 4.0]]), backend=target, rtol=0, atol=0)


def test_asarray_without_backend_keeps_the_arrays_backend(backend: Backend) -> None:
    x = to_backend(np.arange(3.0), backend)
    assert xpnet.backend_name(xpnet.asarray(x)) == backend.library
    assert xpnet.backend_name(xpnet.asarray([1.0, 2.0])) == "numpy"


def test_asarray_casts_on_request(backend: Backend) -> None:
    x = to_backend(np.array([1.5, -2.25]), backend)
    assert_close(
        xpnet.asarray(x, dtype="float32"),
        np.array([1.5, -2.25], dtype=np.float32),
        backend=backend,
    )


def test_asarray_on_named_cpu_device(backend: Backend) -> None:
    x = xpnet.asarray(np.arange(3.0), backend=backend.library, device="cpu")
    assert_close(x, np.arange(3.0), backend=backend, device=default_device(backend))


def test_numpy_has_no_gpu() -> None:
    with pytest.raises(ValueError, match=r"^device: NumPy arrays live on 'cpu' only"):
        xpnet.asarray([1.0], backend="numpy", device="cuda")


def test_array_api_strict_unknown_device_names_the_argument() -> None:
    strict = _library("array_api_strict")
    with pytest.raises(ValueError, match=r"^device: array_api_strict has no device 'cuda'"):
        xpnet.asarray([1.0], backend=strict, device="cuda")
    x = xpnet.asarray([1.0], backend=strict, device="device1")
    assert str(x.device) == "array_api_strict.Device('device1')"


# --- to_numpy ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_to_numpy_gives_a_numpy_array_with_the_values(backend: Backend, dtype: str) -> None:
    data = np.array([[1, -2, 3], [4, 5, -6]], dtype=dtype)
    host = xpnet.to_numpy(to_backend(data, backend))
    assert isinstance(host, np.ndarray)
    assert host.dtype == data.dtype
    np.testing.assert_array_equal(host, data)


def test_to_numpy_of_a_torch_tensor_that_requires_grad() -> None:
    torch = pytest.importorskip("torch")
    t = torch.ones(3, dtype=torch.float64, requires_grad=True) * 2
    np.testing.assert_array_equal(xpnet.to_numpy(t), [2.0, 2.0, 2.0])


def test_to_numpy_of_array_api_strict_on_another_device() -> None:
    strict = pytest.importorskip("array_api_strict")
    x = strict.asarray([1.0, 2.0], device=strict.Device("device1"))
    np.testing.assert_array_equal(xpnet.to_numpy(x), [1.0, 2.0])


# --- dtypes given as a name or a dtype object ------------------------------------------------


def _dtype_objects(xp, name: str) -> list:
    objects = [name, getattr(xp, name), getattr(np, name)]
    if importlib.util.find_spec("torch") is not None:
        import torch

        objects.append(getattr(torch, name))
    return objects


@pytest.mark.parametrize("name", ["float32", "float64", "int64"])
def test_dtype_as_name_or_dtype_object_of_any_backend(backend: Backend, xp, name: str) -> None:
    data = np.array([0.0, 1.0, 2.0])
    for dtype in _dtype_objects(xp, name):
        x = xpnet.asarray(data, backend=backend.library, dtype=dtype)
        assert x.dtype == getattr(xp, name), f"dtype={dtype!r}"
        assert resolve_dtype(xp, dtype) == getattr(xp, name)
        params = xpnet.init_params(2, 3, 2, xp=xp, dtype=dtype) if "float" in name else None
        if params is not None:
            assert all(p.dtype == getattr(xp, name) for p in params)


def test_unknown_dtype_name_names_the_argument(xp) -> None:
    with pytest.raises(TypeError, match=r"^dtype: unknown dtype name 'float128'"):
        resolve_dtype(xp, "float128")
    with pytest.raises(TypeError, match=r"^dtype:"):
        xpnet.asarray([1.0], backend=xp, dtype="double")


def test_foreign_dtype_object_names_the_argument(xp) -> None:
    with pytest.raises(TypeError, match=r"^dtype: .* is not a dtype of"):
        resolve_dtype(xp, np.complex64)


def test_default_float_dtype(backend: Backend, xp) -> None:
    expected = {"torch": "float32"}.get(backend.library, "float64")  # JAX runs with x64 on
    assert dtype_name(default_float_dtype(xp)) == expected


# --- JAX's x64 switch: float64 is never silently downcast -------------------------------------


def test_jax_x64_is_on_in_this_suite() -> None:
    pytest.importorskip("jax")
    assert xpnet.jax_x64_enabled()


def test_jax_float64_with_x64_off_raises_in_process() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", False)
    try:
        assert not xpnet.jax_x64_enabled()
        xp = xpnet.namespace("jax")
        with pytest.raises(ValueError, match=r"^dtype: float64 .*jax_enable_x64"):
            resolve_dtype(xp, "float64")
        with pytest.raises(ValueError, match=r"^dtype: .*jax_enable_x64"):
            xpnet.asarray(np.ones(2, dtype=np.float32), backend="jax", dtype=np.float64)
        with pytest.raises(ValueError, match=r"^x: float64 .*jax_enable_x64"):
            xpnet.asarray(np.ones(2), backend="jax")  # float64 data, no dtype given
        # float32 is fine, and int64 labels become int32 on purpose
        assert xpnet.asarray(np.ones(2), backend="jax", dtype="float32").dtype == xp.float32
        assert xpnet.asarray(np.arange(3), backend="jax").dtype == xp.int32
    finally:
        jax.config.update("jax_enable_x64", True)
    assert xpnet.asarray(np.ones(2), backend="jax").dtype == xpnet.namespace("jax").float64


def test_jax_float64_with_x64_off_raises_in_a_fresh_interpreter() -> None:
    pytest.importorskip("jax")
    script = textwrap.dedent(
        """
        import numpy as np, xpnet
        attempts = {
            "asarray": lambda: xpnet.asarray(np.ones(3), backend="jax", dtype="float64"),
            "asarray_data": lambda: xpnet.asarray(np.ones(3), backend="jax"),
            "init_params": lambda: xpnet.init_params(2, 3, 2, xp="jax", dtype="float64"),
            "load_iris_2d": lambda: xpnet.datasets.load_iris_2d(backend="jax", dtype="float64"),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
            except ValueError as exc:
                print(name, "ValueError", "jax_enable_x64" in str(exc))
            else:
                print(name, "no error")
        X, y = xpnet.datasets.load_iris_2d(backend="jax", dtype="float32")
        print("float32", X.dtype, y.dtype)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.splitlines()
    assert lines == [
        "asarray ValueError True",
        "asarray_data ValueError True",
        "init_params ValueError True",
        "load_iris_2d ValueError True",
        "float32 float32 int32",
    ], result.stdout + result.stderr


# --- regressions: torch tensors have no __array_namespace__; JAX buffers are immutable -------


def test_backend_name_and_asarray_recognise_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(3, dtype=torch.float64)
    assert xpnet.backend_name(t) == "torch"
    assert xpnet.backend_name(xpnet.asarray(t)) == "torch"  # default: the backend of x


def test_asarray_keeps_a_torch_tensor_on_its_device() -> None:
    torch = pytest.importorskip("torch")
    meta = torch.empty(2, dtype=torch.float64, device="meta")  # no data: NumPy cannot hold it
    moved = xpnet.asarray(meta, backend="torch", dtype="float32")
    assert moved.device.type == "meta"
    assert moved.dtype == torch.float32


@pytest.mark.parametrize("source", ["jax", "numpy_readonly"])
def test_moving_read_only_memory_to_torch_copies_it(source: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip(Backend(source).library)
    src = to_backend(np.arange(3.0), Backend(source))
    tensor = xpnet.asarray(src, backend="torch")
    tensor += 1  # an in-place write on the new tensor must not reach the source
    np.testing.assert_array_equal(xpnet.to_numpy(src), [0.0, 1.0, 2.0])


def test_the_read_only_numpy_backend_catches_in_place_writes() -> None:
    source = np.arange(3.0)
    x = to_backend(source, Backend.NUMPY_READONLY)
    with pytest.raises(ValueError, match="read-only"):
        x += 1
    with pytest.raises(ValueError, match="read-only"):
        np.maximum(x, 0, out=x)
    assert source.flags.writeable  # the caller's array is copied, never frozen
    np.testing.assert_array_equal(x, source)
