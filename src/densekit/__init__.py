"""densekit: dense (fully connected) neural networks in plain NumPy."""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    checkpoint,
    errors,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    prune,
    quantize,
    regularizers,
    schedules,
)
from .compression_report import compression_report
from .gradcheck import check_gradients
from .io import load_model
from .model import Sequential

optimizers.schedules = schedules

__version__ = "0.1.0"

__all__ = [
    "Sequential",
    "load_model",
    "check_gradients",
    "compression_report",
    "prune",
    "quantize",
    "activations",
    "callbacks",
    "checkpoint",
    "errors",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
    "__version__",
]
