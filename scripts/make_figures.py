"""Regenerate the pictures of the documentation from the library itself.

    python scripts/make_figures.py             # writes docs/img/*.png (about a minute)
    python scripts/make_figures.py --quick     # fewer epochs and repeats, for a smoke test
    python scripts/make_figures.py --out DIR   # somewhere else
    python scripts/make_figures.py --only optimizers   # one figure (names: see --help)

Every installed backend is trained from the same seed in float64 (JAX with x64 on), so the
per-backend panels and curves should coincide; the script prints how far they are apart.
Needs matplotlib (``pip install "xpnet[plot]"``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import xpnet
from xpnet.plot import new_figure, plot_decision_regions, plot_forward_timings, plot_loss_curves

ROOT = Path(__file__).resolve().parent.parent
LABELS = {
    "numpy": "NumPy",
    "array_api_strict": "array-api-strict",
    "torch": "PyTorch",
    "jax": "JAX",
}

# The run shown on the training page: iris, 2-10-3, He init, minibatches of 16.
EPOCHS, LR, BATCH_SIZE, SEED = 200, 0.1, 16, 0
# What --only chooses from: the figures, in the order they are made.
FIGURES = ("backends", "timing", "sgd", "optimizers", "cli", "estimators")


def _enable_jax_x64() -> None:
    if "jax" in xpnet.available_backends():
        import jax

        jax.config.update("jax_enable_x64", True)


def _train(
    backend: str, *, epochs: int, lr: Any, batch_size: int | None
) -> tuple[Any, Any, xpnet.Params, xpnet.History]:
    X, y = xpnet.datasets.load_iris_2d(backend=backend, dtype="float64")
    params = xpnet.init_params(2, 10, 3, xp=backend, seed=SEED, dtype="float64")
    params, history = xpnet.train(
        X, y, params, epochs=epochs, lr=lr, batch_size=batch_size, seed=SEED
    )
    return X, y, params, history


def _accuracy(X: Any, y: Any, params: xpnet.Params) -> float:
    return float(np.mean(xpnet.to_numpy(xpnet.predict(X, params)) == xpnet.to_numpy(y)))


def backends_figures(out: Path, backends: Sequence[str], *, epochs: int) -> None:
    """decision-regions.png (one panel per backend) and loss-curves.png (overlaid)."""
    runs = {b: _train(b, epochs=epochs, lr=LR, batch_size=BATCH_SIZE) for b in backends}
    figure, axes = new_figure(1, len(backends), size=(4.2, 4.0))
    for ax, (backend, (X, y, params, _)) in zip(axes[0], runs.items()):
        plot_decision_regions(
            ax,
            X,
            y,
            params,
            title=f"{LABELS[backend]}: accuracy {_accuracy(X, y, params):.1%}",
        )
    axes[0, 0].legend(loc="upper right", fontsize=8)
    figure.suptitle(
        f"Iris decision regions after {epochs} epochs of SGD (batch {BATCH_SIZE}, lr {LR}, "
        f"seed {SEED}, float64): one code path, every backend"
    )
    figure.savefig(out / "decision-regions.png", dpi=100)

    reference = runs[backends[0]]
    gaps = {
        b: max(abs(a - r) for a, r in zip(run[3].loss, reference[3].loss))
        for b, run in runs.items()
    }
    params_gap = {b: xpnet.max_relative_error(run[2], reference[2]) for b, run in runs.items()}
    figure, axes = new_figure(1, 1, size=(7.0, 4.2))
    plot_loss_curves(
        axes[0, 0],
        {LABELS[b]: run[3] for b, run in runs.items()},
        title="Training loss on iris, every backend from one seed (the curves coincide)",
    )
    lines = [f"largest gap to {LABELS[backends[0]]}:"] + [
        f"{LABELS[b]}: loss {gaps[b]:.0e}, parameters {params_gap[b]:.0e}" for b in backends[1:]
    ]
    axes[0, 0].text(
        0.97,
        0.55,
        "\n".join(lines),
        transform=axes[0, 0].transAxes,
        ha="right",
        va="center",
        fontsize=8,
        family="monospace",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"},
    )
    figure.savefig(out / "loss-curves.png", dpi=100)
    for b in backends:
        print(
            f"  {b:17s} final loss {runs[b][3].loss[-1]:.12f}  "
            f"accuracy {_accuracy(*runs[b][:3]):.3f}  "
            f"max |loss - {backends[0]}| {gaps[b]:.1e}  params rel. diff {params_gap[b]:.1e}"
        )


def _best_seconds(call: Callable[[], Any], *, number: int, repeat: int) -> float:
    """Seconds per call: the minimum over ``repeat`` runs of ``number`` calls each.

    The minimum, not the mean or the median: whatever else the machine does (other
    processes, interrupts, cold caches) can only add time to a run, so the fastest run
    is the closest to the cost of the call itself (the timeit module's advice). One
    warm-up call first leaves out first-call costs (imports, JAX compilation). The
    figure's title says "best of ``repeat``": this minimum.
    """
    call()
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number


def timing_figure(out: Path, backends: Sequence[str], *, repeat: int) -> None:
    """forward-timing.png: vectorized forward against the row-by-row loop, per backend.

    Each backend's label carries its ratio, loop time / vectorized time; the title carries
    the date and the machine, since the absolute times depend on both.
    """
    timings: dict[str, dict[str, float]] = {}
    for backend in backends:
        X, _ = xpnet.datasets.load_iris_2d(backend=backend, dtype="float64")
        params = xpnet.init_params(2, 10, 3, xp=backend, init="lecture", dtype="float64")

        def vectorized(X: Any = X, params: xpnet.Params = params) -> Any:
            return _block(xpnet.forward(X, params))

        def rowwise(X: Any = X, params: xpnet.Params = params) -> Any:
            return _block(xpnet.forward_rowwise(X, params))

        seconds = {
            "forward (vectorized)": _best_seconds(vectorized, number=20, repeat=repeat),
            "forward_rowwise (loop)": _best_seconds(rowwise, number=2, repeat=repeat),
        }
        ratio = seconds["forward_rowwise (loop)"] / seconds["forward (vectorized)"]
        timings[f"{LABELS[backend]}\nloop: {ratio:.0f}x slower"] = seconds
        print(
            f"  {backend:17s} "
            + "  ".join(f"{k} {v * 1e6:9.1f} µs" for k, v in seconds.items())
            + f"  loop / vectorized {ratio:.0f}x"
        )
    figure, axes = new_figure(1, 1, size=(7.5, 4.5))
    cpu = f"{os.cpu_count()}-core {platform.machine()} CPU"
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    plot_forward_timings(
        axes[0, 0],
        timings,
        title=(
            f"Forward pass on iris (150 x 2, 10 hidden, float64), best of {repeat}\n{today}, {cpu}"
        ),
    )
    figure.savefig(out / "forward-timing.png", dpi=100)


def _block(result: Any) -> Any:
    """Wait for asynchronous backends (JAX) so the time covers the computation."""
    for array in result:
        if hasattr(array, "block_until_ready"):
            array.block_until_ready()
    return result


def sgd_figure(out: Path, *, epochs: int) -> None:
    """sgd-variants.png: full batch, minibatch, single sample, decreasing schedule (NumPy)."""
    variants: dict[str, dict[str, Any]] = {
        "full batch, lr 0.5": {"lr": 0.5, "batch_size": None},
        "minibatch 16, lr 0.1": {"lr": 0.1, "batch_size": 16},
        "single sample, lr 0.02": {"lr": 0.02, "batch_size": 1},
        "single sample, lr 0.1 / (1 + 0.001 t)": {
            "lr": xpnet.inverse_time_lr(0.1, decay=1e-3),
            "batch_size": 1,
        },
    }
    histories = {
        name: _train("numpy", epochs=epochs, **options)[3] for name, options in variants.items()
    }
    figure, axes = new_figure(1, 2, size=(5.5, 4.2))
    plot_loss_curves(axes[0, 0], histories, title="Loss per epoch (NumPy; every backend agrees)")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("mean cross-entropy (log scale)")
    plot_loss_curves(
        axes[0, 1],
        {name: history.lr for name, history in histories.items()},
        title="Learning rate eta_t at the end of each epoch",
    )
    axes[0, 1].set_ylabel("eta_t (log scale)")
    axes[0, 1].set_yscale("log")
    axes[0, 1].get_legend().remove()  # same colours and styles as on the left
    figure.savefig(out / "sgd-variants.png", dpi=100)
    for name, history in histories.items():
        print(f"  {name:40s} loss {history.loss[0]:.3f} -> {history.loss[-1]:.3f}")


# The optimizers' comparison on the deeper-networks page: digits, 64-32-16-10, tanh, batch 32.
OPTIMIZER_SIZES, OPTIMIZER_BATCH, OPTIMIZER_EPOCHS = (64, 32, 16, 10), 32, 50


def optimizers_figure(out: Path, *, epochs: int) -> None:
    """optimizers.png: SGD, momentum, Nesterov and Adam on digits, loss and accuracy per epoch."""
    X, y = xpnet.datasets.load_digits(backend="numpy", dtype="float64")
    start = xpnet.init_layers(OPTIMIZER_SIZES, xp="numpy", seed=SEED, dtype="float64")
    optimizers: dict[str, xpnet.optim.SGD | xpnet.optim.Adam] = {
        "SGD, lr 0.01": xpnet.optim.SGD(0.01),
        "SGD, lr 0.1": xpnet.optim.SGD(0.1),
        "momentum 0.9, lr 0.01": xpnet.optim.SGD(0.01, momentum=0.9),
        "Nesterov 0.9, lr 0.01": xpnet.optim.SGD(0.01, momentum=0.9, nesterov=True),
        "Adam, lr 0.001": xpnet.optim.Adam(1e-3),
        "Adam, lr 0.01": xpnet.optim.Adam(1e-2),
    }
    histories = {}
    for name, optimizer in optimizers.items():
        _, histories[name] = xpnet.train(
            X,
            y,
            start,
            epochs=epochs,
            batch_size=OPTIMIZER_BATCH,
            seed=SEED,
            optimizer=optimizer,
            activation="tanh",
        )
    figure, axes = new_figure(1, 2, size=(5.5, 4.2))
    plot_loss_curves(axes[0, 0], histories, title="Training loss per epoch (log scale)")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("mean cross-entropy")
    plot_loss_curves(axes[0, 1], histories, metric="accuracy", title="Training accuracy")
    axes[0, 1].get_legend().remove()  # same colours and styles as on the left
    sizes = "-".join(map(str, OPTIMIZER_SIZES))
    figure.suptitle(
        f"Digits (1797 x 64), {sizes}, tanh, batch {OPTIMIZER_BATCH}, float64, "
        f"the same initial weights and batches for every optimizer"
    )
    figure.savefig(out / "optimizers.png", dpi=100)
    for name, history in histories.items():
        print(
            f"  {name:24s} loss {history.loss[0]:.3f} -> {history.loss[-1]:.4f}  "
            f"accuracy {history.accuracy[-1]:.3f}"
        )


def cli_figure(out: Path, *, epochs: int) -> None:
    """train-plot.png: exactly what `python -m xpnet train --plot FILE` writes."""
    from xpnet.cli import main

    argv = ["train", "--epochs", str(epochs), "--lr", str(LR), "--batch-size", str(BATCH_SIZE)]
    code = main([*argv, "--no-progress", "--plot", str(out / "train-plot.png")])
    if code != 0:
        raise SystemExit(f"python -m xpnet {' '.join(argv)} failed with exit code {code}")


def estimator_figure(out: Path, backends: Sequence[str], *, epochs: int) -> None:
    """estimator-loss-curves.png: scikit-learn's and xpnet's MLPClassifier, one fit each."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params: dict[str, Any] = dict(hidden_layer_sizes=(64,), max_iter=epochs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        curves = {"scikit-learn (NumPy)": SklearnMLP(**params).fit(X, y).loss_curve_}
        for backend in backends:
            data = xpnet.asarray(X, backend=backend, dtype="float64")
            labels = xpnet.asarray(y, backend=backend)
            fitted = xpnet.MLPClassifier(**params).fit(data, labels)
            curves[f"xpnet on {LABELS[backend]}"] = fitted.loss_curve_
    reference = np.asarray(curves["scikit-learn (NumPy)"])
    figure, axes = new_figure(1, 1, size=(6.5, 4.2))
    ax = axes[0, 0]
    for i, (name, curve) in enumerate(curves.items()):
        style = {"linewidth": 6, "alpha": 0.35} if i == 0 else {"linestyle": (0, (4, 2 + i))}
        ax.plot(np.arange(1, len(curve) + 1), curve, label=name, **style)
        if i:
            gap = np.max(np.abs(np.asarray(curve) - reference) / reference)
            print(f"  {name:28s} largest relative difference from scikit-learn {gap:.1e}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss_curve_ (log scale)")
    ax.set_title("MLPClassifier on digits: adam, 64 hidden units,\nrandom_state=0, float64")
    ax.legend()
    figure.savefig(out / "estimator-loss-curves.png", dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="output folder")
    parser.add_argument("--quick", action="store_true", help="few epochs and repeats")
    parser.add_argument(
        "--only", choices=FIGURES, action="append", help="only this figure (repeatable)"
    )
    args = parser.parse_args(argv)
    epochs, repeat = (10, 3) if args.quick else (EPOCHS, 15)
    args.out.mkdir(parents=True, exist_ok=True)
    _enable_jax_x64()
    # the in-memory backends of the lecture's pictures (Dask has its own, in scaling-out)
    backends = [b for b in xpnet.available_backends() if b in LABELS]
    print(f"backends: {', '.join(backends)}; writing to {args.out}")
    chosen = args.only or FIGURES
    if "backends" in chosen:
        print("decision-regions.png, loss-curves.png")
        backends_figures(args.out, backends, epochs=epochs)
    if "timing" in chosen:
        print("forward-timing.png")
        timing_figure(args.out, backends, repeat=repeat)
    if "sgd" in chosen:
        print("sgd-variants.png")
        sgd_figure(args.out, epochs=epochs)
    if "optimizers" in chosen:
        print("optimizers.png")
        optimizers_figure(args.out, epochs=OPTIMIZER_EPOCHS if not args.quick else epochs)
    if "cli" in chosen:
        print("train-plot.png (python -m xpnet train --plot)")
        cli_figure(args.out, epochs=epochs)
    if "estimators" in chosen:
        print("estimator-loss-curves.png")
        estimator_figure(args.out, backends, epochs=min(epochs, 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
