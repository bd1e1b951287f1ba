"""The multilayer perceptron every bridge and app builds: one builder, one output mapping.

:func:`build_mlp` stacks the hidden layers (``Dense``, then ``BatchNormalization``
and ``Dropout`` when asked) and the output ``Dense``; :func:`output_head` says
what that output layer is for a task or a loss: its activation, its units and
the loss to train it with. The command line, ``densekit.tune`` and the
scikit-learn estimators all build their networks here, so the same settings
and seed give the same network (and the same weights) wherever they are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import initializers, regularizers
from .errors import ArgumentError, ArgumentTypeError
from .layers import BatchNormalization, Dense, Dropout
from .model import Sequential
from .validation import check_positive_int

#: the output activation each loss is computed on (any other loss: a linear output)
OUTPUT_ACTIVATIONS: dict[str, str] = {
    "sparse_categorical_crossentropy": "softmax",
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
}
#: the loss each task trains with
TASK_LOSSES: dict[str, str] = {
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
    "multilabel": "binary_crossentropy",
    "regression": "mean_squared_error",
}
INITS = ("keras", "sklearn")


@dataclass(frozen=True)
class Head:
    """The output layer of an MLP and the loss it is trained with.

    Attributes
    ----------
    units : int
        Output units: 1 for binary, the class count for multiclass, the
        label or target count otherwise.
    activation : str
        'softmax', 'sigmoid' or 'linear'.
    loss : str
        The densekit loss name.
    """

    units: int
    activation: str
    loss: str


def output_head(units: int, *, task: str | None = None, loss: str | None = None) -> Head:
    """The output layer and loss for a task, or the output layer for a loss.

    Parameters
    ----------
    units
        Output units (see :class:`Head`).
    task
        'binary', 'multiclass', 'multilabel' or 'regression': its loss is
        :data:`TASK_LOSSES`' entry. Give ``task`` or ``loss``, not both.
    loss
        A loss name: softmax for the categorical cross-entropies, sigmoid for
        binary cross-entropy, linear for anything else.

    Returns
    -------
    Head
        The output units, activation and loss.

    Raises
    ------
    ArgumentError
        If neither or both of ``task`` and ``loss`` are given, or ``task`` is unknown.
    """
    if (task is None) == (loss is None):
        raise ArgumentError("output_head needs a task or a loss (one of them)")
    if task is not None:
        if task not in TASK_LOSSES:
            raise ArgumentError(f"task must be one of {', '.join(TASK_LOSSES)}, got {task!r}")
        loss = TASK_LOSSES[task]
    return Head(int(units), OUTPUT_ACTIVATIONS.get(loss, "linear"), loss)


def build_mlp(
    n_features: int,
    hidden: Sequence[int],
    units: int,
    *,
    activation: str = "relu",
    output_activation: str = "linear",
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    init: str = "keras",
    declare_input_dim: bool = True,
    seed: int | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    precision: str = "fp32",
) -> Sequential:
    """A built, uncompiled MLP: each hidden ``Dense`` (+ BatchNorm, + Dropout), one output.

    Parameters
    ----------
    n_features
        Input width.
    hidden
        Units of each hidden layer (empty: the output layer alone).
    units
        Output units.
    activation
        The hidden layers' activation (a densekit name).
    output_activation
        The output layer's activation (see :func:`output_head`).
    dropout
        A ``Dropout`` of this rate after each hidden layer when > 0.
    batch_norm
        A ``BatchNormalization`` after each hidden layer (before its dropout).
    l2
        An ``l2(l2)`` kernel regularizer on each hidden layer unless 0.
    init
        'keras': Dense's defaults (glorot_uniform kernels, zero biases);
        'sklearn': scikit-learn MLP's ``U(-r, r)`` for kernels and biases,
        ``r = sqrt(k / (fan_in + fan_out))``, k = 2 for sigmoid hidden units, else 6.
    declare_input_dim
        Record ``n_features`` as the first layer's ``input_dim`` (in its config);
        False builds the model with ``model.build(n_features)`` instead.
    seed
        The model's seed (weights and dropout).
    dtype
    device
    precision
        Passed to :class:`~densekit.model.Sequential`.

    Returns
    -------
    Sequential
        The network, built (weights drawn), not compiled.

    Raises
    ------
    ArgumentError
        If ``init`` is unknown, a width is below 1, or ``l2`` is negative (layers and the
        model check the rest).
    ArgumentTypeError
        If ``hidden`` is not a sequence of integers (a string or a float width, say).
    """
    if init not in INITS:
        raise ArgumentError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence | np.ndarray):
        raise ArgumentTypeError(
            f"hidden must be a sequence of layer widths, e.g. [64, 32] (empty for none), "
            f"got {hidden!r}"
        )
    widths = [
        check_positive_int("n_features", n_features),
        *(check_positive_int(f"hidden[{i}]", width) for i, width in enumerate(hidden)),
        check_positive_int("units", units),
    ]
    factor = 2.0 if activation == "sigmoid" else 6.0
    stack: list = []
    for index, width in enumerate(widths[1:]):
        last = index == len(widths) - 2
        options: dict = {}
        if init == "sklearn":
            bound = float(np.sqrt(factor / (widths[index] + width)))
            uniform = initializers.RandomUniform(-bound, bound)
            options.update(kernel_initializer=uniform, bias_initializer=uniform)
        if not last and l2:
            options["kernel_regularizer"] = regularizers.l2(float(l2))
        if declare_input_dim and index == 0:
            options["input_dim"] = int(n_features)
        stack.append(Dense(width, activation=output_activation if last else activation, **options))
        if not last and batch_norm:
            stack.append(BatchNormalization())
        if not last and dropout > 0:
            stack.append(Dropout(float(dropout)))
    model = Sequential(stack, seed=seed, dtype=dtype, device=device, precision=precision)
    model.build(int(n_features))
    return model
