"""Export a trained network to ONNX, traced from xpnet's own prediction code.

No converter is written here. `ndonnx <https://github.com/Quantco/ndonnx>`_ implements the
Array API on ONNX graphs, so running the code that predicts (an estimator's ``predict`` and
``predict_proba``, or :func:`xpnet.predict` and :func:`xpnet.predict_proba` for a network's
parameters) on an ndonnx input of shape ``("N", d)`` records the graph of exactly that
code, with the batch size ``N`` left symbolic and the weights as constants.

The outputs are named as skl2onnx names them with ``zipmap=False``: ``label`` and
``probabilities`` for a classifier, ``variable`` (shape ``(N, n_outputs)``) for a
regressor; the input is ``X``. The file holds standard ONNX operators only and runs on
onnxruntime with NumPy alone (or onnxruntime's other runtimes: C++, C#, Java, JavaScript).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._optional import optional_import
from ._typing import Array, Layer, Namespace, Params
from .backends import to_numpy
from .losses import get_loss
from .mlp import predict, predict_proba

__all__ = ["export_onnx"]

#: The dtypes an exported graph computes in (ndonnx and onnxruntime's CPU kernels both
#: have float32 and float64; see the "Deploying" page for float16).
DTYPES = ("float32", "float64")
#: The name of the graph's input and of its symbolic batch dimension.
INPUT, BATCH = "X", "N"


def export_onnx(
    model: Any,
    path: str | os.PathLike[str],
    /,
    *,
    dtype: Any = None,
    activation: str | None = None,
    loss: str | None = None,
) -> Path:
    """Write ``model`` as an ONNX file, its graph traced from xpnet's prediction code.

    Parameters
    ----------
    model : MLPClassifier, MLPRegressor, Pipeline, Params or tuple of Layer
        A fitted estimator (on any backend and device), a scikit-learn ``Pipeline`` of
        scalers (``StandardScaler``, ``MinMaxScaler``, ``RobustScaler``, ``MaxAbsScaler``)
        and such an estimator, or a network's parameters.
    path : str or path
        Where to write (conventionally ``*.onnx``); overwritten if it exists.
    dtype : {"float32", "float64"}, optional
        The dtype of the input ``X``, of the weights and of the computation; default the
        weights' own.
    activation : {"relu", "tanh", "logistic", "identity"}, optional
        The hidden activation of ``Params`` or a tuple of ``Layer`` (default ``"relu"``);
        an estimator uses its own.
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error", "poisson"}, optional
        What the network's output is, for ``Params`` or a tuple of ``Layer`` (default
        ``"cross_entropy"``); an estimator uses its own.

    Returns
    -------
    Path
        The path written.

    Notes
    -----
    The graph's input is ``X`` of shape ``(N, n_features)``. Its outputs follow skl2onnx
    (``zipmap=False``): a classifier gives ``label`` (the estimator's ``classes_``, strings
    included; the 0/1 indicator matrix for multilabel) and ``probabilities`` (``N x
    n_classes``); a regressor, and a network with loss ``"squared_error"`` or ``"poisson"``,
    gives ``variable`` (``N x n_outputs``). A network's ``Params`` or layers give ``label``
    as :func:`xpnet.predict` gives it (class indices, or 0/1 indicators for binary
    cross-entropy).

    Examples
    --------
    >>> import os, tempfile, numpy as np, onnxruntime, xpnet
    >>> X, y = xpnet.datasets.load_iris_2d(backend="numpy")
    >>> clf = xpnet.MLPClassifier((10,), solver="lbfgs", random_state=0).fit(X, y)
    >>> path = xpnet.export_onnx(clf, os.path.join(tempfile.mkdtemp(), "iris.onnx"))
    >>> session = onnxruntime.InferenceSession(path)
    >>> label, probabilities = session.run(None, {"X": X})
    >>> bool(np.all(label == clf.predict(X)))
    True
    """
    target = _check_path(path)
    if target.is_dir() or not target.parent.is_dir():
        raise ValueError(
            f"path: cannot write a file at {str(path)!r} (a folder, or no such folder)"
        )
    with warnings.catch_warnings():
        # ndonnx warns at import without onnxruntime, which only its constant folding uses
        warnings.filterwarnings("ignore", message="onnxruntime is not installed")
        ndx = optional_import("ndonnx", purpose="xpnet.export_onnx")
    traced = _trace(model, dtype, activation, loss, ndx=ndx)
    proto = ndx.build({INPUT: traced.X}, traced.outputs)
    _without_empty_product_guards(proto.graph)
    _name_batch_dimension(proto.graph)
    from . import __version__

    proto.producer_name, proto.producer_version = "xpnet", __version__
    proto.doc_string = f"{traced.description}; exported by xpnet {__version__}"
    try:
        target.write_bytes(proto.SerializeToString())
    except OSError as exc:
        raise ValueError(f"path: cannot write {str(path)!r} ({exc})") from None
    return target


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, got {type(path).__name__}")
    if not str(path):
        raise ValueError("path: expected a file name, got ''")
    return Path(path)


# --- tracing: the prediction code, run on an ndonnx input ----------------------------------


class _Traced(NamedTuple):
    X: Array  # the graph's input, (N, n_features)
    outputs: dict[str, Array]  # by name: label and probabilities, or variable
    description: str  # what the model is, for the file's doc_string


def _trace(
    model: Any, dtype: Any, activation: str | None, loss: str | None, *, ndx: Namespace
) -> _Traced:
    """Run the prediction code of ``model`` on an ndonnx input of ``N`` rows."""
    from .estimators import MLPClassifier, MLPRegressor

    scalers = _scalers(model)
    if scalers:
        model = model.steps[-1][1]
    estimator = isinstance(model, (MLPClassifier, MLPRegressor))
    if estimator:
        for name, value in (("activation", activation), ("loss", loss)):
            if value is not None:
                raise ValueError(
                    f"{name}: an estimator is exported with its own {name}; leave {name} unset"
                )
        if not hasattr(model, "coefs_"):
            raise ValueError(f"model: the {type(model).__name__} is not fitted; fit it first")
        host = [(to_numpy(W), to_numpy(b)) for W, b in zip(model.coefs_, model.intercepts_)]
    else:
        host = _host_layers(model)
        activation, loss = activation or "relu", loss or "cross_entropy"
    resolved = _resolve_dtype(dtype, host)
    layers = _constants(host, resolved, ndx=ndx)
    n_features = host[0][0].shape[0]
    X = ndx.argument(shape=(BATCH, n_features), dtype=getattr(ndx, resolved))
    scaled = X
    for scaler in scalers:
        scaled = _scale(scaled, scaler, dtype=resolved, ndx=ndx)
    if isinstance(model, MLPClassifier):
        outputs = _classifier(model, layers, scaled, ndx=ndx)
    elif isinstance(model, MLPRegressor):
        outputs = {"variable": _regressor(model, layers, scaled, ndx=ndx)}
    else:
        outputs = _network(layers, scaled, str(activation), str(loss))
    if estimator:
        what = (
            f"{type(model).__name__}(hidden_layer_sizes={model.hidden_layer_sizes!r}, "
            f"activation={model.activation!r}), output {model.out_activation_}"
        )
        if scalers:
            what = f"Pipeline({', '.join(type(s).__name__ for s in scalers)}, {what})"
    else:
        what = f"{type(model).__name__}, activation {activation!r}, loss {loss!r}"
    return _Traced(X, outputs, f"{what}; {n_features} features, {resolved}")


def _host_layers(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The NumPy ``(W, b)`` of each layer of ``Params`` or a tuple of ``Layer``."""
    if isinstance(model, Params):
        pairs: list[Any] = [(model.W1, model.b1), (model.W2, model.b2)]
    elif isinstance(model, tuple) and model and all(isinstance(l, Layer) for l in model):
        pairs = list(model)
    else:
        raise TypeError(
            "model: expected a fitted MLPClassifier or MLPRegressor (or a Pipeline of scalers "
            f"and one), Params or a tuple of Layer, got {type(model).__name__}"
        )
    host = []
    for i, (W, b) in enumerate(pairs):
        W_host, b_host = np.asarray(to_numpy(W)), np.asarray(to_numpy(b))
        if W_host.ndim != 2 or b_host.ndim != 1 or b_host.shape[0] != W_host.shape[1]:
            raise ValueError(
                f"model[{i}]: expected W of shape (fan_in, fan_out) and b of shape "
                f"(fan_out,), got {W_host.shape} and {b_host.shape}"
            )
        host.append((W_host, b_host))
    return host


def _resolve_dtype(dtype: Any, host: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """The name of the dtype to export in: ``dtype``, or the weights' own."""
    if dtype is None:
        name = host[0][0].dtype.name
        what = f"the model's weights are {name}"
    else:
        try:
            name = np.dtype(getattr(dtype, "name", dtype)).name
        except TypeError:
            name = str(dtype)
        what = f"got {dtype!r}"
    if name not in DTYPES:
        raise ValueError(
            f"dtype: ONNX export computes in float32 or float64, {what}; pass dtype='float32' "
            "or dtype='float64'"
        )
    return name


def _constants(
    host: list[tuple[np.ndarray, np.ndarray]], dtype: str, *, ndx: Namespace
) -> tuple[Layer, ...]:
    """Each weight as one ndonnx constant (every use of it refers to that one node)."""
    return tuple(
        Layer(ndx.asarray(W.astype(dtype)), ndx.asarray(b.astype(dtype))) for W, b in host
    )


def _network(layers: tuple[Layer, ...], X: Array, activation: str, loss: str) -> dict[str, Array]:
    """The outputs of :func:`xpnet.predict` and :func:`xpnet.predict_proba` of a network."""
    if get_loss(loss).output_name in ("softmax", "logistic"):
        return {
            "label": predict(X, layers, activation=activation, loss=loss),
            "probabilities": predict_proba(X, layers, activation=activation, loss=loss),
        }
    return {"variable": predict(X, layers, activation=activation, loss=loss)}


def _estimator_on(model: Any, layers: tuple[Layer, ...]) -> Any:
    """A shallow copy of a fitted estimator whose weights are ``layers`` (ndonnx constants).

    Its feature names are dropped: the graph's input is an array, which would warn."""
    traced = copy.copy(model)
    traced.coefs_ = [layer.W for layer in layers]
    traced.intercepts_ = [layer.b for layer in layers]
    vars(traced).pop("feature_names_in_", None)
    return traced


def _classifier(model: Any, layers: tuple[Layer, ...], X: Array, *, ndx: Namespace) -> dict:
    """``label`` and ``probabilities``: the classifier's own ``predict`` and ``predict_proba``.

    Labels that are not numbers (strings) have no Array-API dtype: the estimator predicts
    their positions in ``classes_`` (through the same code), and the graph looks them up.
    """
    traced = _estimator_on(model, layers)
    classes = np.asarray(model._label_binarizer.classes_)
    probabilities = traced.predict_proba(X)
    if classes.dtype.kind in "biuf":
        return {"label": traced.predict(X), "probabilities": probabilities}
    if not all(isinstance(c, str) for c in classes.tolist()):
        raise ValueError(
            f"model: classes of type {classes.dtype} have no ONNX type; use numbers or strings"
        )
    binarizer = copy.copy(model._label_binarizer)
    binarizer.classes_ = np.arange(len(classes))
    traced._label_binarizer = binarizer
    positions = traced.predict(X)
    label = ndx.take(ndx.asarray(classes.astype(str)), positions, axis=0)
    return {"label": label, "probabilities": probabilities}


def _regressor(model: Any, layers: tuple[Layer, ...], X: Array, *, ndx: Namespace) -> Array:
    """``variable``: the regressor's own ``predict``, as ``(N, n_outputs)`` (skl2onnx's)."""
    prediction = _estimator_on(model, layers).predict(X)
    return ndx.reshape(prediction, (-1, int(model.n_outputs_)))


# --- a Pipeline's scalers ---------------------------------------------------------------------


def _scalers(model: Any) -> list[Any]:
    """The fitted scalers before the estimator of a Pipeline (checked); [] for anything else."""
    from sklearn.pipeline import Pipeline

    from .io import pipeline_steps

    if not isinstance(model, Pipeline):
        return []
    return [step for _, step in pipeline_steps(model, taker="the export")[:-1]]


def _scale(X: Array, scaler: Any, *, dtype: str, ndx: Namespace) -> Array:
    """``scaler.transform(X)``, the operations scikit-learn's transform does on dense data.

    scikit-learn's own ``transform`` cannot run on the graph's input (its validation counts
    the rows, which are a symbol here), so its few lines for dense arrays are followed.
    """

    def fitted(name: str) -> Array:
        return ndx.asarray(np.asarray(to_numpy(getattr(scaler, name))).astype(dtype))

    kind = type(scaler).__name__
    if kind == "StandardScaler":
        if scaler.with_mean:
            X = X - fitted("mean_")
        if scaler.with_std:
            X = X / fitted("scale_")
    elif kind == "RobustScaler":
        if scaler.with_centering:
            X = X - fitted("center_")
        if scaler.with_scaling:
            X = X / fitted("scale_")
    elif kind == "MinMaxScaler":
        X = X * fitted("scale_") + fitted("min_")
        if getattr(scaler, "clip", False):
            X = ndx.clip(X, float(scaler.feature_range[0]), float(scaler.feature_range[1]))
    else:  # MaxAbsScaler
        X = X / fitted("scale_")
        if getattr(scaler, "clip", False):  # scikit-learn >= 1.9
            X = ndx.clip(X, -1.0, 1.0)
    return X


# --- two edits of the traced graph that change no value ------------------------------------


def _without_empty_product_guards(graph: Any) -> None:
    """Take each matrix product as it is, without ndonnx's guard against empty operands.

    ndonnx wraps every ``a @ b`` in an ``If`` whose other branch builds an all-zero result
    when ``a`` or ``b`` has no element (for an old onnxruntime bug with a zero-length inner
    dimension): about 29 KB of graph and a subgraph call per layer. Here ``b`` is a weight
    matrix, never empty, and a batch of no rows gives an empty product either way, so the
    ``If`` becomes the ``MatMul`` of its other branch; the nodes that only fed its
    condition are then removed.
    """
    onnx = optional_import("onnx", purpose="xpnet.export_onnx")
    constants = {o for node in graph.node if node.op_type == "Constant" for o in node.output}
    for index, node in enumerate(graph.node):
        product = _guarded_product(node, constants)
        if product is not None:
            a, b = product
            graph.node[index].CopyFrom(
                onnx.helper.make_node("MatMul", [a, b], [node.output[0]], name=node.name)
            )
    _drop_unused(graph)


def _guarded_product(node: Any, constants: set[str]) -> tuple[str, str] | None:
    """The operands ``(a, b)`` of an ``If`` whose else branch is ``a @ b`` with ``b`` a
    constant of the graph (the guard of :func:`_without_empty_product_guards`); else None."""
    if node.op_type != "If" or len(node.output) != 1:
        return None
    branches = {attribute.name: attribute.g for attribute in node.attribute}
    branch = branches.get("else_branch")
    if branch is None or len(branch.output) != 1:
        return None
    products = [n for n in branch.node if n.op_type == "MatMul"]
    rest = [n for n in branch.node if n.op_type not in ("MatMul", "Identity")]
    if len(products) != 1 or rest or products[0].input[1] not in constants:
        return None
    names = {products[0].output[0]}
    for n in branch.node:  # the branch's output is the product, through Identity nodes
        if n.op_type == "Identity" and n.input[0] in names:
            names.add(n.output[0])
    if branch.output[0].name not in names:
        return None
    return products[0].input[0], products[0].input[1]


def _drop_unused(graph: Any) -> None:
    """Remove the nodes none of whose outputs reach the graph's outputs."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(_inputs(node))
    del graph.node[:]
    graph.node.extend(reversed(kept))


def _inputs(node: Any) -> Iterator[str]:
    """The names ``node`` reads, its subgraphs' reads from the enclosing scope included."""
    yield from node.input
    for attribute in node.attribute:
        subgraphs = [attribute.g] if attribute.HasField("g") else []
        for subgraph in [*subgraphs, *attribute.graphs]:
            for inner in subgraph.node:
                yield from _inputs(inner)


def _name_batch_dimension(graph: Any) -> None:
    """Call the outputs' first dimension ``N``, as the input's: ``N`` rows in, ``N`` out."""
    for output in graph.output:
        shape = output.type.tensor_type.shape
        if len(shape.dim) and not shape.dim[0].HasField("dim_value"):
            shape.dim[0].dim_param = BATCH
