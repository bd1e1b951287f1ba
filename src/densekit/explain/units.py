"""Units: each Dense layer's outputs, dead and saturated units, and a per-unit importance.

:func:`neuron_importance` is registered as ``dk.prune.neurons``' criterion
``"importance"`` when this module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import prune
from ..errors import ArgumentError, ArgumentTypeError
from ..layers import Dense
from ..validation import check_x
from .results import as_table

if TYPE_CHECKING:
    from ..model import Sequential


def dense_layers(model: Sequential) -> list[tuple[int, Dense]]:
    """(index in model.layers, layer) for every Dense layer.

    Parameters
    ----------
    model
        A built model.

    Returns
    -------
    list of tuple
        ``(index, Dense)`` pairs, in order.
    """
    model.require_built("explain")
    return [(i, layer) for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]


def layer_outputs(model: Sequential, x: Any) -> list[tuple[int, Dense, np.ndarray]]:
    """(index, layer, activations ``(rows, units)``) for each Dense layer, at inference.

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.

    Returns
    -------
    list of tuple
        ``(index, Dense, ndarray)`` per Dense layer.
    """
    layers = dense_layers(model)
    x = model.backend.asarray(check_x(x, model.dtype, model.input_dim))
    outputs = []
    wanted = {index for index, _ in layers}
    for index, layer in enumerate(model.layers):
        x = layer.forward(x, training=False)
        if index in wanted:
            outputs.append((index, layer, model.backend.to_numpy(x).copy()))
    return outputs


def dead_relu_units(model: Sequential, x: Any) -> dict[int, np.ndarray]:
    """For each ReLU Dense layer: indices of units that output 0 for every row of ``x``.

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.

    Returns
    -------
    dict of int to ndarray
        Per ReLU Dense layer index, its dead units.
    """
    return {
        index: np.flatnonzero((values <= 0).all(axis=0))
        for index, layer, values in layer_outputs(model, x)
        if layer.activation.name == "relu"
    }


def saturated_units(
    model: Sequential, x: Any, threshold: float = 0.99, fraction: float = 0.95
) -> dict[int, np.ndarray]:
    """For each sigmoid/tanh Dense layer: units saturated on at least ``fraction`` of rows.

    A sigmoid unit is saturated where ``a < 1 - threshold`` or ``a > threshold``; a
    tanh unit where ``|a| > threshold``: there its derivative is near 0 and it
    barely learns.

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.
    threshold
        In (0, 1].
    fraction
        Share of rows on which a unit must be saturated, in (0, 1].

    Returns
    -------
    dict of int to ndarray
        Per sigmoid/tanh Dense layer index, its saturated units.

    Raises
    ------
    ArgumentTypeError
        If ``threshold`` or ``fraction`` is not a number.
    ArgumentError
        If it is outside (0, 1].
    """
    for name, value in (("threshold", threshold), ("fraction", fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise ArgumentTypeError(f"{name} must be a number in (0, 1], got {value!r}")
        if not 0.0 < value <= 1.0:
            raise ArgumentError(f"{name} must be in (0, 1], got {value}")
    found = {}
    for index, layer, values in layer_outputs(model, x):
        name = layer.activation.name
        if name == "sigmoid":
            saturated = (values > threshold) | (values < 1.0 - threshold)
        elif name == "tanh":
            saturated = np.abs(values) > threshold
        else:
            continue
        found[index] = np.flatnonzero(saturated.mean(axis=0) >= fraction)
    return found


def unit_health(model: Sequential, x: Any, threshold: float = 0.99, fraction: float = 0.95) -> Any:
    """One row per Dense layer: units, dead (ReLU) units, saturated (sigmoid/tanh) units.

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.
    threshold
        As :func:`saturated_units`.
    fraction
        As :func:`saturated_units`.

    Returns
    -------
    pandas.DataFrame or list of dict
        The table (see :func:`~densekit.explain.results.as_table`).
    """
    dead = dead_relu_units(model, x)
    saturated = saturated_units(model, x, threshold, fraction)
    rows = []
    for index, layer in dense_layers(model):
        d, s = dead.get(index, np.array([], int)), saturated.get(index, np.array([], int))
        rows.append(
            {
                "layer": layer.name,
                "index": index,
                "activation": layer.activation.name,
                "units": layer.units,
                "dead": int(len(d)),
                "saturated": int(len(s)),
                "dead_units": d.tolist(),
                "saturated_units": s.tolist(),
            }
        )
    return as_table(rows)


def neuron_importance(model: Sequential, layer_index: int, x: Any) -> np.ndarray:
    """A score per unit of Dense layer ``model.layers[layer_index]``: what it sends on.

        ``score_j = mean_rows |s_j| * ||W_next[j, :]||_2``

    where ``s_j`` is the signal unit j hands the next Dense layer over ``x`` (its
    activation, after any BatchNormalization or Dropout in between) and ``W_next``
    that layer's kernel; the last Dense layer's units score ``mean |a_j|``. It is
    the size of the input the next layer loses when the unit is pruned, so dead
    units score 0. The signature is the criterion ``dk.prune.neurons`` takes:
    ``dk.prune.neurons(model, 0.25, criterion=neuron_importance, x=x)`` or, by
    name, ``criterion="importance"``.

    Parameters
    ----------
    model
        A built model.
    layer_index
        Position of a Dense layer in ``model.layers`` (negative counts from the end).
    x
        Inputs.

    Returns
    -------
    ndarray
        float64, one score per unit.

    Raises
    ------
    ArgumentTypeError
        If ``layer_index`` is not an integer.
    ArgumentError
        If it is not the position of a Dense layer.
    """
    layers = dense_layers(model)
    indices = [index for index, _ in layers]
    if isinstance(layer_index, bool) or not isinstance(layer_index, (int, np.integer)):
        raise ArgumentTypeError(f"layer_index must be an integer, got {layer_index!r}")
    position = layer_index + len(model.layers) if layer_index < 0 else int(layer_index)
    if position not in indices:
        raise ArgumentError(
            f"layer_index {layer_index} is not a Dense layer; Dense layers are at {indices}"
        )
    after = [index for index in indices if index > position]
    x = check_x(x, model.dtype, model.input_dim)
    if not after:
        # the last Dense layer: its own activation (prune's signal would run on
        # through any layers after it)
        signal = model.backend.asarray(x)
        for layer in model.layers[: position + 1]:
            signal = layer.forward(signal, training=False)
        return np.abs(model.backend.to_numpy(signal)).mean(axis=0).astype(np.float64)
    score = prune.activation_scores(model, position, x).astype(np.float64)
    kernel = model.backend.to_numpy(model.layers[after[0]].kernel).astype(np.float64)
    return score * np.linalg.norm(kernel, axis=1)


prune.register_criterion("importance", neuron_importance)
