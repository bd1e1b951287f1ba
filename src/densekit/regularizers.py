"""Weight penalties added to the loss, Keras-style.

``l2(lam)`` adds ``lam * sum(w^2)`` (gradient ``2 lam w``); ``l1(lam)`` adds
``lam * sum(|w|)`` (gradient ``lam sign(w)``). The penalty is added once per
batch to the mean loss, as Keras does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ArgumentError, ArgumentTypeError
from .validation import check_number


@dataclass(frozen=True)
class Regularizer:
    """``l1 * sum|w| + l2 * sum w^2``."""

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        for name in ("l1", "l2"):
            # a frozen dataclass: store the checked float (np.float32(0.01) -> 0.01...)
            object.__setattr__(
                self, name, check_number(f"regularizer {name}", getattr(self, name), 0.0)
            )

    def penalty(self, xp, w) -> float:
        """A float on NumPy; a 0-d device array on a GPU (no host round trip per batch)."""
        to_host = float if xp is np else _same
        value = 0.0
        if self.l1:
            value += self.l1 * to_host(xp.abs(w).sum())
        if self.l2:
            flat = w.ravel()  # a view: weights are slices of the contiguous flat buffer
            value += self.l2 * to_host(xp.vdot(flat, flat))  # sum w^2, no squared copy
        return value

    def add_gradient(self, xp, w, grad) -> None:
        """grad += d penalty / dw, in place."""
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w

    def get_config(self) -> dict:
        return {"l1": float(self.l1), "l2": float(self.l2)}


def _same(value):
    return value


def l1(l1: float = 0.01) -> Regularizer:  # noqa: E741 - Keras' name
    return Regularizer(l1=l1)


def l2(l2: float = 0.01) -> Regularizer:
    return Regularizer(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> Regularizer:  # noqa: E741
    return Regularizer(l1=l1, l2=l2)


L1, L2, L1L2 = l1, l2, l1_l2


def get(identifier) -> Regularizer | None:
    """None, a :class:`Regularizer`, a config dict, or 'l1'/'l2'/'l1_l2' (Keras' 0.01)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        unknown = set(identifier) - {"l1", "l2"}
        if unknown:
            raise ArgumentError(f"regularizer config has unknown keys {sorted(unknown)}")
        return Regularizer(**identifier)
    if isinstance(identifier, str):
        makers = {"l1": l1, "l2": l2, "l1_l2": l1_l2}
        if identifier not in makers:
            raise ArgumentError(f"unknown regularizer {identifier!r}; expected l1, l2 or l1_l2")
        return makers[identifier]()
    raise ArgumentTypeError(
        f"regularizer must be None, a name or densekit.regularizers.l2(...), got {identifier!r}"
    )
