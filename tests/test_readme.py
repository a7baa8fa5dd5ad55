"""README.md as a user would paste it: its Python blocks in a fresh interpreter, in order.

Each run is a new process in an empty folder (the blocks save files), so nothing from the
suite (JAX's x64 switch, which the suite turns on, imported modules) helps the README pass.
The sentence under the first example promises that changing the backend's name is all it
takes (plus JAX's float64 switch): the first example runs once per backend to hold it to that.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xpnet
from xpnet._optional import install_hint

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
X64 = 'import jax\njax.config.update("jax_enable_x64", True)\n'


def _blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def _run(code: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{code}\n---\n{result.stdout}\n{result.stderr[-4000:]}"


def _needs(*backends: str) -> None:
    for name in backends:
        if name not in xpnet.available_backends():
            pytest.skip(f"README example on {name!r}: not installed ({install_hint(name)})")


def test_the_readme_has_python_blocks() -> None:
    blocks = _blocks()
    assert len(blocks) >= 3
    assert 'backend="torch"' in blocks[0]


def test_every_python_block_runs_as_written(tmp_path: Path) -> None:
    code = "\n".join(_blocks())
    _needs(*(name for name in ("torch", "jax") if f'"{name}"' in code))
    _run(code, tmp_path)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict", "jax"])
def test_the_first_example_on_each_backend(backend: str, tmp_path: Path) -> None:
    """'Change "torch" to ... and nothing else changes' (JAX: plus its float64 switch)."""
    _needs(backend)
    first = _blocks()[0]
    code = first.replace('"torch"', f'"{backend}"')
    assert code != first
    _run((X64 if backend == "jax" else "") + code, tmp_path)


def test_autograd_needs_torch_or_jax_as_the_readme_says(tmp_path: Path) -> None:
    code = _blocks()[0].replace('"torch"', '"numpy"') + (
        "\ntry:\n    xpnet.autograd_grad(X, y, params)\nexcept TypeError as exc:\n"
        "    assert 'automatic differentiation' in str(exc), exc\nelse:\n"
        "    raise AssertionError('autograd_grad on numpy did not raise')\n"
    )
    _run(code, tmp_path)


def _command_line_block() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Command line") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_command_line_block_runs_as_written(tmp_path: Path) -> None:
    """Each command of README's "Command line" block, in a folder holding the data.csv and
    new.csv it names (iris with an id column and the label 'label')."""
    import shlex

    from sklearn.datasets import load_iris

    commands = [shlex.split(line, comments=True) for line in _command_line_block()]
    needed = {"jax", "torch"} & {word for command in commands for word in command}
    _needs(*sorted(needed))
    if not importlib.util.find_spec("ndonnx"):
        pytest.skip("the export command needs ndonnx (pip install 'xpnet[onnx]')")
    iris = load_iris()
    header = "id," + ",".join(f"f{i}" for i in range(4))
    rows = [f"{i}," + ",".join(map(str, x)) for i, x in enumerate(iris.data)]
    labelled = "".join(f"{r},{iris.target_names[t]}\n" for r, t in zip(rows, iris.target))
    (tmp_path / "data.csv").write_text(header + ",label\n" + labelled, encoding="utf-8")
    (tmp_path / "new.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    for command in commands:
        assert command[:3] == ["python", "-m", "xpnet"], command
        result = subprocess.run(
            [sys.executable, *command[1:]], cwd=tmp_path, capture_output=True, text=True,
            timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    assert (tmp_path / "predictions.csv").exists()
    assert (tmp_path / "model.onnx").exists()
