"""The backend fixture and the Hypothesis profiles of the suite.

- ``backend``: a :class:`helpers.Backend`, parametrised over numpy, a read-only NumPy,
  array_api_strict, torch and jax (ids ``xp=numpy`` ...). A backend that is not
  installed is skipped, never failed.
- ``xp``: that backend's Array-API namespace (``xpnet.namespace``).
- ``to_xp``: moves NumPy data onto the backend (read-only arrays for
  ``numpy_readonly``, so an in-place write by the code under test raises).

JAX runs with ``jax_enable_x64`` on, so float64 means float64 on every backend, and with
two host devices (``cpu:0``, ``cpu:1``) for the device-mismatch checks.
Hypothesis: profile ``ci`` (deterministic, no deadline) when ``CI`` is set, else ``dev``.
"""

from __future__ import annotations

import os

# scikit-learn's Array API dispatch (used by tests/test_estimators.py) needs SciPy's own
# Array API support, which SciPy reads from this variable once, when it is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Backend, to_backend

if importlib.util.find_spec("jax") is not None:
    # Two host devices, so the "arrays on two devices" checks run on JAX too. XLA reads
    # this flag once, when JAX starts: if JAX was imported earlier, those tests skip.
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2".strip()
    import jax

    jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    max_examples=30,
)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def _backend_id(backend: Backend) -> str:
    return f"xp={backend.value}"


def require(backend: Backend) -> Backend:
    """Skip (never fail) when ``backend`` is not installed (asks xpnet's registry)."""
    if not backend.installed:
        pytest.skip(f"backend {backend.library!r} is not installed")
    return backend


@pytest.fixture(scope="session", params=list(Backend), ids=_backend_id)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend under test; skipped when its library is missing."""
    return require(request.param)


@pytest.fixture(scope="session")
def xp(backend: Backend) -> Any:
    """The Array-API namespace of the backend under test."""
    import xpnet

    return xpnet.namespace(backend.library)


@pytest.fixture(scope="session")
def to_xp(backend: Backend) -> Any:
    """``to_xp(numpy_data, dtype=None)``: the data on the backend under test."""
    return functools.partial(to_backend, backend=backend)


@pytest.fixture(scope="session", params=[Backend.TORCH, Backend.JAX], ids=_backend_id)
def autodiff_backend(request: pytest.FixtureRequest) -> Backend:
    """The backends with automatic differentiation (torch, jax)."""
    return require(request.param)
