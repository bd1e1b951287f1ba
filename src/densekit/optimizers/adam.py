"""Adam and AdamW (Adam with decoupled weight decay): one formula, one kernel call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..validation import check_number
from .base import Optimizer

if TYPE_CHECKING:
    from .. import schedules


class Adam(Optimizer):
    """Adam, Algorithm 1 of Kingma & Ba (as PyTorch).

    m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
    p -= lr * m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)

    Parameters
    ----------
    learning_rate
        ``lr`` (default 1e-3).
    beta_1
    beta_2
        The moments' decay rates, in ``[0, 1)``.
    epsilon
        Added to ``sqrt(v_hat)`` (Keras' default 1e-7).
    **kw
        :class:`Optimizer`'s clipping arguments.
    """

    slots = ("m", "v")

    #: AdamW's decoupled decay (``p *= 1 - lr wd`` before the step); none for Adam
    weight_decay = 0.0

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kw: Any,
    ):
        super().__init__(learning_rate, **kw)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, open_high=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, open_high=True)
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def _scratch_size(self, size):
        # the update works one chunk at a time, so one chunk of scratch is enough
        return self.ops.chunk_size(size)

    def _update(self, params, grads, lr, t):
        self.ops.adam_step(
            params, grads, self.state["m"], self.state["v"], self._scratch,
            lr, t, self.beta_1, self.beta_2, self.epsilon, self.weight_decay,
        )  # fmt: skip

    def _hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * weight_decay * p before the Adam step.

    Parameters
    ----------
    learning_rate
        ``lr`` (default 1e-3).
    weight_decay
        ``wd`` (Keras' default 0.004).
    **kw
        :class:`Adam`'s arguments.
    """

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        weight_decay: float = 0.004,
        **kw: Any,
    ):
        super().__init__(learning_rate, **kw)
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0)

    def _hyperparameters(self):
        return {**super()._hyperparameters(), "weight_decay": self.weight_decay}
