"""xpnet.backends.register: plug-in backends by a call or an entry point, and their errors."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet import backends
from xpnet.backends import register, unregister


@pytest.fixture
def registry() -> Iterator[backends._Registry]:
    """The registry, put back as it was after the test (names, aliases, entry points)."""
    state = backends._REGISTRY
    saved = (dict(state.specs), dict(state.aliases), state.pending)
    yield state
    state.specs, state.aliases, state.pending = dict(saved[0]), dict(saved[1]), saved[2]


# --- the built-in backends go through the registry ------------------------------------------


def test_builtins_are_registered_in_order_with_their_aliases() -> None:
    assert tuple(xpnet.BACKENDS)[:4] == ("numpy", "array_api_strict", "torch", "jax")
    assert xpnet.BACKENDS[0] == "numpy"
    assert backends.get_backend("pytorch").name == "torch"
    assert backends.get_backend("jnp").module == "jax.numpy"


def test_builtins_carry_their_special_cases_as_hooks() -> None:
    assert backends.get_backend("torch").to_numpy_hook is not None  # detach, cpu
    assert backends.get_backend("array_api_strict").device_hook is not None  # "cpu" name
    jax = backends.get_backend("jax")
    assert jax.dtype_guard is not None  # x64 refusal
    assert jax.from_numpy_hook is not None
    assert backends.get_backend("numpy").device_hook is not None  # only "cpu"


def test_backends_is_a_live_tuple_of_names(registry) -> None:
    pytest.importorskip("array_api_strict", reason="its examples need the [strict] extra")
    before = tuple(xpnet.BACKENDS)
    assert before == xpnet.BACKENDS
    assert repr(xpnet.BACKENDS) == repr(before)
    register("strict_copy", module="array_api_strict")
    assert "strict_copy" in xpnet.BACKENDS
    assert xpnet.BACKENDS[-1] == "strict_copy"
    assert "strict_copy" in xpnet.available_backends()
    unregister("strict_copy")
    assert before == xpnet.BACKENDS


# --- register: a library that array-api-compat knows needs only a name and its module --------


def test_a_library_known_to_array_api_compat_needs_only_its_module(registry) -> None:
    pytest.importorskip("dask.array")
    register("dask_plain", module="dask.array")
    xp = xpnet.namespace("dask_plain")
    assert xp.__name__ == "array_api_compat.dask.array"
    x = xpnet.asarray(np.arange(6.0).reshape(2, 3), backend="dask_plain", dtype="float32")
    # an array names the first backend registered for its namespace: the built-in "dask"
    # where it is registered (xpnet[dask]), else this one
    first = "dask" if "dask" in xpnet.BACKENDS else "dask_plain"
    assert xpnet.backend_name(x) == first
    np.testing.assert_array_equal(xpnet.to_numpy(x), np.arange(6.0).reshape(2, 3))
    assert xpnet.to_numpy(x).dtype == np.float32


def test_register_a_module_object_checks_it_at_once(registry) -> None:
    strict = pytest.importorskip("array_api_strict")
    spec = register("strict_module", module=strict, aliases=["sm"])
    assert spec.installed
    assert xpnet.namespace("SM") is strict  # aliases, any case
    X, y = xpnet.datasets.make_blobs(30, 2, 3, backend="strict_module", dtype="float64")
    params = xpnet.init_params(2, 4, 3, xp="strict_module", dtype="float64")
    loss, _ = xpnet.loss_and_grad(X, y, params)
    X_np, y_np = (xpnet.to_numpy(a) for a in (X, y))
    params_np = xpnet.Params(*(xpnet.to_numpy(p) for p in params))
    assert float(loss) == pytest.approx(float(xpnet.loss_and_grad(X_np, y_np, params_np)[0]))


def test_hooks_are_called_for_data_devices_and_dtypes(registry) -> None:
    strict = pytest.importorskip("array_api_strict")
    assert xpnet.namespace("array_api_strict") is strict  # loaded first: it owns the namespace
    calls: list[str] = []

    def from_numpy(data, *, xp, dtype, device):
        calls.append(f"from_numpy {data.dtype} {dtype} {device}")
        return xp.asarray(data, dtype=dtype, device=device)

    def guard(xp, dtype, argument):
        if dtype == xp.float64:  # as a library whose device has no float64 would
            raise ValueError(f"{argument}: float64 is refused here")

    def to_numpy(x):
        calls.append("to_numpy")
        return np.asarray(x.to_device(strict.Device("CPU_DEVICE")))

    register(
        "strict_hooked",
        module="array_api_strict",
        from_numpy=from_numpy,
        to_numpy=to_numpy,
        device=lambda name: strict.Device("device1" if name == "gpu" else "CPU_DEVICE"),
        dtype_guard=guard,
        default_dtype="float32",
        replace=True,
    )
    # array_api_strict is registered first, so its arrays are named after it; the hooks
    # of strict_hooked are used when it is named as the target.
    x = xpnet.asarray([1.0, 2.0], backend="strict_hooked", device="gpu", dtype="float32")
    assert str(x.device) == "array_api_strict.Device('device1')"
    assert calls == [
        "from_numpy float64 array_api_strict.float32 array_api_strict.Device('device1')"
    ]
    with pytest.raises(ValueError, match=r"^dtype: float64 is refused here"):
        xpnet.asarray([1.0], backend="strict_hooked", dtype="float64")
    unregister("array_api_strict")  # now its arrays belong to strict_hooked
    xpnet.to_numpy(x)
    assert calls[-1] == "to_numpy"
    assert xpnet.backend_name(x) == "strict_hooked"
    xp = xpnet.namespace("strict_hooked")
    assert backends.default_float_dtype(xp) == xp.float32


# --- errors --------------------------------------------------------------------------------


def test_registering_a_name_twice_is_refused_unless_replace(registry) -> None:
    with pytest.raises(ValueError, match=r"^name: the backend 'numpy' is registered already"):
        register("numpy")
    with pytest.raises(ValueError, match=r"^name: the backend 'np' is registered already"):
        register("numpy2", module="numpy", aliases=["np"])
    register("strict_twice", module="array_api_strict")
    with pytest.raises(ValueError, match=r"^name: the backend 'strict_twice'"):
        register("Strict-Twice", module="array_api_strict")  # the same name, spelled otherwise
    spec = register("strict_twice", module="numpy", replace=True)
    assert backends.get_backend("strict_twice") is spec


def test_an_import_that_fails_names_the_backend_and_how_to_install(registry) -> None:
    register("nosuchlib", install="pip install nosuchlib-arrays")
    assert "nosuchlib" in xpnet.BACKENDS
    assert "nosuchlib" not in xpnet.available_backends()
    message = (
        r"^backend: 'nosuchlib' needs the module 'nosuchlib', which cannot be imported "
        r"\(.*\); install it with `pip install nosuchlib-arrays`"
    )
    with pytest.raises(ImportError, match=message):
        xpnet.namespace("nosuchlib")
    with pytest.raises(ImportError, match=r"^backend: 'nosuchlib'"):
        xpnet.asarray([1.0], backend="nosuchlib")


def test_a_builtin_missing_names_its_extra(registry) -> None:
    extra = "pip install 'xpnet[torch]'"
    register("torch", module="torch_is_not_installed_here", install=extra, replace=True)
    with pytest.raises(ImportError, match=r"install it with `pip install 'xpnet\[torch\]'`"):
        xpnet.namespace("torch")


def test_a_module_without_an_array_api_namespace_is_a_type_error(registry) -> None:
    register("json_arrays", module="json")
    message = r"^backend: 'json_arrays': module 'json' gives no Array-API namespace"
    with pytest.raises(TypeError, match=message):
        xpnet.namespace("json_arrays")
    with pytest.raises(TypeError, match=r"^backend: 'json_now': module 'json'"):
        register("json_now", module=sys.modules["json"])  # a module object is checked at once
    assert "json_now" not in xpnet.BACKENDS
    half = types.ModuleType("half_namespace")
    half.asarray = np.asarray  # type: ignore[attr-defined]
    message = r"^backend: 'half': the namespace 'half_namespace' lacks all, arange, "
    with pytest.raises(TypeError, match=message):
        register("half", module=half, namespace=lambda module: module)


@pytest.mark.parametrize("backend", [3, 2.5, None, ["numpy"], np.zeros(2)])
def test_a_backend_that_is_not_a_name_is_a_type_error(backend) -> None:
    if backend is None:  # None means "the backend of x" in asarray
        with pytest.raises(TypeError, match=r"^backend:"):
            xpnet.namespace(backend)
        return
    with pytest.raises(TypeError, match=r"^backend:"):
        xpnet.asarray(np.zeros(2), backend=backend)
    with pytest.raises(TypeError, match=r"^backend:"):
        xpnet.namespace(backend)
    with pytest.raises(TypeError, match=r"^xp:"):  # the argument's own name
        xpnet.init_params(2, 3, 2, xp=backend)
    with pytest.raises(TypeError, match=r"^backend:"):
        xpnet.datasets.load_iris_2d(backend=backend)


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [
        ({"name": 3}, "name:"),
        ({"name": ""}, "name:"),
        ({"name": "x1", "module": 3}, "module:"),
        ({"name": "x1", "to_numpy": "np.asarray"}, "to_numpy:"),
        ({"name": "x1", "namespace": 1}, "namespace:"),
        ({"name": "x1", "device": "cpu"}, "device:"),
        ({"name": "x1", "aliases": "x"}, "aliases:"),
        ({"name": "x1", "default_dtype": np.float32}, "default_dtype:"),
    ],
)
def test_register_malformed_arguments(registry, kwargs, start) -> None:
    name = kwargs.pop("name")
    with pytest.raises(TypeError, match=f"^{start}"):
        register(name, **kwargs)
    assert "x1" not in xpnet.BACKENDS


def test_unknown_backend_lists_the_known_ones() -> None:
    message = r"^backend: unknown backend 'mxnet'; known backends are \['numpy'"
    with pytest.raises(ValueError, match=message):
        xpnet.namespace("mxnet")
    with pytest.raises(ValueError, match=r"^name: unknown backend 'mxnet'"):  # its argument
        unregister("mxnet")


# --- entry points: group "xpnet.backends", read once, loaded when first named --------------


def _dist_info(root: Path, name: str, entries: dict[str, str]) -> None:
    """A minimal installed distribution ``name`` with entry points in ``xpnet.backends``."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{key} = {value}" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[xpnet.backends]\n{lines}\n")


@pytest.fixture
def plugin_dir(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path holding a plug-in package and its dist-info."""
    (tmp_path / "xpnet_demo_plugin.py").write_text(
        textwrap.dedent(
            """
            import xpnet

            LOADED = []

            def register():
                LOADED.append("demo")
                xpnet.backends.register("demo", module="array_api_strict", aliases=["demo2"])

            def register_nothing():
                pass
            """
        )
    )
    _dist_info(
        tmp_path,
        "xpnet_demo_plugin",
        {
            "demo": "xpnet_demo_plugin:register",
            "demo_module": "array_api_strict",
            "demo_broken": "xpnet_no_such_module:register",
            "demo_silent": "xpnet_demo_plugin:register_nothing",
            "numpy": "xpnet_demo_plugin:register",  # a built-in name: ignored
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "xpnet_demo_plugin", raising=False)
    registry.pending = None  # read the entry points again, with this folder on the path
    return tmp_path


def test_entry_points_are_listed_and_loaded_lazily_once(plugin_dir: Path) -> None:
    pytest.importorskip("array_api_strict", reason="its examples need the [strict] extra")
    assert {"demo", "demo_module", "demo_broken", "demo_silent"} <= set(xpnet.BACKENDS)
    assert "xpnet_demo_plugin" not in sys.modules  # listed, not loaded
    xp = xpnet.namespace("demo")
    plugin = sys.modules["xpnet_demo_plugin"]
    assert plugin.LOADED == ["demo"]
    assert xp is xpnet.namespace("array_api_strict")
    assert xpnet.namespace("demo2") is xp  # its aliases came with it
    xpnet.namespace("demo")
    assert plugin.LOADED == ["demo"]  # once
    X, y = xpnet.datasets.load_iris_2d(backend="demo", dtype="float64")
    assert tuple(X.shape) == (150, 2)
    assert backends.get_backend("numpy").module == "numpy"  # the built-in stays


def test_an_entry_point_may_name_the_module_itself(plugin_dir: Path) -> None:
    strict = pytest.importorskip("array_api_strict")
    assert xpnet.namespace("demo_module") is strict
    assert backends.get_backend("demo_module").module is strict


def test_broken_entry_points_are_clear_errors_and_not_available(plugin_dir: Path) -> None:
    pytest.importorskip("array_api_strict", reason="its examples need the [strict] extra")
    with pytest.warns(UserWarning, match="entry point") as record:
        available = xpnet.available_backends()
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("backend: 'demo_broken': its entry point")
    assert messages[1].startswith("backend: 'demo_silent': its entry point")
    assert "demo" in available
    assert "demo_broken" not in available
    assert "demo_silent" not in available


def test_broken_entry_point_errors(plugin_dir: Path) -> None:
    failed = (
        r"^backend: 'demo_broken': its entry point 'xpnet_no_such_module:register' "
        r"\(group 'xpnet.backends'\) failed to load"
    )
    with pytest.raises(ImportError, match=failed):
        xpnet.namespace("demo_broken")
    silent = r"^backend: 'demo_silent': its entry point .* did not register it"
    with pytest.raises(ImportError, match=silent):
        xpnet.namespace("demo_silent")


def test_entry_points_are_read_once(plugin_dir: Path, tmp_path_factory) -> None:
    assert "demo" in xpnet.BACKENDS
    later = tmp_path_factory.mktemp("later")
    _dist_info(later, "xpnet_later_plugin", {"later": "array_api_strict"})
    sys.path.insert(0, str(later))
    try:
        assert "later" not in xpnet.BACKENDS  # the group was read already
    finally:
        sys.path.remove(str(later))


def test_the_lazy_hook_decides_whether_values_are_checked(registry) -> None:
    """Value checks (labels in range) run unless the backend says the values are not there."""
    from broken_backends import BrokenNamespace

    X, y = np.zeros((2, 2)), np.array([0, 5])  # a label 5 in a 2-class problem
    params = xpnet.init_params(2, 3, 2)
    for lazy, raises in ((lambda x: False, True), (lambda x: True, False)):
        register(
            "numpy_lazy",
            module="numpy",
            namespace=lambda numpy: BrokenNamespace("numpy_lazy", {}),
            lazy=lazy,
            replace=True,
        )
        on = [xpnet.asarray(a, backend="numpy_lazy") for a in (X, y, *params)]
        if raises:
            with pytest.raises(ValueError, match=r"^y: labels must lie in \[0, 2\)"):
                xpnet.loss_and_grad(on[0], on[1], xpnet.Params(*on[2:]))
        else:  # nothing can be read: the check is skipped, as under jax.jit
            xpnet.loss_and_grad(on[0], on[1], xpnet.Params(*on[2:]))


def test_the_examples_of_the_backends_docstrings_run(registry) -> None:
    pytest.importorskip("array_api_strict", reason="its examples need the [strict] extra")
    import doctest

    result = doctest.testmod(backends, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
