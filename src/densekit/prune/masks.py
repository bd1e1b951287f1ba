"""Pruning masks: which kernel weights are pruned, and keeping them at zero while training.

The mask is attached to the model: a gradient hook zeroes the pruned gradients
and a constraint, run after every optimizer step, zeroes the pruned weights
*and* their optimizer state (SGD velocity, Adam ``m``/``v``, RMSprop/Adagrad
accumulators), so neither momentum nor weight decay can bring a pruned weight
back. Biases are never pruned.

Masks and files: the pruned weights are stored as exact zeros and
``model.metadata["pruning"]`` names the masked layers, so ``dk.load_model``
re-attaches the masks (mask = ``kernel != 0``) and fine-tuning can go on after a
reload. (A kept weight that is exactly 0.0 when saved comes back masked; the
file stays a plain densekit model that any reader loads.) :func:`strip`
removes the masks and that entry: a plain model again. ``model.copy()`` does
not copy hooks: call :func:`reattach` on the copy to keep pruning it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..layers import Dense
from ..serialization.model_file import EXTENSIONS

if TYPE_CHECKING:
    from ..model import Sequential

METADATA_KEY = "pruning"


class PruningMasks:
    """The masks of one model: ``{layer name: 0/1 array shaped like its kernel}``.

    Registered as both a gradient hook (pruned gradients are zero before the
    optimizer sees them) and a constraint (pruned weights and optimizer state
    are zero after every step).

    Parameters
    ----------
    model
        The built model whose Dense kernels are masked.
    masks
        Per Dense layer name, 1 where a weight is kept and 0 where it is pruned.
    """

    def __init__(self, model: Sequential, masks: dict[str, np.ndarray]):
        self.model = model
        self.masks = masks

    def _kernel_slices(self):
        """(layer, mask, flat slice of its kernel in model.params), for the masked layers."""
        model = self.model
        trainable = [
            (layer, spec) for layer, spec, _ in model.weight_index if model.trains(layer, spec)
        ]
        for (layer, spec), part in zip(trainable, model.slices):
            if spec.name == "kernel" and layer.name in self.masks:
                yield layer, self.masks[layer.name], part

    def zero_gradients(self, grads) -> None:
        """The gradient hook: zero the gradients of pruned weights in ``grads``, in place."""
        xp = self.model.backend.xp
        for _, mask, part in self._kernel_slices():
            grads[part] *= xp.asarray(mask.ravel())

    def __call__(self, model) -> None:
        """The constraint: pruned weights and their optimizer state back to exactly zero."""
        xp = model.backend.xp
        optimizer_state = model.optimizer.state if model.optimizer is not None else {}
        for _, mask, part in self._kernel_slices():
            flat = xp.asarray(mask.ravel())
            model.params[part] *= flat
            for slot in optimizer_state.values():
                slot[part] *= flat

    def sparsity(self) -> dict[str, float]:
        """Fraction of pruned weights per masked layer (``1 - mean(mask)``)."""
        return {name: 1.0 - float(mask.mean()) for name, mask in self.masks.items()}


def masks_of(model: Sequential) -> PruningMasks | None:
    """The masks attached to ``model``.

    Parameters
    ----------
    model
        Any model.

    Returns
    -------
    PruningMasks or None
        The attached masks, None when the model has none.
    """
    for constraint in model.constraints:
        if isinstance(constraint, PruningMasks):
            return constraint
    return None


def attach(model: Sequential, masks: dict[str, np.ndarray], scope: str) -> PruningMasks:
    """Attach ``masks`` to ``model`` (or replace the attached ones) and apply them now.

    Also records the masked layers and ``scope`` in ``model.metadata["pruning"]``,
    so that a saved model gets its masks back on load.

    Parameters
    ----------
    model
        The built model.
    masks
        Per Dense layer name, a 0/1 array shaped like its kernel, in the model's dtype.
    scope
        ``"layer"`` or ``"global"``, as recorded in the metadata.

    Returns
    -------
    PruningMasks
        The model's masks.
    """
    pruning = masks_of(model)
    if pruning is None:
        pruning = PruningMasks(model, masks)
        model.gradient_hooks.append(pruning.zero_gradients)
        model.constraints.append(pruning)
    else:
        pruning.masks = masks
    pruning(model)
    model.metadata[METADATA_KEY] = {"layers": sorted(masks), "scope": scope}
    return pruning


def strip(model: Sequential) -> Sequential:
    """Remove the masks (hooks, constraint and metadata); the zeros stay.

    Parameters
    ----------
    model
        A pruned model (or any model: then nothing changes).

    Returns
    -------
    Sequential
        ``model``, a plain model again.
    """
    pruning = masks_of(model)
    if pruning is not None:
        model.constraints.remove(pruning)
        model.gradient_hooks.remove(pruning.zero_gradients)
    model.metadata.pop(METADATA_KEY, None)
    return model


def reattach(model: Sequential) -> PruningMasks | None:
    """Re-create the masks of a loaded model from its zeros (``mask = kernel != 0``).

    Parameters
    ----------
    model
        A model whose ``metadata["pruning"]`` names its masked layers.

    Returns
    -------
    PruningMasks or None
        The attached masks, None when the metadata names no pruning.

    Raises
    ------
    InputError
        If the metadata names layers the model lacks.
    """
    entry = model.metadata.get(METADATA_KEY)
    if not entry:
        return None
    by_name = {layer.name: layer for layer in model.layers}
    unknown = [name for name in entry.get("layers", []) if name not in by_name]
    if unknown:
        raise InputError(f"pruning metadata names layers {unknown} that the model lacks")
    masks = {
        name: (model.backend.to_numpy(by_name[name].kernel) != 0).astype(model.dtype)
        for name in entry["layers"]
    }
    return attach(model, masks, entry.get("scope", "layer"))


def sparsity(model: Sequential) -> dict[str, float]:
    """Fraction of exactly-zero entries in each Dense kernel.

    Parameters
    ----------
    model
        A built model.

    Returns
    -------
    dict of str to float
        Per Dense layer name, the fraction of its kernel that is 0.
    """
    return {
        layer.name: float((model.backend.to_numpy(layer.kernel) == 0).mean())
        for layer in model.layers
        if isinstance(layer, Dense)
    }


EXTENSIONS.register(METADATA_KEY, reattach)  # load_model runs it on a pruned model
