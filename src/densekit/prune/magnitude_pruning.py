"""Magnitude pruning: zero the weights with the smallest ``|w|``.

In each Dense kernel (``scope="layer"``) or across all of them
(``scope="global"``), the weights with the largest ``|w|`` are kept and the rest
set to zero; the mask stays attached (:mod:`densekit.prune.masks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError
from ..layers import Dense
from .checks import check_fraction, check_layer_names
from .masks import attach

if TYPE_CHECKING:
    from ..model import Sequential

SCOPES = ("layer", "global")


def _prunable(model, layers: list[str] | None) -> list[Dense]:
    model.require_built("prune")
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if layers is None:
        return dense
    layers = check_layer_names("layers", layers, {layer.name for layer in dense})
    return [layer for layer in dense if layer.name in layers]


def _smallest_mask(magnitudes: np.ndarray, sparsity: float) -> np.ndarray:
    """1 everywhere but at the ``round(sparsity * size)`` smallest entries."""
    k = int(round(sparsity * magnitudes.size))
    mask = np.ones(magnitudes.size, dtype=bool)
    if k > 0:
        mask[np.argpartition(magnitudes.ravel(), k - 1)[:k]] = False
    return mask.reshape(magnitudes.shape)


def magnitude(
    model: Sequential,
    sparsity: float,
    scope: str = "layer",
    layers: list[str] | None = None,
) -> Sequential:
    """Zero the fraction ``sparsity`` of Dense kernel weights with the smallest ``|w|``.

    The masks stay attached until :func:`~densekit.prune.strip`.

    Parameters
    ----------
    model
        A built model; changed in place.
    sparsity
        Fraction of the weights to zero, in [0, 1).
    scope
        ``"layer"`` prunes each kernel to that sparsity; ``"global"`` ranks all
        kernels together (wide layers then lose more).
    layers
        Limits pruning to the named Dense layers (all by default).

    Returns
    -------
    Sequential
        ``model``.

    Raises
    ------
    ArgumentError
        If ``sparsity``, ``scope`` or ``layers`` is invalid.
    """
    sparsity = check_fraction("sparsity", sparsity)
    if scope not in SCOPES:
        raise ArgumentError(f"scope must be 'layer' or 'global', got {scope!r}")
    targets = _prunable(model, layers)
    kernels = {layer.name: np.abs(model.backend.to_numpy(layer.kernel)) for layer in targets}
    if scope == "layer":
        masks = {name: _smallest_mask(k, sparsity) for name, k in kernels.items()}
    else:
        flat = np.concatenate([k.ravel() for k in kernels.values()])
        keep = _smallest_mask(flat, sparsity)
        masks, start = {}, 0
        for name, k in kernels.items():
            masks[name] = keep[start : start + k.size].reshape(k.shape)
            start += k.size
    attach(model, {name: m.astype(model.dtype) for name, m in masks.items()}, scope)
    return model
