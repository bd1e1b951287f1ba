"""A learnable scale per input feature: ``y_j = s_j * x_j`` (RealMLP's "front scale").

    forward   Y = X * s               s = c * theta
    backward  dtheta = c * sum_rows dY * X        dX = dY * s

The network can turn a feature up or down (or off) before the first layer mixes them, a
cheap, learned feature selection. ``lr_factor`` ``c`` stores the scale as ``theta = s / c``:
Adam's step on ``theta`` is about the learning rate whatever the gradient's size, so ``s``
moves ``c`` times faster than a weight would (RealMLP trains its scale with a learning
rate 6 times the others'), with one learning rate for the whole flat buffer.
"""

from __future__ import annotations

from typing import Any

from .. import initializers
from ..validation import check_number, check_positive_int
from .base import Layer, WeightSpec


class Scale(Layer):
    """Multiplies each feature by its own learnable factor (initially 1).

    Parameters
    ----------
    lr_factor
        ``c`` > 0: how much faster than the other weights the scales learn (see the
        module docstring); 1 is a plain weight.
    input_dim
        The number of features, to build the model at construction.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentError
        If ``lr_factor`` is not a finite number > 0 or ``input_dim`` not a positive integer.
    """

    def __init__(
        self, lr_factor: float = 1.0, input_dim: int | None = None, name: str | None = None
    ):
        super().__init__(name)
        self.lr_factor = check_number("lr_factor", lr_factor, 0.0, open_low=True)
        self.declared_input_dim = (
            None if input_dim is None else check_positive_int("input_dim", input_dim)
        )

    def weight_specs(self) -> list[WeightSpec]:
        """``theta`` ``(n,)``, filled with ``1 / lr_factor`` so that ``s`` starts at 1."""
        init = initializers.Constant(1.0 / self.lr_factor)
        return [WeightSpec("scale", (self.input_dim,), init)]

    @property
    def scale(self) -> Any:
        """``s = lr_factor * theta``, the factors applied, ``(n,)``."""
        return self.weights["scale"] * self.lr_factor

    def forward(self, x: Any, training: bool) -> Any:
        """``Y = X * s``, keeping ``X`` for the backward pass."""
        self._x = x
        out = self.buffer("y", x.shape, x.dtype)
        return self.backend.xp.multiply(x, self.scale, out=out)

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """``dtheta = c * sum_rows dY * X``; ``dX = dY * s``."""
        xp = self.backend.xp
        xp.sum(grad * self._x, axis=0, out=self.grads["scale"])
        self.grads["scale"] *= self.lr_factor
        if not need_input_grad:
            return None
        return grad * self.scale

    def get_config(self) -> dict:
        """The constructor's arguments, as JSON."""
        return {
            "name": self.name,
            "lr_factor": self.lr_factor,
            "input_dim": self.declared_input_dim,
        }
