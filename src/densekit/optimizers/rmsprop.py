"""RMSprop, plain or centered, with optional momentum (epsilon outside the root, as PyTorch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..validation import check_bool, check_number
from .base import Optimizer

if TYPE_CHECKING:
    from .. import schedules


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2;  p -= lr g / (sqrt(v) + eps)  (centered: v - mean(g)^2).

    Parameters
    ----------
    learning_rate
        ``lr`` (default 1e-3).
    rho
        The mean square's decay rate.
    momentum
        ``mu``: with it, ``u = mu u + lr g / (...); p -= u``.
    epsilon
        Added to the root (default 1e-7).
    centered
        Whether to divide by the root of the variance rather than the mean square.
    **kw
        :class:`Optimizer`'s clipping arguments.
    """

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kw: Any,
    ):
        super().__init__(learning_rate, **kw)
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_number("epsilon", epsilon, 0.0)
        self.centered = check_bool("centered", centered)
        self.slots = (
            ("v",) + (("mean_grad",) if centered else ()) + (("velocity",) if self.momentum else ())
        )

    def _update(self, params, grads, lr, t):
        state = self.state
        self.ops.rmsprop_step(
            params, grads, state["v"], state.get("mean_grad"), state.get("velocity"),
            self._scratch, lr, self.rho, self.momentum, self.epsilon,
        )  # fmt: skip

    def _hyperparameters(self):
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
