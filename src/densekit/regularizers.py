"""Weight penalties added to the loss, Keras-style.

``l2(lam)`` adds ``lam * sum(w^2)`` (gradient ``2 lam w``); ``l1(lam)`` adds
``lam * sum(|w|)`` (gradient ``lam sign(w)``). The penalty is added once per
batch to the mean loss, as Keras does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ArgumentError, ArgumentTypeError
from .registry import Registry
from .validation import check_number


@dataclass(frozen=True)
class Regularizer:
    """``l1 * sum|w| + l2 * sum w^2``.

    Parameters
    ----------
    l1, l2
        The strengths, finite and >= 0 (stored as Python floats).

    Raises
    ------
    ArgumentError
        If a strength is negative, NaN or infinite.
    ArgumentTypeError
        If a strength is not a number.
    """

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        for name in ("l1", "l2"):
            # a frozen dataclass: store the checked float (np.float32(0.01) -> 0.01...)
            object.__setattr__(
                self, name, check_number(f"regularizer {name}", getattr(self, name), 0.0)
            )

    def penalty(self, xp: Any, w: Any) -> Any:
        """The penalty of the weights ``w``.

        Parameters
        ----------
        xp
            The array module (numpy or cupy).
        w
            The weights (a view into the model's flat buffer).

        Returns
        -------
        float or array
            A float on NumPy; a 0-d device array on a GPU (no host round trip per batch).
        """
        to_host = float if xp is np else _same
        value = 0.0
        if self.l1:
            value += self.l1 * to_host(xp.abs(w).sum())
        if self.l2:
            flat = w.ravel()  # a view: weights are slices of the contiguous flat buffer
            value += self.l2 * to_host(xp.vdot(flat, flat))  # sum w^2, no squared copy
        return value

    def add_gradient(self, xp: Any, w: Any, grad: Any) -> None:
        """``grad += d penalty / dw``, in place: ``l1 sign(w) + 2 l2 w``.

        Parameters
        ----------
        xp
            The array module (numpy or cupy).
        w
            The weights.
        grad
            Their gradient, of ``w``'s shape, updated in place.
        """
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w

    def get_config(self) -> dict:
        """``{"l1": ..., "l2": ...}``, which :func:`get` reads back."""
        return {"l1": float(self.l1), "l2": float(self.l2)}


def _same(value: Any) -> Any:
    return value


def l1(l1: float = 0.01) -> Regularizer:  # noqa: E741 - Keras' name
    """``l1 * sum|w|`` (Keras' default strength 0.01).

    Parameters
    ----------
    l1
        The strength, finite and >= 0.

    Returns
    -------
    Regularizer

    Raises
    ------
    ArgumentError
        If ``l1`` is negative, NaN or infinite.
    ArgumentTypeError
        If ``l1`` is not a number.
    """
    return Regularizer(l1=l1)


def l2(l2: float = 0.01) -> Regularizer:
    """``l2 * sum w^2`` (Keras' default strength 0.01); raises as :func:`l1`."""
    return Regularizer(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> Regularizer:  # noqa: E741
    """``l1 * sum|w| + l2 * sum w^2`` (Keras' default strengths 0.01); raises as :func:`l1`."""
    return Regularizer(l1=l1, l2=l2)


L1, L2, L1L2 = l1, l2, l1_l2

REGULARIZERS: Registry[Regularizer] = Registry("regularizer", Regularizer)
REGULARIZERS.register("l1", l1)
REGULARIZERS.register("l2", l2)
REGULARIZERS.register("l1_l2", l1_l2)


def get(identifier: str | dict | Regularizer | None) -> Regularizer | None:
    """None, a :class:`Regularizer`, a config dict, or 'l1'/'l2'/'l1_l2' (Keras' 0.01).

    Parameters
    ----------
    identifier
        None (no penalty, returned as it is), a registered name, a config dict as
        :meth:`Regularizer.get_config` writes it (``{"l1": 0.0, "l2": 0.01}``, no name),
        or a :class:`Regularizer` (returned as it is).

    Returns
    -------
    Regularizer or None

    Raises
    ------
    ArgumentError
        If the name is unknown, the dict has keys other than ``l1`` and ``l2``, or a
        strength is out of range.
    ArgumentTypeError
        If ``identifier`` is none of these.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        unknown = set(identifier) - {"l1", "l2"}
        if unknown:
            raise ArgumentError(f"regularizer config has unknown keys {sorted(unknown)}")
        return Regularizer(**identifier)
    if isinstance(identifier, (str, Regularizer)):
        return REGULARIZERS.resolve(identifier)
    raise ArgumentTypeError(
        f"regularizer must be None, a name or densekit.regularizers.l2(...), got {identifier!r}"
    )
