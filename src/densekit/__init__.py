"""densekit: dense (fully connected) neural networks in plain NumPy."""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    errors,
    explain,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    prune,
    quantize,
    regularizers,
    schedules,
    tune,
)
from .backend import threads
from .backend.threads import get_threads, set_threads
from .gradcheck import check_gradients
from .interop import from_torch  # and so registers Sequential.to_torch's converter
from .model import Sequential
from .report.compression import compression_report
from .report.html import report
from .serialization import checkpoint
from .serialization.model_file import load_model
from .version import __version__

optimizers.schedules = schedules

# optional extras, imported on first use so `import densekit` needs only numpy
_LAZY = {"export_onnx": ".onnx"}


# modules of optional extras, reachable as dk.distributed, dk.dask, ... on first use
_LAZY_MODULES = ("distributed", "dask", "sklearn", "onnx")


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'densekit' has no attribute {name!r}")


__all__ = [
    "Sequential",
    "load_model",
    "models",
    "check_gradients",
    "set_threads",
    "get_threads",
    "export_onnx",
    "from_torch",
    "report",
    "compression_report",
    "prune",
    "quantize",
    "activations",
    "callbacks",
    "checkpoint",
    "errors",
    "explain",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
    "threads",
    "tune",
    "__version__",
]
