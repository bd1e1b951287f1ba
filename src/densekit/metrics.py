"""Metrics reported by ``fit`` and ``evaluate``: a value per sample, averaged.

Targets arrive prepared by the loss (integer labels already one-hot), so
accuracy is ``argmax(p) == argmax(y)``. ``"accuracy"`` resolves as in Keras:
binary accuracy for one output, categorical accuracy otherwise.

``"precision"``, ``"recall"`` and ``"auc"`` are not means over samples but ratios of
counts over all rows (Keras' ``Precision``, ``Recall``, ``AUC``): each batch adds its
counts (true positives, predicted positives, ...; for AUC per threshold) and the value is
computed from the totals. Every output entry is one binary decision (micro-averaged, as
Keras does without ``class_id``), thresholded at 0.5 (0 for logits); AUC is the area
under the ROC curve by the trapezoid rule over Keras' 200 thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArgumentError, ArgumentTypeError
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
    #: for a ratio of counts (precision, recall, AUC): ``counts(xp, y, p) -> (k,)`` of a batch
    counts: Callable | None = None
    #: and the value from the counts summed over all batches
    result: Callable | None = None

    def batch_total(self, xp: Any, y: Any, p: Any) -> float | np.ndarray:
        """What one batch adds to the metric's total: the per-sample sum, or the counts.

        Parameters
        ----------
        xp
            The array module.
        y
        p
            Targets and outputs of the batch.

        Returns
        -------
        float or numpy.ndarray
            A host value to add to the running total.
        """
        if self.counts is None:
            return float(self.per_sample(xp, y, p).sum())
        counts = self.counts(xp, y, p)
        return np.asarray(counts.get() if hasattr(counts, "get") else counts, dtype=np.float64)

    def value(self, total: float | np.ndarray, rows: float) -> float:
        """The metric over ``rows`` rows from the sum of :meth:`batch_total`.

        Parameters
        ----------
        total
            The summed batch totals.
        rows
            The rows they are over.

        Returns
        -------
        float
        """
        return float(total / rows) if self.result is None else float(self.result(total))


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


@dataclass(frozen=True)
class CountMetric:
    """A metric that is a ratio of counts: what a :data:`METRICS` entry returns for one."""

    counts: Callable  # (xp, y, p) -> (k,)
    result: Callable  # summed counts -> float


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else 0.0


@METRICS.register("precision")
def _precision(n_outputs: int, loss_name: str, threshold: float) -> CountMetric:
    def counts(xp, y, p):  # true positives, predicted positives
        predicted = p > threshold
        return xp.stack([(predicted & (y > 0.5)).sum(), predicted.sum()])

    return CountMetric(counts, lambda total: _ratio(total[0], total[1]))


@METRICS.register("recall")
def _recall(n_outputs: int, loss_name: str, threshold: float) -> CountMetric:
    def counts(xp, y, p):  # true positives, actual positives
        actual = y > 0.5
        return xp.stack([((p > threshold) & actual).sum(), actual.sum()])

    return CountMetric(counts, lambda total: _ratio(total[0], total[1]))


#: Keras' AUC thresholds: 0 - eps, i / 199 for i in 1..198, 1 + eps
AUC_THRESHOLDS = np.concatenate([[-1e-7], np.arange(1, 199) / 199.0, [1.0 + 1e-7]])


@METRICS.register("auc")
def _auc(n_outputs: int, loss_name: str, threshold: float) -> CountMetric:
    logits = threshold == 0.0
    n = len(AUC_THRESHOLDS)

    def counts(xp, y, p):
        # entries above threshold t, positives and negatives: a histogram of where each
        # score falls among the thresholds, summed from the top (one pass, not 200)
        scores = 1.0 / (1.0 + xp.exp(-p)) if logits else p
        bins = xp.searchsorted(xp.asarray(AUC_THRESHOLDS), scores.ravel(), side="left")
        positive = (y > 0.5).ravel()
        above_pos = xp.bincount(bins[positive], minlength=n + 1)[::-1].cumsum()[::-1]
        above_neg = xp.bincount(bins[~positive], minlength=n + 1)[::-1].cumsum()[::-1]
        # bins[i] = k means thresholds[:k] < score: counted above thresholds 0..k-1
        return xp.concatenate([above_pos[1:], above_neg[1:]])

    def result(total):
        tp, fp = total[:n], total[n:]
        tpr = tp / tp[0] if tp[0] > 0 else np.zeros(n)
        fpr = fp / fp[0] if fp[0] > 0 else np.zeros(n)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))

    return CountMetric(counts, result)


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
    made = METRICS.get(identifier)(n_outputs, loss_name, threshold)
    if isinstance(made, CountMetric):
        return Metric(identifier, _not_per_sample(identifier), made.counts, made.result)
    return Metric(identifier, made)


def _not_per_sample(name: str) -> Callable:
    def per_sample(xp, y, p):
        raise ArgumentError(
            f"metric {name!r} is a ratio of counts over all rows, not a mean over samples: "
            "fit and evaluate compute it on the CPU; for GPU, MPI or Dask training, compile "
            f"without it and call model.evaluate(x, y) with metrics=[{name!r}] afterwards"
        )

    return per_sample
