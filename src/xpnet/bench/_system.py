"""What the benchmarks ran on: versions, CPU, BLAS libraries (threadpoolctl), environment."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from typing import Any

from ..backends import available_backends

_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def blas_report() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS / OpenMP libraries loaded in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def numpy_blas_kernel() -> str:
    """The BLAS library and kernel NumPy's matmul runs on, e.g. ``openblas 0.3.31 (SkylakeX)``."""
    import numpy as np

    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    for info in blas_report():
        prefix = str(info.get("prefix") or "")
        if info.get("user_api") == "blas" and "64_" in prefix:
            return f"{info['internal_api']} {info['version']} ({info.get('architecture')})"
    blas = [i for i in blas_report() if i.get("user_api") == "blas"]
    if blas:
        info = blas[-1]
        return f"{info['internal_api']} {info['version']} ({info.get('architecture')})"
    return "unknown"


def backend_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for module in ("numpy", "array_api_strict", "torch", "jax", "jaxlib", "sklearn"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        versions[module] = str(getattr(mod, "__version__", "?"))
    return versions


def backend_kernels() -> dict[str, str]:
    """Which math library each backend's float32 matmul uses on the CPU."""
    kernels = {"numpy": numpy_blas_kernel()}
    if "torch" in available_backends():
        import torch

        mkl = torch.backends.mkl.is_available()
        kernels["torch"] = (
            f"{'MKL' if mkl else 'no MKL'}, mkldnn={torch.backends.mkldnn.is_available()}, "
            f"{torch.get_num_threads()} threads"
        )
    if "jax" in available_backends():
        import jax

        kernels["jax"] = f"XLA {jax.default_backend()} ({len(jax.devices())} device(s))"
    if "array_api_strict" in available_backends():
        kernels["array_api_strict"] = "wraps NumPy: " + kernels["numpy"]
    return kernels


def system_report(argv: list[str]) -> dict[str, Any]:
    uname = platform.uname()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m xpnet bench " + " ".join(argv),
        "python": sys.version.split()[0],
        "platform": f"{uname.system} {uname.release} {uname.version} {uname.machine}",
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_average(),
        "versions": backend_versions(),
        "kernels": backend_kernels(),
        "blas": blas_report(),
        "environment": {name: os.environ.get(name) for name in _ENV_VARS},
    }
