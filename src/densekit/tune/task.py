"""The task: classes or values from the targets, and the network a configuration describes.

The output layer and the loss come from :func:`densekit.mlp.output_head`, the
network from :func:`densekit.mlp.build_mlp`: sigmoid + binary cross-entropy,
softmax + sparse categorical cross-entropy, or linear + mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import optimizers
from ..errors import ArgumentError, InputError
from ..mlp import build_mlp, output_head
from ..model import Sequential

MAX_CLASSES = 50  # more distinct integer labels than this is taken for regression


@dataclass(frozen=True)
class Task:
    """What the output layer and the loss are, from the targets.

    Attributes
    ----------
    kind : str
        'binary', 'multiclass' or 'regression'.
    n_outputs : int
        Output units.
    loss : str
        The loss name.
    output_activation : str
        The output layer's activation.
    metrics : tuple of str
        Metrics to compile with ('accuracy' for classes, 'mae' for values).
    """

    kind: str  # "binary", "multiclass" or "regression"
    n_outputs: int
    loss: str
    output_activation: str
    metrics: tuple[str, ...]


def _task(kind: str, n_outputs: int) -> Task:
    head = output_head(n_outputs, task=kind)
    metrics = ("mae",) if kind == "regression" else ("accuracy",)
    return Task(kind, head.units, head.loss, head.activation, metrics)


def infer_task(y: np.ndarray, task: str = "auto") -> Task:
    """Integer (or bool) targets are classes, float targets are values to regress.

    Parameters
    ----------
    y
        The targets: labels 0..k-1 (n,), or values (n,) or (n, outputs).
    task
        'auto' (from ``y``'s dtype; more than :data:`MAX_CLASSES` labels is
        regression), 'classification' or 'regression'.

    Returns
    -------
    Task
        The output layer, loss and metrics.

    Raises
    ------
    ArgumentError
        If ``task`` is unknown.
    InputError
        If class labels are not (n,) or not the integers 0..k-1.
    """
    if task not in ("auto", "classification", "regression"):
        raise ArgumentError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    y = np.asarray(y)
    integer = y.dtype == bool or np.issubdtype(y.dtype, np.integer)
    if task == "regression" or (task == "auto" and not integer):
        width = 1 if y.ndim == 1 else y.shape[1]
        return _task("regression", width)
    if y.ndim != 1:
        raise InputError(
            f"classification targets must be labels of shape (samples,), got {y.shape}"
        )
    labels = np.unique(y)
    if labels.size > MAX_CLASSES and task == "auto":
        return _task("regression", 1)
    if not np.array_equal(labels, np.arange(labels.size)) and not (
        labels.size <= 2 and set(labels.tolist()) <= {0, 1}
    ):
        raise InputError(
            f"class labels must be the integers 0..k-1, got {labels[:10].tolist()}; "
            "encode them first (tabular.TabularPreprocessor does)"
        )
    if labels.size <= 2:
        return _task("binary", 1)
    return _task("multiclass", int(labels.size))


def build_model(config: dict, input_dim: int, task: Task, seed: int | None = None) -> Sequential:
    """The network a configuration describes, compiled and ready to fit.

    A hidden layer is ``Dense(units, activation, kernel_regularizer=l2(l2))``
    followed by ``Dropout(dropout)`` when dropout > 0 (no regularizer when
    l2 <= 0); the output layer and the loss follow ``task``.

    Parameters
    ----------
    config
        A configuration (:func:`~densekit.tune.space.suggest_config`'s form).
    input_dim
        Input width.
    task
        The output layer, loss and metrics.
    seed
        The model's seed.

    Returns
    -------
    Sequential
        The compiled network.
    """
    model = build_mlp(
        input_dim,
        [int(units) for units in config["units"]],
        task.n_outputs,
        activation=config["activation"],
        output_activation=task.output_activation,
        dropout=float(config["dropout"]),
        l2=max(float(config["l2"]), 0.0),
        seed=seed,
    )
    optimizer = optimizers.get(
        {"name": config["optimizer"], "learning_rate": float(config["learning_rate"])}
    )
    model.compile(optimizer=optimizer, loss=task.loss, metrics=list(task.metrics))
    return model
