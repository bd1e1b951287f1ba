"""densekit: dense (fully connected) neural networks in plain NumPy."""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    errors,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    regularizers,
    schedules,
    threads,
)
from .gradcheck import check_gradients
from .io import load_model
from .model import Sequential
from .threads import get_threads, set_threads

optimizers.schedules = schedules

__version__ = "0.1.0"

__all__ = [
    "Sequential",
    "load_model",
    "check_gradients",
    "set_threads",
    "get_threads",
    "activations",
    "callbacks",
    "errors",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "schedules",
    "threads",
    "__version__",
]
