"""Adagrad: each parameter's step shrinks with its summed squared gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..validation import check_number
from .base import Optimizer

if TYPE_CHECKING:
    from .. import schedules


class Adagrad(Optimizer):
    """acc += g^2;  p -= lr g / (sqrt(acc) + eps)  (acc starts at initial_accumulator_value).

    Parameters
    ----------
    learning_rate
        ``lr`` (default 1e-3).
    initial_accumulator_value
        ``acc``'s starting value (Keras' 0.1).
    epsilon
        Added to the root (default 1e-7).
    **kw
        :class:`Optimizer`'s clipping arguments.
    """

    slots = ("accumulator",)

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kw: Any,
    ):
        super().__init__(learning_rate, **kw)
        self.initial_accumulator_value = check_number(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def build(self, params, slices, backend=None):
        """Allocate the state (the accumulator filled); see :meth:`Optimizer.build`."""
        super().build(params, slices, backend)
        self.state["accumulator"][...] = self.initial_accumulator_value

    def _update(self, params, grads, lr, t):
        self.ops.adagrad_step(
            params, grads, self.state["accumulator"], self._scratch, lr, self.epsilon
        )

    def _hyperparameters(self):
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
