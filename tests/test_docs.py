"""The documentation's machinery: the per-backend example harness, the pages, the API
reference's coverage, :mod:`xpnet.plot`, ``train --plot`` and the figure script.

The examples of the pages themselves are collected from ``docs/`` by ``docs/conftest.py``
(one test item per example and backend); this module checks that the harness really
fails on a wrong output and runs blocks only on their backends, and the rest.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import xpnet

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BACKENDS = xpnet.available_backends()


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the harness: docs/conftest.py ----------------------------------------------------------

PAGE = """\
# A page

```pycon
>>> import xpnet
>>> xp = xpnet.namespace(backend)
>>> xpnet.to_numpy(xp.reshape(xp.arange(8), (2, 2, 2)))
array([[[0, 1],
        [2, 3]],

       [[4, 5],
        [6, 7]]])
```

```pycon
>>> 1 + 1
3
```

<!-- only-on: torch -->

```pycon
>>> backend
'torch'
```

```python
assert backend in ("numpy", "torch")
```
"""


def _run_page(tmp_path: Path, text: str, backend: str) -> dict[int, str]:
    """Evaluate every example of ``text`` as the docs harness would: line -> outcome."""
    harness = _load(DOCS / "conftest.py", "xpnet_docs_harness")
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    sybil = harness._sybil(backend)
    document = sybil.parse(page)
    sybil.setup(document.namespace)
    outcomes = {}
    try:
        for example in document.examples():
            try:
                example.evaluate()
                outcomes[example.line] = "passed"
            except Exception as exc:
                outcomes[example.line] = type(exc).__name__
    finally:
        sybil.teardown(document.namespace)
    return outcomes


def test_harness_checks_outputs_and_runs_only_on_blocks_on_their_backend(tmp_path: Path) -> None:
    numpy_run = _run_page(tmp_path, PAGE, "numpy")
    # three lines of the first block and the wrong "1 + 1" (blank lines inside an output are
    # part of it); the torch-only block is not an example on numpy at all
    # the plain python block at line 26 is run as code
    expected = {4: "passed", 5: "passed", 6: "passed", 15: "SybilFailure", 26: "passed"}
    assert numpy_run == expected
    if "torch" in BACKENDS:
        torch_run = _run_page(tmp_path, PAGE, "torch")
        assert torch_run == {**expected, 22: "passed"}
    assert _run_page(tmp_path, PAGE, "jax")[26] == "AssertionError"


def test_harness_rejects_a_misplaced_or_unknown_only_on(tmp_path: Path) -> None:
    misplaced = "<!-- only-on: numpy -->\nsome prose\n```pycon\n>>> 1\n1\n```\n"
    with pytest.raises(ValueError, match="must be followed by a code block"):
        _run_page(tmp_path, misplaced, "numpy")
    with pytest.raises(ValueError, match="unknown backend"):
        _run_page(tmp_path, "<!-- only-on: tensorflow -->\n```pycon\n>>> 1\n1\n```\n", "numpy")


# --- the pages, the navigation and the API reference ----------------------------------------


def _nav_pages() -> set[str]:
    return set(re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))


def test_every_page_is_in_the_navigation_and_every_nav_entry_exists() -> None:
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == _nav_pages()


def test_the_pages_teach_with_one_code_path() -> None:
    """Every page with examples gets its namespace from ``backend``, the one injected name."""
    for page in DOCS.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        # scaling-out is about two engines by name (Dask arrays, JAX devices)
        if "```pycon" in text and page.name not in ("index.md", "scaling-out.md"):
            assert "xpnet.namespace(backend)" in text or "backend in " in text, page.name


def _reference_identifiers() -> set[str]:
    text = (DOCS / "reference.md").read_text(encoding="utf-8")
    found = set()
    for match in re.finditer(r"^::: ([\w.]+)\n((?:[ \t]+.*\n?)*)", text, re.M):
        found.add(match.group(1))
        for members in re.finditer(r"members: \[([^\]]*)\]", match.group(2)):
            found |= {f"{match.group(1)}.{m.strip()}" for m in members.group(1).split(",")}
    return found


def test_the_api_reference_documents_every_public_name() -> None:
    documented = _reference_identifiers()
    top_level = {f"xpnet.{name}" for name in xpnet.__all__ if name != "__version__"}
    assert top_level <= documented, sorted(top_level - documented)
    plot = importlib.import_module("xpnet.plot")
    for module in (xpnet.datasets, xpnet.optim, xpnet.gradcheck, xpnet.backends, plot):
        assert module.__name__ in documented
        for name in module.__all__:
            obj = getattr(module, name)
            exported = name in xpnet.__all__ and getattr(xpnet, name) is obj
            assert exported or f"{module.__name__}.{name}" in documented, (module.__name__, name)


# --- xpnet.plot ---------------------------------------------------------------------------


def _iris_run(name: str, epochs: int = 5) -> tuple[Any, Any, xpnet.Params, xpnet.History]:
    X, y = xpnet.datasets.load_iris_2d(backend=name, dtype="float64")
    params = xpnet.init_params(2, 10, 3, xp=name, seed=0, dtype="float64")
    params, history = xpnet.train(X, y, params, epochs=epochs, lr=0.5)
    return X, y, params, history


def _decision_pixels(name: str) -> np.ndarray:
    from xpnet.plot import new_figure, plot_decision_regions

    X, y, params, _ = _iris_run(name)
    figure, axes = new_figure(size=(3.0, 3.0))
    plot_decision_regions(axes[0, 0], X, y, params, resolution=120, title="iris")
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("name", BACKENDS)
def test_decision_regions_are_the_same_picture_on_every_backend(name: str) -> None:
    pytest.importorskip("matplotlib")
    reference, picture = _decision_pixels("numpy"), _decision_pixels(name)
    assert picture.shape == reference.shape
    assert np.array_equal(picture, reference)


@pytest.mark.parametrize("name", BACKENDS)
def test_save_training_plot_writes_an_image(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from xpnet.plot import save_training_plot

    X, y, params, history = _iris_run(name)
    path = save_training_plot(tmp_path / "run.png", X, y, params, history, title=name, dpi=50)
    assert path == tmp_path / "run.png"
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert height > 100
    assert width > 2 * height - 100  # two panels side by side
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # not blank
    assert save_training_plot(tmp_path / "run.svg", X, y, params, history).read_bytes()


def test_plot_functions_check_their_input() -> None:
    pytest.importorskip("matplotlib")
    from xpnet.plot import new_figure, plot_decision_regions, plot_loss_curves

    _, axes = new_figure()
    X3, y3 = xpnet.datasets.make_blobs(20, 3, 3)
    with pytest.raises(ValueError, match=r"^X: decision regions need 2 features"):
        plot_decision_regions(axes[0, 0], X3, y3, xpnet.init_params(3, 4, 3))
    with pytest.raises(ValueError, match=r"^metric: expected 'loss' or 'accuracy'"):
        plot_loss_curves(axes[0, 0], {"run": [1.0, 0.5]}, metric="lr")


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnet.plot import new_figure

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match=re.escape("pip install 'xpnet[plot]'")):
        new_figure()


def test_cli_train_plot_writes_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("matplotlib")
    from xpnet.cli import main

    path = tmp_path / "run.png"
    assert main(["train", "--epochs", "3", "--no-progress", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot      {path}" in capsys.readouterr().out


def test_make_figures_script_writes_every_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    script = _load(ROOT / "scripts" / "make_figures.py", "xpnet_make_figures")
    assert script.main(["--quick", "--out", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.glob("*.png")}
    expected = {
        "decision-regions.png",
        "loss-curves.png",
        "forward-timing.png",
        "sgd-variants.png",
        "optimizers.png",
        "train-plot.png",
        "estimator-loss-curves.png",
        "validation-curves.png",
    }
    assert written == expected
    committed = {p.name for p in (DOCS / "img").glob("*.png")}
    assert expected <= committed
    pages = " ".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    assert all(f"img/{name}" in pages for name in expected)


def test_make_figures_only_writes_the_chosen_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    script = _load(ROOT / "scripts" / "make_figures.py", "xpnet_make_figures")
    assert script.main(["--quick", "--only", "sgd", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.glob("*.png")} == {"sgd-variants.png"}
    with pytest.raises(SystemExit):
        script.main(["--only", "nonexistent", "--out", str(tmp_path)])


def test_the_examples_of_the_plot_docstrings_run() -> None:
    pytest.importorskip("matplotlib")
    import doctest

    plot = importlib.import_module("xpnet.plot")
    result = doctest.testmod(plot, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10
    assert result.failed == 0
