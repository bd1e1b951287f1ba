"""Pictures of a model: its kernels (heatmap or Hinton diagram) and activation histograms."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ArgumentError
from .results import new_figure
from .units import dense_layers, layer_outputs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..model import Sequential


def plot_weights(model: Sequential, kind: str = "heatmap", max_size: int = 64) -> Figure:
    """One picture per Dense layer of its kernel ``W`` (inputs down, units across).

    Parameters
    ----------
    model
        A built model.
    kind
        ``"heatmap"``: colour is the weight (blue negative, red positive, white 0).
        ``"hinton"``: a square per weight, area proportional to ``|w|``, white
        positive and black negative on grey.
    max_size
        A Hinton diagram draws only the first ``max_size`` inputs and units of a
        larger kernel (the title says so).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ArgumentError
        If ``kind`` is unknown.
    MissingDependencyError
        If matplotlib is not installed.
    """
    if kind not in ("heatmap", "hinton"):
        raise ArgumentError(f"kind must be 'heatmap' or 'hinton', got {kind!r}")
    layers = dense_layers(model)
    figure = new_figure(figsize=(3.2 * len(layers) + 0.8, 3.6), layout="constrained")
    from matplotlib.ticker import MaxNLocator

    for position, (_, layer) in enumerate(layers, start=1):
        kernel = model.backend.to_numpy(layer.kernel)
        ax = figure.add_subplot(1, len(layers), position)
        if kind == "heatmap":
            limit = float(np.abs(kernel).max()) or 1.0
            image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                              interpolation="nearest")  # fmt: skip
            figure.colorbar(image, ax=ax, shrink=0.8)
            title = f"{layer.name} {kernel.shape[0]}x{kernel.shape[1]}"
        else:
            shown = kernel[:max_size, :max_size]
            _hinton(ax, shown)
            title = f"{layer.name} {kernel.shape[0]}x{kernel.shape[1]}"
            if shown.shape != kernel.shape:
                title += f" (first {shown.shape[0]}x{shown.shape[1]})"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("unit")
        ax.set_ylabel("input")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle("Weights: heatmap" if kind == "heatmap" else "Weights: Hinton diagram")
    return figure


def _hinton(ax, matrix: np.ndarray) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    largest = float(np.abs(matrix).max()) or 1.0
    squares, colours = [], []
    for (row, column), weight in np.ndenumerate(matrix):
        side = math.sqrt(abs(weight) / largest) * 0.9
        squares.append(Rectangle((column - side / 2, row - side / 2), side, side))
        colours.append("white" if weight > 0 else "black")
    ax.add_collection(PatchCollection(squares, facecolors=colours, edgecolors="none"))
    ax.set_facecolor("#888888")
    ax.set_xlim(-0.5, matrix.shape[1] - 0.5)
    ax.set_ylim(matrix.shape[0] - 0.5, -0.5)
    ax.set_aspect("equal")


def plot_activation_histograms(model: Sequential, x: Any, bins: int = 40) -> Figure:
    """A histogram of every Dense layer's outputs over ``x`` (all units pooled).

    Parameters
    ----------
    model
        A built model.
    x
        Inputs.
    bins
        Bins per histogram.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    outputs = layer_outputs(model, x)
    figure = new_figure(figsize=(3.0 * len(outputs) + 0.6, 2.8), layout="constrained")
    for position, (_, layer, values) in enumerate(outputs, start=1):
        ax = figure.add_subplot(1, len(outputs), position)
        ax.hist(values.ravel(), bins=bins, color="#55a868")
        ax.set_title(f"{layer.name} ({layer.activation.name})", fontsize=9)
        ax.set_xlabel("activation")
    figure.suptitle("Activation histograms")
    return figure
