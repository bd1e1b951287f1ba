"""SGD, with Keras' momentum and Nesterov's look-ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..validation import check_bool, check_number
from .base import Optimizer

if TYPE_CHECKING:
    from .. import schedules


class SGD(Optimizer):
    """p -= lr g; with momentum (Keras): v = mu v - lr g, p += v; nesterov: p += mu v - lr g.

    Parameters
    ----------
    learning_rate
        ``lr`` (Keras' default 0.01).
    momentum
        ``mu`` in ``[0, 1]``; 0 keeps no velocity.
    nesterov
        Whether to take Nesterov's look-ahead step.
    **kw
        :class:`Optimizer`'s clipping arguments.
    """

    slots = ("velocity",)

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kw: Any,
    ):
        super().__init__(learning_rate, **kw)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.nesterov = check_bool("nesterov", nesterov)
        if not self.momentum:
            self.slots = ()

    def _update(self, params, grads, lr, t):
        velocity = self.state.get("velocity")
        self.ops.sgd_step(params, grads, velocity, self._scratch, lr, self.momentum, self.nesterov)

    def _scratch_size(self, size):
        return size if self.momentum and self.nesterov else 0  # only nesterov's mu v

    def _hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}
