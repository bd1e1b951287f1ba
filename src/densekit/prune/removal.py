"""Neuron pruning: remove whole hidden units, giving a new, physically smaller Sequential.

:func:`neurons` removes the unit's kernel column and bias, the matching
BatchNormalization entries, and the next Dense layer's kernel row. Which units
go is decided by a criterion (``CRITERIA``, or one added with
:func:`register_criterion`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, InputError
from ..layers import Dense
from .checks import check_fraction
from .masks import METADATA_KEY

if TYPE_CHECKING:
    from ..model import Sequential


def _hidden_dense(model) -> list[int]:
    dense = [i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    return dense[:-1]


def _signal_into_next(model, index: int, x: np.ndarray) -> np.ndarray:
    """What hidden layer ``index`` hands the next Dense layer (after BN/Dropout), on ``x``."""
    signal = model.backend.asarray(x)
    for position, layer in enumerate(model.layers):
        signal = layer.forward(signal, False)
        if position >= index and (
            position + 1 == len(model.layers) or isinstance(model.layers[position + 1], Dense)
        ):
            return model.backend.to_numpy(signal).copy()
    raise AssertionError("unreachable: a hidden Dense layer is followed by a Dense layer")


def l2_scores(model: Sequential, index: int, x: Any = None) -> np.ndarray:
    """L2 norm of each unit's kernel column (its incoming weights): criterion ``"l2"``.

    Parameters
    ----------
    model
        A built model.
    index
        Position of a Dense layer in ``model.layers``.
    x
        Unused (the criterion signature).

    Returns
    -------
    ndarray
        One score per unit, float64.
    """
    kernel = model.backend.to_numpy(model.layers[index].kernel).astype(np.float64)
    return np.sqrt((kernel**2).sum(axis=0))


def activation_scores(model: Sequential, index: int, x: Any) -> np.ndarray:
    """Mean ``|signal|`` each unit hands the next Dense layer on ``x``: criterion ``"activation"``.

    The signal is taken after any BatchNormalization or Dropout in between.

    Parameters
    ----------
    model
        A built model.
    index
        Position of a hidden Dense layer in ``model.layers``.
    x
        Sample inputs.

    Returns
    -------
    ndarray
        One score per unit.

    Raises
    ------
    ArgumentError
        If ``x`` is None.
    """
    if x is None:
        raise ArgumentError("criterion='activation' needs sample inputs: pass x=...")
    return np.abs(_signal_into_next(model, index, x)).mean(axis=0)


#: named criteria ``criterion(model, layer_index, x) -> scores`` (higher = keep);
#: other modules add theirs with :func:`register_criterion` (e.g. "importance")
CRITERIA: dict[str, Callable] = {"l2": l2_scores, "activation": activation_scores}


def register_criterion(name: str, criterion: Callable) -> None:
    """Make ``neurons(..., criterion=name)`` use ``criterion(model, layer_index, x)``.

    Parameters
    ----------
    name
        The name to use.
    criterion
        ``criterion(model, layer_index, x) -> scores``, one per unit, higher = keep.

    Raises
    ------
    ArgumentTypeError
        If ``name`` is not a str or ``criterion`` not callable.
    """
    if not isinstance(name, str) or not callable(criterion):
        raise ArgumentTypeError("register_criterion takes a name and a callable")
    CRITERIA[name] = criterion


def _scores(model, index: int, criterion, x) -> np.ndarray:
    layer = model.layers[index]
    if not callable(criterion):
        if criterion not in CRITERIA:
            raise ArgumentError(
                f"criterion must be one of {sorted(CRITERIA)} or a callable "
                f"criterion(model, layer_index, x) -> scores, got {criterion!r}"
            )
        criterion = CRITERIA[criterion]
    scores = np.asarray(criterion(model, index, x), dtype=np.float64)
    if scores.shape != (layer.units,) or not np.isfinite(scores).all():
        raise InputError(
            f"criterion scores for layer {layer.name!r} must be {layer.units} finite numbers, "
            f"got shape {scores.shape}"
        )
    return scores


def _removal_counts(model, hidden: list[int], amount) -> dict[int, int]:
    units = {i: model.layers[i].units for i in hidden}
    if isinstance(amount, (float, np.floating)) and not isinstance(amount, bool):
        fraction = check_fraction("fraction", amount)
        return {i: min(n - 1, int(round(fraction * n))) for i, n in units.items()}
    if isinstance(amount, dict):
        names = {model.layers[i].name: i for i in hidden}
        unknown = [name for name in amount if name not in names]
        if unknown:
            raise ArgumentError(f"{unknown} are not hidden Dense layers; hidden: {list(names)}")
        counts = {i: 0 for i in hidden}
        counts.update({names[name]: count for name, count in amount.items()})
    elif isinstance(amount, (list, tuple)):
        if len(amount) != len(hidden):
            raise ArgumentError(
                f"per-layer counts must have one entry per hidden Dense layer "
                f"({len(hidden)}), got {len(amount)}"
            )
        counts = dict(zip(hidden, amount))
    else:
        raise ArgumentTypeError(
            f"amount must be a fraction in [0, 1), a list of counts or a dict "
            f"{{layer name: count}}, got {amount!r}"
        )
    for i, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            raise ArgumentTypeError(f"unit counts must be integers, got {count!r}")
        if not 0 <= count < units[i]:
            raise ArgumentError(
                f"cannot remove {count} of the {units[i]} units of {model.layers[i].name!r}: "
                "at least one unit must stay"
            )
    return {i: int(c) for i, c in counts.items()}


def _check_between(model, hidden: list[int]) -> None:
    """Only weightless layers and per-unit ones (BatchNormalization) may sit between Dense."""
    for layer in model.layers[hidden[0] :]:
        if isinstance(layer, Dense) or not layer.count_params():
            continue
        if type(layer).__name__ != "BatchNormalization":
            raise ArgumentError(
                f"neuron pruning cannot slice layer {layer.name!r} "
                f"({type(layer).__name__}): only Dense, BatchNormalization and weightless "
                "layers are supported after the first Dense layer"
            )


def neurons(
    model: Sequential,
    amount: float | list[int] | dict[str, int],
    criterion: str | Callable = "l2",
    x: Any = None,
    compensate: bool = True,
):
    """A new, smaller Sequential without the least important units of each hidden Dense layer.

    The output layer is never touched. The result is compiled like ``model``
    (fresh optimizer state) and can be fine-tuned.

    Parameters
    ----------
    model
        A built model; not changed.
    amount
        A fraction of each hidden layer's units, a list of counts (one per hidden
        Dense layer) or ``{layer name: count}``.
    criterion
        ``"l2"`` (norm of the unit's kernel column, its incoming weights),
        ``"activation"`` (mean ``|a|`` on ``x`` of what the unit feeds the next
        Dense layer, after BatchNormalization), a name added with
        :func:`register_criterion` (the hook for ``"importance"``), or a callable
        ``criterion(model, layer_index, x) -> scores`` (higher = keep).
    x
        Sample inputs, needed by ``"activation"`` and by ``compensate``.
    compensate
        With ``x``, fold the mean signal of each removed unit into the next
        layer's bias (``b' = b + mean(a_removed) @ W_removed_rows``).

    Returns
    -------
    Sequential
        The smaller model.

    Raises
    ------
    ArgumentError
        If the model has no hidden Dense layer, holds a layer that cannot be
        sliced, or ``amount`` or ``criterion`` is invalid.
    InputError
        If a criterion's scores are not one finite number per unit.
    """
    from ..model import Sequential

    model.require_built("prune neurons")
    hidden = _hidden_dense(model)
    if not hidden:
        raise ArgumentError("the model has no hidden Dense layer: nothing to prune")
    _check_between(model, hidden)
    if criterion == "activation" and x is None:
        raise ArgumentError("criterion='activation' needs sample inputs: pass x=...")
    if x is not None:
        from ..validation import check_x

        x = check_x(x, model.dtype, model.input_dim)
    counts = _removal_counts(model, hidden, amount)
    keep: dict[int, np.ndarray] = {}
    bias_shift: dict[int, np.ndarray] = {}
    for i in hidden:
        scores = _scores(model, i, criterion, x)
        order = np.argsort(-scores, kind="stable")
        keep[i] = np.sort(order[: model.layers[i].units - counts[i]])
        if x is not None and compensate and counts[i]:
            removed = np.setdiff1d(np.arange(model.layers[i].units), keep[i])
            bias_shift[i] = _signal_into_next(model, i, x)[:, removed].mean(0), removed

    config = model.get_config()
    for i in hidden:
        config["layers"][i]["config"]["units"] = int(len(keep[i]))
    smaller = Sequential.from_config(config)
    if not smaller.built:
        smaller.build(model.input_dim)
    weights = _sliced_weights(model, keep, bias_shift)
    smaller.set_weights(weights)
    smaller = smaller.settings_from(model)
    smaller.metadata.pop(METADATA_KEY, None)
    return smaller


def _sliced_weights(model, keep: dict[int, np.ndarray], bias_shift: dict) -> list[np.ndarray]:
    """The weights of the smaller model, in ``get_weights`` order."""
    kept_in: dict[int, np.ndarray | None] = {}  # kept features entering each layer
    shift: dict[int, tuple] = {}  # Dense layer -> (mean removed signal, removed rows)
    incoming, source = None, None
    for i, layer in enumerate(model.layers):
        kept_in[i] = incoming
        if isinstance(layer, Dense):
            if source in bias_shift:
                shift[i] = bias_shift[source]
            incoming, source = (keep[i], i) if i in keep else (None, None)
    index_of = {id(layer): i for i, layer in enumerate(model.layers)}
    weights = []
    for layer, spec, weight in model.weight_index:
        i = index_of[id(layer)]
        array = model.backend.to_numpy(weight).copy()
        if isinstance(layer, Dense) and spec.name == "kernel":
            if kept_in[i] is not None:
                array = array[kept_in[i], :]
            if i in keep:
                array = array[:, keep[i]]
        elif isinstance(layer, Dense) and spec.name == "bias":
            if i in shift:
                mean_signal, removed = shift[i]
                kernel = model.backend.to_numpy(layer.kernel).astype(np.float64)
                array = (array + mean_signal @ kernel[removed, :]).astype(array.dtype)
            if i in keep:
                array = array[keep[i]]
        elif kept_in[i] is not None:  # per-unit weights (BatchNormalization)
            array = array[kept_in[i]]
        weights.append(array)
    return weights
