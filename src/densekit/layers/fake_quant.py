"""FakeQuant: the QAT stand-in for the uint8 quantization of a Dense layer's input.

The activation quantization it simulates is the one int8 inference runs
(:mod:`densekit.quantize.arithmetic`): asymmetric uint8 per tensor,
``s = (max - min) / 255``, ``zp = rint(-min / s)``, for a range that includes 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers
from ..errors import ArgumentError, ArgumentTypeError
from .base import Layer, WeightSpec

UINT8_MAX = 255


def activation_params(low: float, high: float) -> tuple[np.float32, np.uint8]:
    """uint8 scale and zero point for the range ``[min(low, 0), max(high, 0)]``.

    ``s = (high - low) / 255`` and ``zp = rint(-low / s)`` (``s = 1, zp = 0`` for an
    empty range).

    Parameters
    ----------
    low
        The observed minimum of the tensor.
    high
        Its observed maximum.

    Returns
    -------
    tuple
        ``(scale, zero_point)`` as ``numpy.float32`` and ``numpy.uint8``.
    """
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high == low:
        return np.float32(1.0), np.uint8(0)
    scale = np.float32((high - low) / UINT8_MAX)
    zero_point = np.clip(np.rint(-low / np.float64(scale)), 0, UINT8_MAX)
    return scale, np.uint8(zero_point)


class FakeQuant(Layer):
    """QAT stand-in for the uint8 quantization of its input (per tensor).

        y = (clip(rint(x / s) + zp, 0, 255) - zp) * s      (s, zp from the range [lo, hi])
        dL/dx = dL/dy where lo <= x <= hi, else 0           (clipped straight-through estimator)

    The range is the batch min/max (0 included) averaged with ``momentum`` while
    training, stored as the non-trainable weight ``range`` (so it is saved), and
    used as is at inference; ``dk.quantize.int8`` takes it instead of calibrating.

    Parameters
    ----------
    momentum
        Weight of the running range against the batch's, in [0, 1).
    name
        The layer's name.

    Raises
    ------
    ArgumentTypeError
        If ``momentum`` is not a number.
    ArgumentError
        If it is outside [0, 1).
    """

    def __init__(self, momentum: float = 0.99, name: str | None = None):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise ArgumentTypeError(f"momentum must be a number in [0, 1), got {momentum!r}")
        if not 0.0 <= momentum < 1.0:
            raise ArgumentError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self._inside = None

    def weight_specs(self) -> list[WeightSpec]:
        """One non-trainable weight, ``range``: ``[low, high]``, zeros until trained."""
        return [WeightSpec("range", (2,), initializers.get("zeros"), trainable=False)]

    def learned_range(self) -> tuple[float, float] | None:
        """``(low, high)`` learned so far, or None before any training step."""
        low, high = (float(v) for v in self.backend.to_numpy(self.weights["range"]))
        return None if low == high == 0.0 else (low, high)

    def forward(self, x: Any, training: bool) -> Any:
        """Quantize and dequantize ``x`` with the learned range (identity before there is one).

        While training, the range first moves toward the batch's ``[min, max]``.
        """
        xp, stored = self.backend.xp, self.weights["range"]
        if training:
            batch = (min(float(x.min()), 0.0), max(float(x.max()), 0.0))
            if self.learned_range() is None:
                stored[0], stored[1] = batch
            else:
                stored *= self.momentum
                stored += (1.0 - self.momentum) * xp.asarray(batch, dtype=stored.dtype)
        learned = self.learned_range()
        if learned is None:
            self._inside = None
            return x
        scale, zero_point = activation_params(*learned)
        scale, zero_point = float(scale), float(zero_point)
        q = xp.clip(xp.rint(x / scale) + zero_point, 0, UINT8_MAX)
        if training:
            low, high = -zero_point * scale, (UINT8_MAX - zero_point) * scale
            self._inside = (x >= low) & (x <= high)
        return ((q - zero_point) * scale).astype(x.dtype)

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """The clipped straight-through gradient: ``grad`` where the input was in range, else 0."""
        if self._inside is not None:
            grad *= self._inside
        return grad

    def get_config(self) -> dict:
        """``name`` and ``momentum``, what ``from_config`` needs."""
        return {"name": self.name, "momentum": self.momentum}
