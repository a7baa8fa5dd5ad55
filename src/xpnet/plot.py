"""Pictures of a network: decision regions on the plane, loss curves, forward timings.

matplotlib is optional (``pip install "xpnet[plot]"``) and imported only when a
function here is called. Figures are drawn on :class:`matplotlib.figure.Figure`
objects with the Agg canvas: ``pyplot`` is never imported, so neither the
matplotlib backend of the caller nor any global figure state is touched.

Every function takes arrays of any backend; they are brought to the host with
:func:`xpnet.to_numpy` only to be drawn. The predictions on the plotting grid
are computed on the backend (and device) of the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._compat import device
from ._optional import optional_import
from ._typing import Array, Params, named_leaves
from .backends import asarray, backend_name, to_numpy
from .mlp import predict
from .training import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "new_figure",
    "plot_decision_regions",
    "plot_forward_timings",
    "plot_loss_curves",
    "save_training_plot",
]


#: Colours of the classes (and of the backends in overlaid curves): matplotlib's tab10.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _require_matplotlib() -> Any:
    """Import matplotlib, or say how to install it."""
    return optional_import("matplotlib", purpose="xpnet.plot")


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (5.0, 4.0)
) -> tuple[Figure, np.ndarray]:
    """A figure with an Agg canvas and a grid of axes, without touching ``pyplot``.

    Parameters
    ----------
    nrows, ncols : int
        Rows and columns of subplots.
    size : (float, float)
        Width and height of **one** subplot, in inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Save it with ``figure.savefig(path)``.
    axes : numpy.ndarray of matplotlib.axes.Axes, of shape (nrows, ncols)

    Examples
    --------
    >>> from xpnet.plot import new_figure
    >>> figure, axes = new_figure(1, 2)
    >>> axes.shape
    (1, 2)
    """
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False)
    return figure, axes


def _plane_grid(X: np.ndarray, resolution: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    return np.meshgrid(xs, ys)


def plot_decision_regions(
    ax: Axes,
    X: Array,
    y: Array,
    params: Params,
    /,
    *,
    resolution: int = 300,
    margin: float = 0.5,
    title: str | None = None,
    activation: str = "relu",
) -> Axes:
    """Colour the plane by the class the network predicts; scatter the samples on top.

    The grid of points is built on the host, moved to the backend, dtype and
    device of ``params``, and classified there with :func:`xpnet.predict`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    X : array of shape (n, 2)
        Inputs with two features (the lecture's iris plane).
    y : array of int of shape (n,)
        Labels, used to colour the samples.
    params : Params or tuple of Layer
        A trained (or untrained) network with 2 inputs.
    resolution : int
        Grid points along each axis.
    margin : float
        How far the grid extends beyond the samples.
    title : str, optional
        Title of the axes.
    activation : str
        The network's hidden activation (see :func:`xpnet.forward`).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> import xpnet
    >>> from xpnet.plot import new_figure, plot_decision_regions
    >>> X, y = xpnet.datasets.load_iris_2d(backend="numpy")
    >>> params = xpnet.init_params(2, 10, 3, seed=0)
    >>> figure, axes = new_figure()
    >>> ax = plot_decision_regions(axes[0, 0], X, y, params, resolution=50)
    >>> ax.get_xlabel()
    'sepal length (centred)'
    """
    X_host, y_host = to_numpy(X), to_numpy(y)
    if X_host.ndim != 2 or X_host.shape[1] != 2:
        raise ValueError(f"X: decision regions need 2 features, got shape {X_host.shape}")
    xx, yy = _plane_grid(X_host, resolution, margin)
    arrays = named_leaves(params)[0]
    W1 = arrays[0]
    grid = asarray(
        np.column_stack([xx.ravel(), yy.ravel()]),
        backend=backend_name(W1),
        dtype=W1.dtype,
        device=device(W1),
    )
    regions = to_numpy(predict(grid, params, activation=activation)).reshape(xx.shape)
    n_classes = int(arrays[-2].shape[1])
    colors = [COLORS[k % len(COLORS)] for k in range(n_classes)]
    ax.contourf(xx, yy, regions, levels=np.arange(n_classes + 1) - 0.5, colors=colors, alpha=0.25)
    ax.contour(xx, yy, regions, levels=np.arange(1, n_classes) - 0.5, colors="k", linewidths=0.6)
    for k in range(n_classes):
        mine = y_host == k
        ax.scatter(
            X_host[mine, 0],
            X_host[mine, 1],
            s=18,
            c=colors[k],
            edgecolors="k",
            linewidths=0.4,
            label=f"class {k}",
        )
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel("sepal length (centred)")
    ax.set_ylabel("sepal width (centred)")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_loss_curves(
    ax: Axes,
    histories: Mapping[str, History | Sequence[float]],
    /,
    *,
    metric: str = "loss",
    title: str | None = None,
) -> Axes:
    """Overlay per-epoch curves, one per label (a backend, a batch size, a schedule...).

    Curves that coincide stay visible: each gets its own dash pattern and marker.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    histories : mapping of str to History or sequence of float
        Label -> the :class:`~xpnet.History` that :func:`xpnet.train` returned,
        or the per-epoch values themselves.
    metric : {"loss", "accuracy"}
        Which record of a History to draw.
    title : str, optional
        Title of the axes.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> from xpnet.plot import new_figure, plot_loss_curves
    >>> figure, axes = new_figure()
    >>> ax = plot_loss_curves(axes[0, 0], {"numpy": [1.2, 0.8, 0.6]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['numpy']
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric: expected 'loss' or 'accuracy', got {metric!r}")
    for i, (label, history) in enumerate(histories.items()):
        values = getattr(history, metric) if isinstance(history, History) else history
        epochs = np.arange(1, len(values) + 1)
        ax.plot(
            epochs,
            values,
            label=label,
            color=COLORS[i % len(COLORS)],
            linestyle=_LINESTYLES[i % len(_LINESTYLES)],
            marker=_MARKERS[i % len(_MARKERS)],
            markevery=(i, max(len(values) // 8, 1)) if len(values) > 1 else None,
            markersize=5,
            linewidth=1.6,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy" if metric == "loss" else "training accuracy")
    ax.grid(alpha=0.3)
    if histories:
        ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_forward_timings(
    ax: Axes,
    timings: Mapping[str, Mapping[str, float]],
    /,
    *,
    title: str | None = None,
) -> Axes:
    """Grouped bars on a log scale: for each backend, the seconds of each way of computing.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    timings : mapping of str to mapping of str to float
        Backend -> {method name -> seconds}, e.g.
        ``{"numpy": {"forward": 2e-5, "forward_rowwise": 1e-3}}``.
    title : str, optional
        Title of the axes.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> from xpnet.plot import new_figure, plot_forward_timings
    >>> figure, axes = new_figure()
    >>> ax = plot_forward_timings(axes[0, 0], {"numpy": {"forward": 2e-5, "rowwise": 1e-3}})
    >>> ax.get_yscale()
    'log'
    """
    backends = list(timings)
    methods: list[str] = []
    for per_backend in timings.values():
        methods += [m for m in per_backend if m not in methods]
    width = 0.8 / max(len(methods), 1)
    for j, method in enumerate(methods):
        positions = [i + (j - (len(methods) - 1) / 2) * width for i in range(len(backends))]
        seconds = [timings[b].get(method, np.nan) for b in backends]
        bars = ax.bar(positions, seconds, width, label=method, color=COLORS[j % len(COLORS)])
        ax.bar_label(bars, labels=[_duration(s) for s in seconds], fontsize=8, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(range(len(backends)), backends)
    ax.set_ylabel("seconds per call (log scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax.margins(y=0.15)
    if title is not None:
        ax.set_title(title)
    return ax


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def save_training_plot(
    path: str | Path,
    X: Array,
    y: Array,
    params: Params,
    history: History,
    /,
    *,
    title: str | None = None,
    dpi: int = 120,
    activation: str = "relu",
) -> Path:
    """Save one figure of a training run: the decision regions and the loss curve.

    This is what ``python -m xpnet train --plot FILE`` writes. The format follows
    the file's extension (``.png``, ``.svg``, ``.pdf``, ...).

    Parameters
    ----------
    path : str or Path
        Where to write the figure.
    X : array of shape (n, 2)
        The training inputs (two features).
    y : array of int of shape (n,)
        The training labels.
    params : Params or tuple of Layer
        The trained parameters.
    history : History
        What :func:`xpnet.train` returned with them.
    title : str, optional
        A title for the figure, e.g. the backend's name.
    dpi : int
        Resolution of raster formats.
    activation : str
        The network's hidden activation.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, tempfile, xpnet
    >>> from xpnet.plot import save_training_plot
    >>> X, y = xpnet.datasets.load_iris_2d(backend="numpy")
    >>> params, history = xpnet.train(X, y, xpnet.init_params(2, 10, 3), epochs=20, lr=0.5)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_training_plot(pathlib.Path(tmp, "run.png"), X, y, params, history)
    ...     out.read_bytes()[:4]
    b'\\x89PNG'
    """
    figure, axes = new_figure(1, 2, size=(5.0, 4.2))
    y_host = to_numpy(y)
    predicted = to_numpy(predict(X, params, activation=activation))
    accuracy = float(np.mean(predicted == y_host)) if y_host.size else float("nan")
    plot_decision_regions(
        axes[0, 0],
        X,
        y,
        params,
        title=f"decision regions (training accuracy {accuracy:.1%})",
        activation=activation,
    )
    axes[0, 0].legend(loc="upper right", fontsize=8)
    final = f" (last epoch {history.loss[-1]:.4f})" if len(history) else ""
    plot_loss_curves(axes[0, 1], {"training loss": history.loss}, title=f"loss per epoch{final}")
    if title is not None:
        figure.suptitle(title)
    out = Path(path)
    figure.savefig(out, dpi=dpi)
    return out
