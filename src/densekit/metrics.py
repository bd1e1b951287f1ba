"""Metrics reported by ``fit`` and ``evaluate``: a value per sample, averaged.

Targets arrive prepared by the loss (integer labels already one-hot), so
accuracy is ``argmax(p) == argmax(y)``. ``"accuracy"`` resolves as in Keras:
binary accuracy for one output, categorical accuracy otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ArgumentTypeError
from .losses import MeanAbsoluteError, MeanSquaredError
from .registry import Registry


@dataclass(frozen=True)
class Metric:
    """A metric as ``fit`` and ``evaluate`` report it.

    Parameters
    ----------
    name
        The name the user gave (``"acc"`` stays ``"acc"`` in the history).
    per_sample
        ``per_sample(xp, y, p) -> (n,)``: the value of each sample, averaged over the batch.
    """

    name: str
    per_sample: Callable  # (xp, y, p) -> (n,)


def _binary_accuracy(threshold: float) -> Callable:
    def per_sample(xp, y, p):
        return ((p > threshold) == (y > 0.5)).mean(axis=1)

    return per_sample


def _categorical_accuracy(xp, y, p):
    return (p.argmax(axis=1) == y.argmax(axis=1)).astype(p.dtype)


#: each part gives the per-sample function for a model: part(n_outputs, loss_name, threshold)
METRICS: Registry[Callable] = Registry("metric")


@METRICS.register("accuracy", aliases=("acc",))
def _accuracy(n_outputs: int, loss_name: str, threshold: float) -> Callable:
    binary = n_outputs == 1 or loss_name == "binary_crossentropy"
    return _binary_accuracy(threshold) if binary else _categorical_accuracy


@METRICS.register("binary_accuracy")
def _binary(n_outputs: int, loss_name: str, threshold: float) -> Callable:
    return _binary_accuracy(threshold)


@METRICS.register("categorical_accuracy", aliases=("sparse_categorical_accuracy",))
def _categorical(n_outputs: int, loss_name: str, threshold: float) -> Callable:
    return _categorical_accuracy


# mse and mae: the same per-sample values as the losses of those names
@METRICS.register("mse", aliases=("mean_squared_error",))
def _mse(n_outputs: int, loss_name: str, threshold: float) -> Callable:
    return MeanSquaredError().per_sample


@METRICS.register("mae", aliases=("mean_absolute_error",))
def _mae(n_outputs: int, loss_name: str, threshold: float) -> Callable:
    return MeanAbsoluteError().per_sample


NAMES = METRICS.names


def get(identifier: str, n_outputs: int, loss_name: str, from_logits: bool = False) -> Metric:
    """Resolve a metric name for a model with ``n_outputs`` trained with ``loss_name``.

    Parameters
    ----------
    identifier
        A registered name or alias (``"acc"``, ``"mean_squared_error"``).
    n_outputs
        The model's output width; with ``loss_name`` it decides what ``"accuracy"`` is
        (binary for one output or binary cross-entropy, categorical otherwise).
    loss_name
        The compiled loss's name.
    from_logits
        True when the outputs are logits, so binary accuracy thresholds at 0, not 0.5.

    Returns
    -------
    Metric
        Named as given.

    Raises
    ------
    ArgumentError
        If the name is unknown (the message lists the known ones).
    ArgumentTypeError
        If ``identifier`` is not a string.
    """
    if not isinstance(identifier, str):
        raise ArgumentTypeError(f"metrics must be names, got {type(identifier).__name__}")
    threshold = 0.0 if from_logits else 0.5
    return Metric(identifier, METRICS.get(identifier)(n_outputs, loss_name, threshold))
