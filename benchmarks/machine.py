"""What machine the benchmark ran on, and its float32 GEMM rate measured in the same run."""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from importlib import metadata

import numpy as np
from peers import blas_threads

# (m, k, n): a (m, k) @ (k, n) product. The first is wide's, the second mnist-shape's first layer.
GEMM_SHAPES = [(512, 1024, 4096), (128, 784, 256)]


def _median_seconds(call, calls: int) -> float:
    call()
    call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def numpy_gemm_gflops(m: int, k: int, n: int, threads: int, calls: int) -> float:
    """Median GFLOP/s of a float32 np.matmul, 2*m*k*n flops a call, into a preallocated out."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    with blas_threads(threads):
        seconds = _median_seconds(lambda: np.matmul(a, b, out=out), calls)
    return 2.0 * m * k * n / seconds / 1e9


def torch_gemm_gflops(m: int, k: int, n: int, threads: int, calls: int) -> float:
    """Median GFLOP/s of a float32 torch.mm into a preallocated out."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=generator)
    b = torch.randn(k, n, generator=generator)
    out = torch.empty(m, n)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seconds = _median_seconds(lambda: torch.mm(a, b, out=out), calls)
    finally:
        torch.set_num_threads(before)
    return 2.0 * m * k * n / seconds / 1e9


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("densekit", "numpy", "torch", "scikit-learn", "onnx", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def blas_info() -> list[dict]:
    """The thread pools NumPy and the peers loaded: BLAS library, version, threading layer,
    and the kernel family OpenBLAS chose for this CPU (``architecture``)."""
    from threadpoolctl import threadpool_info

    keys = (
        "user_api", "internal_api", "version", "architecture", "num_threads",
        "threading_layer", "filepath",
    )  # fmt: skip
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]


# Set on some machines of this project's workplace (older OpenBLAS builds crash or compute
# wrong results on their CPUs without them); a user's machine does not set them, and they
# pin a current OpenBLAS to an older, slower kernel. A benchmark measures without them.
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNPINNED = "DENSEKIT_BENCH_UNPINNED"  # what the re-executed run was started without


def run_unpinned(keep: bool) -> None:
    """Re-execute this process without ``OPENBLAS_PINS`` unless ``keep`` (never returns then).

    OpenBLAS reads them when it is loaded, so they must be gone before NumPy is imported
    by the process that measures; the removed values are passed on for the report.
    """
    found = {name: os.environ[name] for name in OPENBLAS_PINS if name in os.environ}
    if keep or not found:
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_PINS}
    env[UNPINNED] = ",".join(f"{k}={v}" for k, v in found.items())
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def openblas_environment() -> str:
    """How this run treated ``OPENBLAS_PINS``, in words for the report."""
    pinned = [f"{k}={os.environ[k]}" for k in OPENBLAS_PINS if k in os.environ]
    if pinned:
        return "kept: " + ", ".join(pinned) + " (run with --keep-openblas-env)"
    removed = os.environ.get(UNPINNED)
    if removed:
        return f"unset for this run (the environment had {removed})"
    return "none set"


def describe() -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions(),
    }
