"""densekit: dense (fully connected) neural networks in plain NumPy."""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    checkpoint,
    errors,
    explain,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    regularizers,
    schedules,
    tune,
)
from .gradcheck import check_gradients
from .io import load_model
from .model import Sequential
from .report import report

optimizers.schedules = schedules

__version__ = "0.1.0"

__all__ = [
    "Sequential",
    "load_model",
    "check_gradients",
    "report",
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
    "tune",
    "__version__",
]
