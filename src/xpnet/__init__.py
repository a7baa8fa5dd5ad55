"""xpnet: the lecture's one-hidden-layer network, written once against the Array API standard.

The same functions run on NumPy, PyTorch, JAX and array-api-strict arrays; the
backend is whatever the inputs are. See ``xpnet.available_backends()``.

Examples
--------
>>> import xpnet
>>> X, y = xpnet.datasets.load_iris_2d(backend="numpy")
>>> params = xpnet.init_params(2, 10, 3, xp=xpnet.namespace("numpy"), seed=0)
>>> params, history = xpnet.train(X, y, params, epochs=100, lr=0.5)
>>> history.accuracy[-1] > 0.7
True
"""

from typing import TYPE_CHECKING, Any

from . import datasets, gradcheck, losses, optim, testing
from .backends import (
    BACKENDS,
    asarray,
    available_backends,
    backend_name,
    jax_x64_enabled,
    namespace,
    to_numpy,
)
from .functional import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    logistic,
    one_hot,
    relu,
    relu_grad,
    softmax,
)
from .gradcheck import autograd_grad, max_relative_error, numerical_grad
from .io import load, save
from .losses import loss_grad, loss_value
from .mlp import (
    Layer,
    Params,
    backward,
    forward,
    forward_rowwise,
    init_layers,
    init_params,
    loss_and_grad,
    predict,
    predict_proba,
)
from .optim import constant_lr, inverse_time_lr, sgd_step
from .training import History, train

if TYPE_CHECKING:  # imported on first use (scikit-learn is slow to import): see __getattr__
    from .estimators import MLPClassifier, MLPRegressor
    from .export import export_onnx

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "History",
    "Layer",
    "MLPClassifier",
    "MLPRegressor",
    "Params",
    "__version__",
    "asarray",
    "autograd_grad",
    "available_backends",
    "backend_name",
    "backward",
    "constant_lr",
    "cross_entropy",
    "cross_entropy_grad",
    "datasets",
    "export_onnx",
    "forward",
    "forward_rowwise",
    "gradcheck",
    "init_layers",
    "init_params",
    "inverse_time_lr",
    "jax_x64_enabled",
    "load",
    "log_softmax",
    "logistic",
    "loss_and_grad",
    "loss_grad",
    "loss_value",
    "losses",
    "max_relative_error",
    "namespace",
    "numerical_grad",
    "one_hot",
    "optim",
    "predict",
    "predict_proba",
    "relu",
    "relu_grad",
    "save",
    "sgd_step",
    "softmax",
    "testing",
    "to_numpy",
    "train",
]


def __getattr__(name: str) -> Any:
    # The estimators import scikit-learn and SciPy: only when first used, so that
    # ``import xpnet`` stays light.
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import estimators

        return getattr(estimators, name)
    if name == "export_onnx":  # ndonnx and onnx are imported only when it is called
        from .export import export_onnx

        return export_onnx
    raise AttributeError(f"module 'xpnet' has no attribute {name!r}")
