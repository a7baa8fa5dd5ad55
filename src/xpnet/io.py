"""Saving and loading models as safetensors files: arrays and JSON, never pickle.

A file holds the weights as named tensors (written through safetensors' NumPy API, so
torch is not needed) and, in its metadata, one JSON document under the key ``"xpnet"``:
the format version, the xpnet version, what the model is, and for an estimator its
hyperparameters, classes and fitted attributes. A scikit-learn ``Pipeline`` of scalers
(``StandardScaler``, ``MinMaxScaler``, ``RobustScaler``, ``MaxAbsScaler``) and an
estimator is saved the same way: each scaler's parameters as JSON, its statistics as
tensors ``steps.<i>.<attribute>``. Loading reads only tensors and JSON,
so a file from elsewhere cannot run code; anything that is not such a file is refused
with a ``ValueError`` that names the path.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import _validation as check
from ._compat import array_namespace, is_array_api_obj, is_jax_namespace
from ._typing import Layer, Params, named_leaves
from .backends import asarray, jax_x64_enabled, namespace, to_numpy

__all__ = ["load", "save"]

#: The layout of the files written by this version of :func:`save`.
FORMAT_VERSION = 1
_METADATA_KEY = "xpnet"


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, got {type(path).__name__}")
    if not str(path):
        raise ValueError("path: expected a file name, got ''")
    return Path(path)


def _json_number(value: Any) -> Any:
    """Plain JSON for a fitted number (inf and nan as strings, NumPy scalars as Python)."""
    if isinstance(value, (list, tuple)):
        return [_json_number(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (np.generic, float, int)) and not isinstance(value, (bool, np.bool_)):
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)  # "inf", "-inf", "nan"
    return value


def _from_json_number(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json_number(v) for v in value]
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def _hyperparameters(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False)
    sizes = params["hidden_layer_sizes"]
    params["hidden_layer_sizes"] = [
        int(s) for s in (sizes if hasattr(sizes, "__iter__") else [sizes])
    ]
    state = params["random_state"]
    if state is not None and not isinstance(state, (int, np.integer)):
        params["random_state"] = None  # a RandomState object is no JSON; refits draw anew
    return {k: _json_number(v) for k, v in params.items()}


def _classes(estimator: Any, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    binarizer = estimator._label_binarizer
    classes = np.asarray(binarizer.classes_)
    info: dict[str, Any] = {"y_type": binarizer.y_type_}
    if classes.dtype.kind in "biuf":
        tensors["classes"] = classes
    elif classes.dtype.kind == "U" or all(isinstance(c, str) for c in classes.tolist()):
        info["classes"] = [str(c) for c in classes.tolist()]
    else:
        raise ValueError(
            f"model: classes of type {classes.dtype} cannot be saved without pickle; "
            "use numbers or strings as labels"
        )
    return info


def save(path: str | os.PathLike[str], model: Any, /) -> Path:
    """Write ``model`` to a safetensors file at ``path`` (no pickle).

    Parameters
    ----------
    path : str or path
        Where to write (conventionally ``*.safetensors``); overwritten if it exists.
    model : MLPClassifier, MLPRegressor, tuple of Layer, or Params
        A fitted estimator, a network's layers, or the lecture's parameters, on any
        backend and device.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import array_api_strict as xp, xpnet, tempfile, os
    >>> layers = xpnet.init_layers((2, 3, 2), xp=xp)
    >>> path = xpnet.save(os.path.join(tempfile.mkdtemp(), "net.safetensors"), layers)
    >>> loaded = xpnet.load(path, backend="array_api_strict")
    >>> bool(xp.all(loaded[0].W == layers[0].W))
    True
    """
    from safetensors.numpy import save_file

    from . import __version__
    from .estimators import MLPClassifier, MLPRegressor

    target = _check_path(path)
    tensors: dict[str, np.ndarray] = {}
    document: dict[str, Any] = {"format": FORMAT_VERSION, "xpnet_version": __version__}
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        document.update(_estimator_document(model, tensors))
    elif _is_pipeline(model):
        document["kind"] = "Pipeline"
        *scalers, (name, final) = pipeline_steps(model)
        document["steps"] = [
            _scaler_document(step_name, step, i, tensors)
            for i, (step_name, step) in enumerate(scalers)
        ]
        document["final"] = {"name": name, **_estimator_document(final, tensors)}
    elif isinstance(model, Params):
        _check_arrays(model)
        document["kind"] = "Params"
        tensors.update({name: to_numpy(a) for name, a in zip(Params._fields, model)})
    elif isinstance(model, tuple) and model and all(isinstance(l, Layer) for l in model):
        _check_arrays(model)
        document["kind"] = "layers"
        for i, (W, b) in enumerate(model):
            tensors[f"layers.{i}.W"], tensors[f"layers.{i}.b"] = to_numpy(W), to_numpy(b)
    else:
        raise TypeError(
            "model: expected a fitted MLPClassifier or MLPRegressor, a Pipeline of scalers "
            f"and one of them, a tuple of Layer or Params, got {type(model).__name__}"
        )
    contiguous = {name: np.ascontiguousarray(a) for name, a in tensors.items()}
    if target.is_dir() or not target.parent.is_dir():
        raise ValueError(
            f"path: cannot write a file at {str(path)!r} (a folder, or no such folder)"
        )
    try:
        save_file(contiguous, target, metadata={_METADATA_KEY: json.dumps(document)})
    except Exception as exc:  # safetensors' own error type is private to its Rust core
        raise ValueError(f"path: cannot write {str(path)!r} ({exc})") from None
    return target


def _estimator_document(model: Any, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """The JSON of a fitted estimator, from the state it hands over (its ``_get_state``);
    its arrays (weights, optimizer state, numeric classes) go into ``tensors``."""
    from .estimators import MLPClassifier

    if not hasattr(model, "coefs_"):
        raise ValueError(f"model: the {type(model).__name__} is not fitted; fit it first")
    state, arrays = model._get_state()
    document: dict[str, Any] = {"kind": type(model).__name__}
    document["params"] = _hyperparameters(model)
    document["fitted"] = {name: _json_number(v) for name, v in state["fitted"].items()}
    if "training" in state:
        document["training"] = state["training"]
    if hasattr(model, "feature_names_in_"):
        document["fitted"]["feature_names_in_"] = [str(n) for n in model.feature_names_in_]
    tensors.update({name: to_numpy(a) for name, a in arrays.items()})
    if isinstance(model, MLPClassifier):
        document["labels"] = _classes(model, tensors)
    return document


#: The scikit-learn scalers a saved Pipeline may hold before its estimator.
SCALERS = ("StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler")


def _is_pipeline(model: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(model, Pipeline)


def pipeline_steps(pipeline: Any, *, taker: str = "xpnet.save") -> list[tuple[str, Any]]:
    """The steps of a Pipeline that xpnet can save or export: scalers, then a fitted xpnet
    estimator (a ``TypeError`` or ``ValueError`` otherwise; ``taker`` names who refuses)."""
    from sklearn import preprocessing

    from .estimators import MLPClassifier, MLPRegressor

    steps = list(pipeline.steps)
    final = steps[-1][1]
    if not isinstance(final, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            "model: the last step of the Pipeline must be an xpnet MLPClassifier or "
            f"MLPRegressor, got {type(final).__name__}"
        )
    for name, step in steps[:-1]:
        kind = type(step).__name__
        if kind not in SCALERS or type(step) is not getattr(preprocessing, kind):
            raise TypeError(
                f"model: step {name!r} of the Pipeline is {kind}; {taker} takes the "
                f"scalers {', '.join(SCALERS)} before the estimator"
                + (" (no pickle)" if taker == "xpnet.save" else "")
            )
        if not hasattr(step, "n_features_in_"):
            raise ValueError(f"model: step {name!r} of the Pipeline is not fitted; fit it first")
    return steps


def _scaler_document(name: str, scaler: Any, index: int, tensors: dict[str, Any]) -> Any:
    """The JSON of a fitted scaler; its array attributes go into ``tensors`` as
    ``steps.<index>.<attribute>``."""
    params = {
        key: list(value) if isinstance(value, tuple) else _json_number(value)
        for key, value in scaler.get_params(deep=False).items()
    }
    fitted: dict[str, Any] = {}
    arrays = []
    for key, value in vars(scaler).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if key == "feature_names_in_":
            fitted[key] = [str(n) for n in value]
        elif isinstance(value, np.ndarray) or is_array_api_obj(value):
            tensors[f"steps.{index}.{key}"] = to_numpy(value)
            arrays.append(key)
        else:
            fitted[key] = _json_number(value)
    return {
        "name": name,
        "kind": type(scaler).__name__,
        "params": params,
        "fitted": fitted,
        "arrays": arrays,
    }


def _load_scaler(
    step: dict[str, Any], index: int, tensors: dict[str, np.ndarray], place: Any
) -> Any:
    from sklearn import preprocessing

    if step["kind"] not in SCALERS:
        raise ValueError(f"unknown step {step['kind']!r}")
    params = {
        key: tuple(value) if isinstance(value, list) else _from_json_number(value)
        for key, value in step["params"].items()
    }
    scaler = getattr(preprocessing, step["kind"])(**params)
    for key, value in step["fitted"].items():
        if key == "feature_names_in_":
            setattr(scaler, key, np.asarray(value, dtype=object))
        else:
            setattr(scaler, key, _from_json_number(value))
    for key in step["arrays"]:
        array = tensors[f"steps.{index}.{key}"]
        setattr(scaler, key, array if place is None else place(array))
    return scaler


def _check_arrays(model: Any) -> None:
    """Every entry of Params or of a tuple of Layer is a real floating array, each weight
    matrix 2-D and each bias 1-D."""
    arrays, names = named_leaves(model, "model")
    for i, (array, name) in enumerate(zip(arrays, names)):
        xp = array_namespace(array, names=(name,))
        check.check_floating(array, name, ndim=1 if i % 2 else 2, xp=xp)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON document and the tensors of a file, or a ``ValueError`` naming ``path``."""
    from safetensors import safe_open

    if not path.is_file():
        raise ValueError(f"path: no such file {str(path)!r}")
    try:
        with safe_open(path, framework="np") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors' own error type is private to its Rust core
        raise ValueError(
            f"path: {str(path)!r} is not a readable safetensors file ({exc})"
        ) from None
    if _METADATA_KEY not in metadata:
        raise ValueError(f"path: {str(path)!r} was not written by xpnet.save (no xpnet metadata)")
    try:
        document = json.loads(metadata[_METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ValueError(f"path: {str(path)!r} has corrupt xpnet metadata ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("format"), int):
        raise ValueError(f"path: {str(path)!r} has corrupt xpnet metadata (no format version)")
    if document["format"] > FORMAT_VERSION:
        raise ValueError(
            f"path: {str(path)!r} has format {document['format']}, newer than this xpnet "
            f"reads ({FORMAT_VERSION}); upgrade xpnet"
        )
    return document, tensors


def _numbered(tensors: dict[str, np.ndarray], pattern: str, path: Path) -> list[np.ndarray]:
    """``pattern.format(0)``, ``pattern.format(1)``, ... while present (at least one)."""
    found: list[np.ndarray] = []
    while pattern.format(len(found)) in tensors:
        found.append(tensors[pattern.format(len(found))])
    if not found:
        raise ValueError(f"path: {str(path)!r} holds no tensor {pattern.format(0)!r}")
    return found


def load(
    path: str | os.PathLike[str], /, *, backend: Any = None, device: Any = None, dtype: Any = None
) -> Any:
    """Read a model written by :func:`save`, onto ``backend`` and ``device``, in ``dtype``.

    Parameters
    ----------
    path : str or path
        A file written by :func:`save`.
    backend : str or namespace, optional
        Where the arrays go (``"numpy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"``);
        default NumPy. The estimator then predicts on that backend's inputs.
    device : str or device, optional
        E.g. ``"cuda"``; default the backend's default device.
    dtype : str or dtype, optional
        Cast the weights to this floating dtype (``"float32"``, ``"float64"``); default
        the dtype they were saved in. A float64 model goes onto JAX with its x64 mode off
        only as ``dtype="float32"``.

    Returns
    -------
    MLPClassifier, MLPRegressor, Pipeline, tuple of Layer, or Params
        What was saved, with the same weights (bit for bit unless cast) and
        hyperparameters. A Pipeline's estimator goes onto ``backend``; its scalers'
        statistics too while scikit-learn's ``array_api_dispatch`` is on, else they stay
        NumPy arrays, as scikit-learn keeps them without dispatch.

    Raises
    ------
    ValueError
        When ``path`` is missing, truncated, corrupt, or not written by :func:`save`.
    """
    source = _check_path(path)
    document, tensors = _read(source)
    kind = document.get("kind")

    target = "numpy" if backend is None else backend  # {} or "" are no backend

    cast = _floating_dtype(dtype)

    def place(a: np.ndarray, *, weights: bool = True) -> Any:
        wanted = cast if weights and cast is not None and a.dtype.kind == "f" else None
        on_jax = is_jax_namespace(namespace(target))
        if (wanted or a.dtype.name) == "float64" and on_jax and not jax_x64_enabled():
            raise ValueError(
                "backend: the model is float64 but JAX's x64 mode is off; load it with "
                "dtype='float32', or call jax.config.update('jax_enable_x64', True) first"
            )
        return asarray(a, backend=target, device=device, dtype=wanted)

    try:
        if kind == "layers":
            weights = _numbered(tensors, "layers.{}.W", source)
            biases = _numbered(tensors, "layers.{}.b", source)
            return tuple(Layer(place(W), place(b)) for W, b in zip(weights, biases, strict=True))
        if kind == "Params":
            return Params(*(place(tensors[name]) for name in Params._fields))
        if kind in ("MLPClassifier", "MLPRegressor"):
            return _load_estimator(document, tensors, place, source)
        if kind == "Pipeline":
            import sklearn
            from sklearn.pipeline import Pipeline

            # The scalers' statistics go where scikit-learn keeps them: on the backend with
            # its array-API dispatch on, else in NumPy (it converts inputs to NumPy then).
            dispatch = sklearn.get_config().get("array_api_dispatch", False)
            stat = (lambda a: place(a, weights=a.dtype.kind == "f")) if dispatch else None
            steps = [
                (step["name"], _load_scaler(step, i, tensors, stat))
                for i, step in enumerate(document["steps"])
            ]
            final = document["final"]
            steps.append((final["name"], _load_estimator(final, tensors, place, source)))
            return Pipeline(steps)
    except (KeyError, TypeError, ValueError) as exc:
        if str(exc).startswith(("path:", "backend:", "device:")):
            raise
        raise ValueError(f"path: {str(source)!r} is not a valid xpnet model ({exc!r})") from None
    raise ValueError(f"path: {str(source)!r} holds an unknown kind of model {kind!r}")


def _floating_dtype(dtype: Any) -> str | None:
    """``"float32"`` or ``"float64"`` for a dtype name or object; None for None."""
    if dtype is None:
        return None
    name = str(dtype).rsplit(".", 1)[-1].strip("'>")
    if name not in ("float32", "float64"):
        raise TypeError(f"dtype: expected 'float32' or 'float64' (or such a dtype), got {dtype!r}")
    return name


def _load_estimator(
    document: dict[str, Any], tensors: dict[str, np.ndarray], place: Any, path: Path
) -> Any:
    from sklearn.preprocessing import LabelBinarizer

    from . import estimators

    cls = getattr(estimators, document["kind"])
    params = {k: _from_json_number(v) for k, v in document["params"].items()}
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    model = cls(**params)
    fitted = dict(document["fitted"])
    names = fitted.pop("feature_names_in_", None)
    state = {"fitted": {k: _from_json_number(v) for k, v in fitted.items()}}
    if "training" in document:
        state["training"] = document["training"]
    n = int(state["fitted"]["n_layers_"]) - 1
    coefs = _numbered(tensors, "coefs.{}", path)
    intercepts = _numbered(tensors, "intercepts.{}", path)
    if len(coefs) != len(intercepts) or len(coefs) != n:
        raise ValueError(
            f"path: {str(path)!r} has {len(coefs)} weight matrices for {n + 1} layers"
        )
    arrays = {
        name: place(a) for name, a in tensors.items() if name.startswith(("coefs.", "intercepts."))
    }
    if "training" in state:
        arrays.update(
            {name: place(a) for name, a in tensors.items() if name.startswith("optimizer.")}
        )
    model._set_state(state, arrays)
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    if document["kind"] == "MLPClassifier":
        labels = document["labels"]
        host = tensors["classes"] if "classes" in tensors else np.asarray(labels["classes"])
        binarizer = LabelBinarizer()
        binarizer.classes_, binarizer.y_type_, binarizer.sparse_input_ = (
            host,
            labels["y_type"],
            False,
        )
        model._label_binarizer = binarizer
        on_backend = is_array_api_obj(model.coefs_[0]) and not isinstance(
            model.coefs_[0], np.ndarray
        )
        numeric = on_backend and host.dtype.kind in "biuf"
        model.classes_ = place(host, weights=False) if numeric else host
    return model
