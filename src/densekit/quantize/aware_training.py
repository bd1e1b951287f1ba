"""Quantization-aware training: train a copy of a model against what int8 inference computes.

Quantization-aware training (:func:`qat`) returns a copy of the model that
trains against what int8 inference computes, keeping ``Dense`` untouched:
a :class:`FakeQuant` layer before each Dense layer quantizes and dequantizes
its input (uint8, range learned during training, clipped straight-through
gradient), and the model's hooks fake-quantize the kernels: after each
optimizer step the float kernels are saved and replaced by
``dequantize(quantize(W))``; the forward and backward passes run with those;
before the next step a gradient hook restores the float kernels, so the update
``W -= lr * dL/dW_q`` lands on the float weights (STE: ``dW_q/dW = 1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError
from ..layers import Dense
from ..layers.fake_quant import FakeQuant
from ..prune.checks import check_layer_names
from .arithmetic import fake_quantize

if TYPE_CHECKING:
    from ..model import Sequential


class FakeQuantization:
    """Hooks that train a Sequential against int8 kernels (straight-through estimator).

    Parameters
    ----------
    model
        The model trained.
    layers
        Its Dense layers whose kernels are fake-quantized.
    """

    def __init__(self, model: Sequential, layers: list[Dense]):
        self.model = model
        self.layers = layers
        self.shadow = {layer.name: np.array(layer.kernel, copy=True) for layer in layers}

    def quantize_kernels(self, model=None) -> None:
        """The constraint: keep the float kernels, run with their int8 images."""
        for layer in self.layers:
            self.shadow[layer.name][...] = layer.kernel
            layer.kernel[...] = fake_quantize(np.asarray(layer.kernel))

    def restore_kernels(self, grads=None) -> None:
        """The gradient hook: the optimizer updates the float kernels."""
        for layer in self.layers:
            layer.kernel[...] = self.shadow[layer.name]


def _with_input_quantizers(model, names: set[str], momentum: float):
    """A copy of ``model`` with a FakeQuant layer before each named Dense layer."""
    from ..layers import from_config as layer_from_config
    from ..model import Sequential

    layers = []
    for layer in model.layers:
        if isinstance(layer, Dense) and layer.name in names:
            layers.append(FakeQuant(momentum, name=f"{layer.name}_input_quant"))
        entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
        layers.append(layer_from_config(entry))
    copy = Sequential(layers, name=model.name, seed=model.seed, dtype=model.dtype.name)
    if not copy.built:
        copy.build(model.input_dim)
    old = {(layer.name, spec.name): weight for layer, spec, weight in model.weight_index}
    for layer, spec, weight in copy.weight_index:
        if (layer.name, spec.name) in old:
            weight[...] = old[(layer.name, spec.name)]
    return copy.settings_from(model)


def qat(
    model: Sequential,
    layers: list[str] | None = None,
    activations: bool = True,
    momentum: float = 0.99,
) -> Sequential:
    """A copy of ``model`` set up for quantization-aware training.

    Every later ``fit`` runs the named Dense layers with int8 kernels
    (fake-quantized after each step, float weights kept and updated,
    straight-through) and, with ``activations``, a
    :class:`~densekit.layers.fake_quant.FakeQuant` layer before each of them that
    simulates the uint8 quantization of its input. ``int8`` on the result uses the
    learned ranges; :func:`strip_qat` removes the kernel hooks (the FakeQuant
    layers stay: they are part of the model and its file).

    Parameters
    ----------
    model
        A built model on the CPU backend; not changed.
    layers
        The Dense layers to train quantized (all by default).
    activations
        Add FakeQuant layers (not added again to a model that has them).
    momentum
        The FakeQuant layers' range momentum.

    Returns
    -------
    Sequential
        The copy, with the hooks attached.

    Raises
    ------
    ArgumentError
        If the model is not on the CPU backend or ``layers`` names unknown layers.
    """
    model.require_built("prepare quantization-aware training")
    if model.backend.xp is not np:
        raise ArgumentError("quantization-aware training runs on the CPU backend only")
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    known = {layer.name for layer in dense}
    if layers is not None:
        layers = check_layer_names("layers", layers, known)
    names = known if layers is None else set(layers)
    if any(isinstance(layer, FakeQuant) for layer in model.layers):
        activations = False  # already has its quantizers
    trained = _with_input_quantizers(model, names, momentum) if activations else model.copy()
    hooks = FakeQuantization(
        trained,
        [layer for layer in trained.layers if isinstance(layer, Dense) and layer.name in names],
    )
    trained.gradient_hooks.append(hooks.restore_kernels)
    trained.constraints.append(hooks.quantize_kernels)
    hooks.quantize_kernels()
    return trained


def fake_quantization_of(model: Sequential) -> FakeQuantization | None:
    """The QAT kernel hooks attached to ``model``.

    Parameters
    ----------
    model
        Any model.

    Returns
    -------
    FakeQuantization or None
        The hooks, None when the model has none.
    """
    for constraint in model.constraints:
        owner = getattr(constraint, "__self__", None)
        if isinstance(owner, FakeQuantization):
            return owner
    return None


def strip_qat(model: Sequential) -> Sequential:
    """Remove the QAT kernel hooks; the kernels keep their int8 images.

    Parameters
    ----------
    model
        A model made by :func:`qat` (or any model: then nothing changes).

    Returns
    -------
    Sequential
        ``model``.
    """
    hooks = fake_quantization_of(model)
    if hooks is not None:
        model.constraints.remove(hooks.quantize_kernels)
        model.gradient_hooks.remove(hooks.restore_kernels)
    return model
