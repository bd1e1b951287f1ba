"""Metrics reported by ``fit`` and ``evaluate``: a value per sample, averaged.

Targets arrive prepared by the loss (integer labels already one-hot), so
accuracy is ``argmax(p) == argmax(y)``. ``"accuracy"`` resolves as in Keras:
binary accuracy for one output, categorical accuracy otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ArgumentError, ArgumentTypeError
from .losses import MeanAbsoluteError, MeanSquaredError


@dataclass(frozen=True)
class Metric:
    name: str
    per_sample: Callable  # (xp, y, p) -> (n,)


def _binary_accuracy(threshold: float) -> Callable:
    def per_sample(xp, y, p):
        return ((p > threshold) == (y > 0.5)).mean(axis=1)

    return per_sample


def _categorical_accuracy(xp, y, p):
    return (p.argmax(axis=1) == y.argmax(axis=1)).astype(p.dtype)


NAMES = ("accuracy", "binary_accuracy", "categorical_accuracy", "mse", "mae")
_ALIASES = {
    "acc": "accuracy",
    "sparse_categorical_accuracy": "categorical_accuracy",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
}


def get(identifier: str, n_outputs: int, loss_name: str, from_logits: bool = False) -> Metric:
    """Resolve a metric name for a model with ``n_outputs`` trained with ``loss_name``."""
    if not isinstance(identifier, str):
        raise ArgumentTypeError(f"metrics must be names, got {type(identifier).__name__}")
    name = _ALIASES.get(identifier, identifier)
    threshold = 0.0 if from_logits else 0.5
    if name == "accuracy":
        binary = n_outputs == 1 or loss_name == "binary_crossentropy"
        return Metric(identifier, _binary_accuracy(threshold) if binary else _categorical_accuracy)
    if name == "binary_accuracy":
        return Metric(identifier, _binary_accuracy(threshold))
    if name == "categorical_accuracy":
        return Metric(identifier, _categorical_accuracy)
    if name == "mse":  # the same per-sample values as the losses of those names
        return Metric(identifier, MeanSquaredError().per_sample)
    if name == "mae":
        return Metric(identifier, MeanAbsoluteError().per_sample)
    raise ArgumentError(f"unknown metric {identifier!r}; expected one of {', '.join(NAMES)}")
