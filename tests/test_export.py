"""``xpnet.export_onnx`` and ``python -m xpnet export``: the traced graph, run by onnxruntime,
gives xpnet's numbers; it agrees with skl2onnx's conversion of the same weights; the file
is small, standard, and runs without xpnet."""

from __future__ import annotations

import doctest
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ndonnx", reason="needs the [onnx] extra")
onnx = pytest.importorskip("onnx", reason="needs the [onnx] extra")
ort = pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")

from helpers import Backend, installed_backends, run_without, to_backend  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import xpnet  # noqa: E402
from xpnet.cli import main  # noqa: E402

#: The tolerances of onnxruntime against xpnet's predict_proba / predict.
RTOL = {"float64": 1e-10, "float32": 1e-5}
BATCHES = (1, 7, 64)
ACTIVATIONS = ("relu", "tanh", "logistic", "identity")


def _data(n: int = 64, d: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _fit(estimator: Any, X: Any, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _run(path: Path, X: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path))
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X})))


def _host(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else xpnet.to_numpy(x)


def _assert_classifier(path: Path, clf: Any, X: np.ndarray, rtol: float) -> None:
    """onnxruntime's ``label`` and ``probabilities`` equal ``predict`` and ``predict_proba``
    at batch sizes 1, 7 and 64."""
    for n in BATCHES:
        out = _run(path, X[:n])
        assert sorted(out) == ["label", "probabilities"]
        np.testing.assert_array_equal(out["label"], _host(clf.predict(X[:n])))
        np.testing.assert_allclose(
            out["probabilities"], _host(clf.predict_proba(X[:n])), rtol=rtol, atol=0
        )


# --- classifiers and regressors: every activation, every kind of target, several depths -------

TARGETS = {
    "binary": lambda X: (X[:, 0] + X[:, 1] > 0).astype(np.int64),
    "multiclass": lambda X: np.digitize(X[:, 0] - X[:, 2], [-0.5, 0.5]),
    "multilabel": lambda X: np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] > X[:, 2]], 1),
    "strings": lambda X: np.array(["setosa", "versicolor", "virginica"])[
        np.digitize(X[:, 3], [-0.5, 0.5])
    ],
}
#: Each activation meets each kind of target once, at depths 1 to 3.
CLASSIFIER_CASES = [
    (activation, target, (7, 5, 4)[: 1 + (i + j) % 3])
    for i, activation in enumerate(ACTIVATIONS)
    for j, target in enumerate(TARGETS)
]


@pytest.mark.parametrize(("activation", "target", "hidden"), CLASSIFIER_CASES)
def test_a_classifier_gives_predict_and_predict_proba(
    activation: str, target: str, hidden: tuple[int, ...], tmp_path: Path
) -> None:
    X = _data()
    clf = xpnet.MLPClassifier(hidden, activation=activation, max_iter=30, random_state=0)
    clf = _fit(clf, X, TARGETS[target](X))
    path = xpnet.export_onnx(clf, tmp_path / "clf.onnx")
    _assert_classifier(path, clf, X, RTOL["float64"])
    expected_type = "tensor(string)" if target == "strings" else "tensor(int64)"
    assert ort.InferenceSession(str(path)).get_outputs()[0].type == expected_type


@pytest.mark.parametrize("labels", [[3, 7, 11], [-1, 1], [0.0, 2.0]])
def test_numeric_labels_keep_their_values_and_dtype(labels: list[Any], tmp_path: Path) -> None:
    X = _data()
    y = np.asarray(labels)[np.arange(len(X)) % len(labels)]
    clf = _fit(xpnet.MLPClassifier((6,), max_iter=20, random_state=0), X, y)
    out = _run(xpnet.export_onnx(clf, tmp_path / "clf.onnx"), X)
    assert out["label"].dtype == y.dtype
    np.testing.assert_array_equal(out["label"], clf.predict(X))


@pytest.mark.parametrize(
    ("loss", "outputs", "hidden", "activation"),
    [
        ("squared_error", 1, (8,), "relu"),
        ("squared_error", 3, (6, 5, 4), "tanh"),
        ("poisson", 1, (6, 4), "logistic"),
        ("poisson", 2, (5,), "identity"),
    ],
)
def test_a_regressor_gives_predict(
    loss: str, outputs: int, hidden: tuple[int, ...], activation: str, tmp_path: Path
) -> None:
    X = _data()
    y = np.abs(X[:, :outputs] + 0.5 * X[:, 1:2])
    reg = xpnet.MLPRegressor(
        hidden_layer_sizes=hidden, activation=activation, loss=loss, max_iter=30
    )
    reg = _fit(reg.set_params(random_state=0), X, y[:, 0] if outputs == 1 else y)
    path = xpnet.export_onnx(reg, tmp_path / "reg.onnx")
    for n in BATCHES:
        out = _run(path, X[:n])
        assert list(out) == ["variable"]
        assert out["variable"].shape == (n, outputs)  # skl2onnx's (N, 1) for one output
        expected = reg.predict(X[:n]).reshape(n, outputs)
        np.testing.assert_allclose(out["variable"], expected, rtol=RTOL["float64"], atol=0)


# --- Pipelines: scalers, then the estimator -----------------------------------------------------


def _scalers() -> list[Any]:
    from sklearn import preprocessing

    return [
        preprocessing.StandardScaler(),
        preprocessing.StandardScaler(with_mean=False),
        preprocessing.RobustScaler(),
        preprocessing.MinMaxScaler(feature_range=(-1, 2), clip=True),
        preprocessing.MaxAbsScaler(),
    ]


@pytest.mark.parametrize("index", range(5), ids=lambda i: repr(_scalers()[i]))
def test_a_pipeline_gives_its_predict(index: int, tmp_path: Path) -> None:
    from sklearn.pipeline import make_pipeline

    X = 3.0 + 2.0 * _data()
    scaler = _scalers()[index]
    if index % 2:
        model = xpnet.MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
        pipeline = _fit(make_pipeline(scaler, model), X, X[:, 0] - X[:, 1])
    else:
        model = xpnet.MLPClassifier((6,), max_iter=30, random_state=0)
        pipeline = _fit(make_pipeline(scaler, model), X, TARGETS["strings"](X - 3.0))
    path = xpnet.export_onnx(pipeline, tmp_path / "pipeline.onnx")
    X_new = 3.0 + 2.5 * _data(seed=4)  # beyond the range fitted: MinMaxScaler clips
    for n in BATCHES:
        out = _run(path, X_new[:n])
        if index % 2:
            np.testing.assert_allclose(
                out["variable"][:, 0], pipeline.predict(X_new[:n]), rtol=1e-10, atol=0
            )
        else:
            np.testing.assert_array_equal(out["label"], pipeline.predict(X_new[:n]))
            expected = pipeline.predict_proba(X_new[:n])
            np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-10, atol=0)
    assert onnx.load(path).doc_string.startswith(f"Pipeline({type(scaler).__name__}, ML")


def test_a_pipeline_with_another_step_is_refused(tmp_path: Path) -> None:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    X = _data()
    pipeline = _fit(make_pipeline(PCA(3), xpnet.MLPClassifier((4,), max_iter=5)), X, X[:, 0] > 0)
    with pytest.raises(TypeError, match=r"^model: step 'pca' of the Pipeline is PCA; the export"):
        xpnet.export_onnx(pipeline, tmp_path / "pipeline.onnx")


# --- float32 -----------------------------------------------------------------------------------


def test_a_float32_model_exports_in_float32(tmp_path: Path) -> None:
    X = _data().astype(np.float32)
    y = TARGETS["multiclass"](X)
    clf = _fit(xpnet.MLPClassifier((8, 6), max_iter=30, random_state=0), X, y)
    assert clf.coefs_[0].dtype == np.float32
    path = xpnet.export_onnx(clf, tmp_path / "clf32.onnx")
    assert ort.InferenceSession(str(path)).get_inputs()[0].type == "tensor(float)"
    _assert_classifier(path, clf, X, RTOL["float32"])


def test_dtype_float32_exports_a_float64_network_in_float32(tmp_path: Path) -> None:
    layers = xpnet.init_layers((5, 9, 4, 3), seed=1)
    path = xpnet.export_onnx(layers, tmp_path / "net.onnx", dtype="float32")
    X32 = _data().astype(np.float32)
    layers32 = tuple(xpnet.Layer(W.astype(np.float32), b.astype(np.float32)) for W, b in layers)
    out = _run(path, X32)
    assert out["probabilities"].dtype == np.float32
    expected = xpnet.predict_proba(X32, layers32)
    np.testing.assert_allclose(out["probabilities"], expected, rtol=RTOL["float32"], atol=0)
    np.testing.assert_array_equal(out["label"], xpnet.predict(X32, layers32))


def test_a_float32_regressor_from_float64_weights(tmp_path: Path) -> None:
    X = _data()
    reg = _fit(
        xpnet.MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0), X, X[:, :2] ** 2
    )
    path = xpnet.export_onnx(reg, tmp_path / "reg.onnx", dtype=np.float32)
    host32 = [W.astype(np.float32) for W in (*reg.coefs_, *reg.intercepts_)]
    layers32 = tuple(xpnet.Layer(W, b) for W, b in zip(host32[:2], host32[2:]))
    expected = xpnet.predict(X.astype(np.float32), layers32, loss="squared_error")
    out = _run(path, X.astype(np.float32))["variable"]
    np.testing.assert_allclose(out, expected, rtol=RTOL["float32"], atol=0)


# --- Params and tuples of Layer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("cross_entropy", "relu"),
        ("binary_cross_entropy", "tanh"),
        ("squared_error", "logistic"),
        ("poisson", "identity"),
    ],
)
def test_layers_give_xpnet_predict(loss: str, activation: str, tmp_path: Path) -> None:
    layers = xpnet.init_layers((5, 8, 6, 3), seed=2, init="glorot")
    path = xpnet.export_onnx(layers, tmp_path / "net.onnx", activation=activation, loss=loss)
    X = _data()
    for n in BATCHES:
        out = _run(path, X[:n])
        predicted = xpnet.predict(X[:n], layers, activation=activation, loss=loss)
        if loss in ("squared_error", "poisson"):
            assert list(out) == ["variable"]
            np.testing.assert_allclose(out["variable"], predicted, rtol=1e-10, atol=0)
            continue
        np.testing.assert_array_equal(out["label"], predicted)
        expected = xpnet.predict_proba(X[:n], layers, activation=activation, loss=loss)
        np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-10, atol=0)


def test_the_lectures_params(tmp_path: Path) -> None:
    X, y = xpnet.datasets.load_iris_2d(backend="numpy")
    params, _ = xpnet.train(X, y, xpnet.init_params(2, 10, 3, seed=0), epochs=50, lr=0.5)
    out = _run(xpnet.export_onnx(params, tmp_path / "lecture.onnx"), X)
    np.testing.assert_array_equal(out["label"], xpnet.predict(X, params))
    np.testing.assert_allclose(out["probabilities"], xpnet.predict_proba(X, params), rtol=1e-10)


def test_an_empty_batch_gives_empty_outputs(tmp_path: Path) -> None:
    layers = xpnet.init_layers((5, 4, 3), seed=0)
    out = _run(xpnet.export_onnx(layers, tmp_path / "net.onnx"), np.zeros((0, 5)))
    assert out["label"].shape == (0,)
    assert out["probabilities"].shape == (0, 3)


# --- any backend's model ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    installed_backends([Backend.ARRAY_API_STRICT, Backend.TORCH, Backend.JAX]),
    ids=str,
)
def test_a_model_fitted_on_any_backend(backend: Backend, tmp_path: Path) -> None:
    X = _data()
    y = TARGETS["multiclass"](X)
    clf = _fit(
        xpnet.MLPClassifier((6,), max_iter=15, random_state=0),
        to_backend(X, backend, dtype="float64"),
        to_backend(y, backend),
    )
    path = xpnet.export_onnx(clf, tmp_path / "clf.onnx")
    X_b = to_backend(X, backend, dtype="float64")
    out = _run(path, X)
    np.testing.assert_array_equal(out["label"], _host(clf.predict(X_b)))
    np.testing.assert_allclose(out["probabilities"], _host(clf.predict_proba(X_b)), rtol=1e-10)


# --- agreement with skl2onnx --------------------------------------------------------------------


def _sklearn_twin(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """scikit-learn's estimator of the same kind, fitted for its attributes, then given
    ``model``'s weights."""
    from sklearn import neural_network

    twin = getattr(neural_network, type(model).__name__)(
        hidden_layer_sizes=model.hidden_layer_sizes, activation=model.activation, max_iter=1
    )
    twin = _fit(twin, X, y)
    twin.coefs_ = [np.array(W) for W in model.coefs_]
    twin.intercepts_ = [np.array(b) for b in model.intercepts_]
    return twin


def _skl2onnx(twin: Any, d: int, dtype: str, tmp_path: Path) -> Path:
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the [oracles] extra")
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = DoubleTensorType if dtype == "float64" else FloatTensorType
    options = {id(twin): {"zipmap": False}} if hasattr(twin, "classes_") else None
    proto = skl2onnx.convert_sklearn(
        twin, initial_types=[("X", tensor([None, d]))], options=options, target_opset=21
    )
    path = tmp_path / "skl2onnx.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize(
    ("target", "dtype"),
    [("binary", "float64"), ("multiclass", "float64"), ("multilabel", "float32"),
     ("strings", "float32"), ("regression", "float64")],
)  # fmt: skip
def test_skl2onnx_gives_the_same_outputs(target: str, dtype: str, tmp_path: Path) -> None:
    X = _data().astype(dtype)
    if target == "regression":
        y = X[:, 0] * X[:, 1]
        model = xpnet.MLPRegressor(
            hidden_layer_sizes=(7, 5), activation="tanh", max_iter=30, random_state=0
        )
    else:
        y = TARGETS[target](X)
        model = xpnet.MLPClassifier((7,), activation="logistic", max_iter=30, random_state=0)
    model = _fit(model, X, y)
    ours = _run(xpnet.export_onnx(model, tmp_path / "xpnet.onnx"), X)
    theirs = _run(_skl2onnx(_sklearn_twin(model, X, y), X.shape[1], dtype, tmp_path), X)
    assert set(ours) == set(theirs)
    for name, value in ours.items():
        assert value.shape == theirs[name].shape, name
        assert value.dtype == theirs[name].dtype, name
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(value, theirs[name], rtol=1e-5, atol=0)
        else:
            np.testing.assert_array_equal(value, theirs[name])


# --- the file: standard operators, each weight once, named dimensions, no xpnet needed --------


def _nodes(graph: Any) -> list[Any]:
    """Every node of ``graph`` and of its subgraphs."""
    found = []
    for node in graph.node:
        found.append(node)
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.HasField("g") else []
            for subgraph in [*subgraphs, *attribute.graphs]:
                found += _nodes(subgraph)
    return found


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A 10-layer classifier (nine hidden layers of 64) and its exported file."""
    X = _data(256, 20)
    clf = xpnet.MLPClassifier((64,) * 9, max_iter=3, random_state=0)
    clf = _fit(clf, X, TARGETS["multiclass"](X))
    return clf, xpnet.export_onnx(clf, tmp_path_factory.mktemp("deep") / "deep.onnx")


def test_the_file_holds_only_standard_operators(deep: tuple[Any, Path]) -> None:
    proto = onnx.load(deep[1])
    onnx.checker.check_model(proto, full_check=True)
    assert {opset.domain for opset in proto.opset_import} <= {"", "ai.onnx"}
    assert {node.domain for node in _nodes(proto.graph)} <= {"", "ai.onnx"}
    assert not any(node.op_type == "If" and "MatMul" in str(node) for node in proto.graph.node)


def test_each_weight_is_held_once(deep: tuple[Any, Path]) -> None:
    clf, path = deep
    tensors = [
        onnx.numpy_helper.to_array(attribute.t)
        for node in _nodes(onnx.load(path).graph)
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "value"
    ]
    for W in [*clf.coefs_, *clf.intercepts_]:
        copies = [t for t in tensors if t.shape == W.shape and np.array_equal(t, W)]
        assert len(copies) == 1
    weights = sum(W.nbytes for W in [*clf.coefs_, *clf.intercepts_])
    assert weights < path.stat().st_size <= weights + 256 * 1024


def test_the_batch_dimension_is_named(deep: tuple[Any, Path]) -> None:
    proto = onnx.load(deep[1])
    (given,) = proto.graph.input
    assert given.name == "X"
    dims = [d.dim_param or d.dim_value for d in given.type.tensor_type.shape.dim]
    assert dims == ["N", 20]
    for output in proto.graph.output:
        assert output.type.tensor_type.shape.dim[0].dim_param == "N"
    assert proto.producer_name == "xpnet"
    assert "MLPClassifier" in proto.doc_string


def test_a_deep_classifier_gives_predict_proba(deep: tuple[Any, Path]) -> None:
    clf, path = deep
    _assert_classifier(path, clf, _data(64, 20, seed=1), RTOL["float64"])


RUNNER = """
import sys
for name in ("xpnet", "ndonnx", "spox", "onnx", "sklearn", "scipy", "torch", "jax"):
    sys.modules[name] = None  # importing any of them now fails
import numpy as np, onnxruntime
X = np.load(sys.argv[2])
session = onnxruntime.InferenceSession(sys.argv[1])
label, probabilities = session.run(["label", "probabilities"], {"X": X})
np.savez(sys.argv[3], label=label, probabilities=probabilities)
"""


def test_the_file_runs_with_onnxruntime_and_numpy_alone(deep: tuple[Any, Path], tmp_path):
    clf, path = deep
    X = _data(9, 20, seed=3)
    np.save(tmp_path / "X.npy", X)
    command = [sys.executable, "-c", RUNNER, str(path), str(tmp_path / "X.npy")]
    subprocess.run([*command, str(tmp_path / "out.npz")], check=True, timeout=120)
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X), rtol=1e-10, atol=0)


def test_import_xpnet_imports_no_onnx_library() -> None:
    code = (
        "import sys, xpnet; f = xpnet.export_onnx; "
        "print(sorted(m for m in ('ndonnx', 'onnx', 'onnxruntime', 'spox') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_ndonnx_the_error_names_the_extra(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ndonnx", None)
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[onnx\]'"):
        xpnet.export_onnx(xpnet.init_layers((2, 3)), tmp_path / "net.onnx")


def test_a_base_install_says_which_extra_the_command_needs(saved, tmp_path: Path) -> None:
    """Without ndonnx and onnx (``pip install xpnet``): one line naming the extra, exit 2."""
    code = (
        "import sys\nfrom xpnet.cli import main\n"
        f"status = main(['export', {str(saved[1])!r}, {str(tmp_path / 'x.onnx')!r}])\n"
        "assert status == 2, status\n"
    )
    done = run_without(code)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: xpnet.export_onnx needs 'ndonnx', which is not installed")
    assert line.endswith("install it with `pip install 'xpnet[onnx]'`")
    assert not (tmp_path / "x.onnx").exists()


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_is_refused_with_the_arguments_name(tmp_path: Path) -> None:
    layers = xpnet.init_layers((3, 4, 2))
    out = tmp_path / "net.onnx"
    with pytest.raises(ValueError, match=r"^model: the MLPClassifier is not fitted"):
        xpnet.export_onnx(xpnet.MLPClassifier(), out)
    with pytest.raises(TypeError, match=r"^model: expected a fitted MLPClassifier"):
        xpnet.export_onnx([np.ones((3, 4))], out)
    with pytest.raises(ValueError, match=r"^dtype: ONNX export computes in float32 or float64"):
        xpnet.export_onnx(layers, out, dtype="float16")
    half = tuple(xpnet.Layer(W.astype(np.float16), b.astype(np.float16)) for W, b in layers)
    with pytest.raises(ValueError, match=r"^dtype: .* weights are float16; pass dtype="):
        xpnet.export_onnx(half, out)
    with pytest.raises(ValueError, match=r"^loss: unknown loss 'hinge'"):
        xpnet.export_onnx(layers, out, loss="hinge")
    with pytest.raises(ValueError, match=r"^path: cannot write a file"):
        xpnet.export_onnx(layers, tmp_path)
    with pytest.raises(TypeError, match=r"^path: expected a str or a path"):
        xpnet.export_onnx(layers, None)
    X = _data(20, 3)
    clf = _fit(xpnet.MLPClassifier((4,), max_iter=5), X, X[:, 0] > 0)
    with pytest.raises(ValueError, match=r"^activation: an estimator is exported with its own"):
        xpnet.export_onnx(clf, out, activation="tanh")
    unchained = (layers[0], xpnet.Layer(np.ones((5, 2)), np.ones(2)))
    with pytest.raises(ValueError, match=r"^params\[1\]\.W: expected shape \(4, \?\)"):
        xpnet.export_onnx(unchained, out)
    assert not out.exists()


def test_the_docstring_examples_run() -> None:
    from xpnet import export

    result = doctest.testmod(export, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- python -m xpnet export ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    X = _data()
    clf = _fit(xpnet.MLPClassifier((6,), max_iter=20, random_state=0), X, TARGETS["strings"](X))
    return clf, xpnet.save(tmp_path_factory.mktemp("saved") / "clf.safetensors", clf)


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_the_command_exports_a_saved_model(saved, dtype, tmp_path: Path, capsys) -> None:
    clf, model = saved
    out = tmp_path / "clf.onnx"
    assert main(["export", str(model), str(out), *(["--dtype", dtype] if dtype else [])]) == 0
    assert capsys.readouterr().out.startswith(f"xpnet export: {model} -> {out} (")
    X = _data()
    result = _run(out, X.astype(dtype or "float64"))
    np.testing.assert_array_equal(result["label"], clf.predict(X.astype(dtype or "float64")))
    rtol = RTOL[dtype or "float64"]
    expected = clf.predict_proba(X) if dtype is None else None
    if expected is not None:
        np.testing.assert_allclose(result["probabilities"], expected, rtol=rtol, atol=0)


def test_the_command_exports_a_saved_pipeline(tmp_path: Path) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = 10.0 + _data()
    pipeline = make_pipeline(StandardScaler(), xpnet.MLPClassifier((5,), max_iter=20))
    pipeline = _fit(pipeline, X, TARGETS["multiclass"](X - 10.0))
    model = xpnet.save(tmp_path / "pipeline.safetensors", pipeline)
    out = tmp_path / "pipeline.onnx"
    assert main(["export", str(model), str(out)]) == 0
    result = _run(out, X)
    np.testing.assert_array_equal(result["label"], pipeline.predict(X))
    np.testing.assert_allclose(result["probabilities"], pipeline.predict_proba(X), rtol=1e-10)


def test_the_command_exports_saved_layers_with_their_activation(tmp_path: Path) -> None:
    layers = xpnet.init_layers((4, 5, 2), seed=3)
    model = xpnet.save(tmp_path / "net.safetensors", layers)
    out = tmp_path / "net.onnx"
    assert main(["export", str(model), str(out), "--activation", "tanh"]) == 0
    X = _data(10, 4)
    expected = xpnet.predict_proba(X, layers, activation="tanh")
    np.testing.assert_allclose(_run(out, X)["probabilities"], expected, rtol=1e-10, atol=0)


def _one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_the_command_refuses_a_bad_model_in_one_line(saved, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out.onnx")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00not a safetensors file at all")
    line = _one_line_error(["export", str(garbage), out], capsys)
    assert line.startswith(f"MODEL: {str(garbage)!r} is not a readable safetensors file")
    missing = str(tmp_path / "missing.safetensors")
    assert _one_line_error(["export", missing, out], capsys) == f"MODEL: no such file {missing!r}"
    half = xpnet.save(tmp_path / "half.safetensors", xpnet.init_layers((2, 3), dtype="float16"))
    line = _one_line_error(["export", str(half), out], capsys)
    assert line.startswith("MODEL: dtype: ONNX export computes in float32 or float64")
    line = _one_line_error(["export", str(saved[1]), out, "--loss", "poisson"], capsys)
    assert line.startswith("MODEL: loss: an estimator is exported with its own loss")
    line = _one_line_error(["export", str(saved[1]), str(tmp_path / "no" / "x.onnx")], capsys)
    assert line.startswith("OUT: cannot write a file at")
    assert not Path(out).exists()


# --- the bench's inference workload -------------------------------------------------------------


def test_the_inference_workload_times_onnxruntime_against_predict() -> None:
    from xpnet.bench._inference import inference_speed
    from xpnet.bench._report import format_inference

    entry = inference_speed(backends=["numpy"], quick=True, repeats=1, progress=lambda _: None)
    cases = {(r["runtime"], r["batch"]): r for r in entry["results"]}
    assert set(cases) == {(runtime, b) for runtime in ("onnxruntime", "numpy") for b in (1, 4096)}
    for r in cases.values():
        assert r["labels_equal_onnxruntime"]
        assert r["rows_per_second"] > 0
        assert r["seconds_per_call"] * r["rows_per_second"] == pytest.approx(r["batch"])
    assert cases[("onnxruntime", 1)]["onnxruntime_over_this"] == 1.0
    text = format_inference(entry)
    assert text.startswith("### inference: onnxruntime on the exported file")
    assert "| xpnet predict, numpy | 4096" in text


def test_the_inference_workload_says_what_is_missing(monkeypatch) -> None:
    from xpnet import _optional
    from xpnet.bench._inference import inference_speed
    from xpnet.bench._report import format_inference

    monkeypatch.setattr(_optional, "installed", lambda module: module != "onnxruntime")
    entry = inference_speed(backends=["numpy"], quick=True)
    assert entry == {"skipped": "needs the [onnx] extra (onnxruntime not installed)"}
    assert format_inference(entry).endswith(
        "Skipped: needs the [onnx] extra (onnxruntime not installed)."
    )
