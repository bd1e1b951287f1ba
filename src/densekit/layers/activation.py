"""An activation on its own, as a layer: ``A = f(X)``, ``dX = dA * f'(X)``.

Dense applies its activation itself; this layer is for an activation after a
layer that has none of its own, such as BatchNormalization between a Dense
and its ReLU (Keras' ``layers.Activation``).
"""

from __future__ import annotations

from typing import Any

from .. import activations
from .base import Layer


class Activation(Layer):
    """Applies ``activation`` elementwise (softmax: row-wise).

    Parameters
    ----------
    activation
        A name (``"relu"``) or an :class:`densekit.activations.Activation`.
    name
        The layer's name; None lets the model name it.
    """

    def __init__(self, activation: str | activations.Activation, name: str | None = None):
        super().__init__(name)
        self.activation = activations.get(activation)

    def forward(self, x: Any, training: bool) -> Any:
        # named _z like Dense's pre-activation, so a softmax/sigmoid output layer
        # fuses with cross-entropy the same way
        """``A = f(X)``, keeping ``X`` and ``A`` for the backward pass."""
        self._z = x
        self._a = self.activation.forward(self.backend.xp, x)
        return self._a

    @property
    def pre_activation(self) -> Any:
        """The input of the last forward pass, which a fused loss reads as logits."""
        return self._z

    def backward(self, grad: Any, need_input_grad: bool = True, through_activation: bool = True):
        """``dX = dA * f'(X)``.

        Parameters
        ----------
        grad
            ``dL/dA``.
        need_input_grad
            Unused: ``dL/dX`` is all this layer computes.
        through_activation
            False when a fused loss (softmax or sigmoid with cross-entropy) already gave
            ``dL/dX = P - Y``; then ``grad`` is returned as it is.

        Returns
        -------
        array
            ``dL/dX``.
        """
        if not through_activation:  # the fused loss already gave dL/dz
            return grad
        return self.activation.backward(self.backend.xp, self._z, self._a, grad)

    def get_config(self) -> dict:
        """The layer's name and its activation's config."""
        return {"name": self.name, "activation": self.activation.get_config()}
