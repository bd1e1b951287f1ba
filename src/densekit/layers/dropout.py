"""Inverted dropout: in training, zero each input with probability ``rate``, scale the rest.

The scale ``1 / (1 - rate)`` keeps each input's expected value, so inference is the identity.
"""

from __future__ import annotations

from typing import Any

from ..backend import make_rng
from ..validation import check_number
from .base import Layer


class Dropout(Layer):
    """``y = x * mask / (1 - rate)`` in training, ``y = x`` at inference.

    Parameters
    ----------
    rate
        The probability of dropping each input, in [0, 1).
    seed
        Seeds a generator the layer keeps for life (later fits continue its stream);
        None uses the model's generator during ``fit``.
    name
        The layer's name; None lets the model name it.
    """

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None):
        super().__init__(name)
        self.rate = check_number("Dropout rate", rate, 0.0, 1.0, open_high=True)
        self.seed = seed
        # a seeded layer owns its generator for life: later fits continue its stream
        self.rng = None if seed is None else make_rng(seed)

    def forward(self, x: Any, training: bool) -> Any:
        """Draw a new mask and apply it in training; pass ``x`` through at inference."""
        if not training or self.rate == 0.0:
            self._scaled_mask = None
            return x
        xp = self.backend.xp
        if self.rng is None:  # fit gives unseeded layers the model's generator; this is outside fit
            self.rng = make_rng(self.seed)
        scaled_mask = self.buffer("mask", x.shape, x.dtype)
        if self.backend.name == "cpu":  # the draw, the mask and the scaling in one array
            self.rng.random(dtype=x.dtype, out=scaled_mask)
            xp.greater_equal(scaled_mask, self.rate, out=scaled_mask)
            scaled_mask *= 1.0 / (1.0 - self.rate)
        else:  # draw the mask on the device, seeded from the layer's host generator
            keep = self._device_rng().random(x.shape, dtype=x.dtype) >= self.rate
            xp.multiply(xp.asarray(keep), 1.0 / (1.0 - self.rate), out=scaled_mask)
        self._scaled_mask = scaled_mask
        return xp.multiply(x, scaled_mask, out=self.buffer("output", x.shape, x.dtype))

    def _device_rng(self):
        """A generator of the backend's own (CuPy's), re-seeded when fit gives a new ``rng``."""
        if getattr(self, "_device_rng_source", None) is not self.rng:
            seed = int(self.rng.integers(2**63))
            self._device_generator = self.backend.xp.random.default_rng(seed)
            self._device_rng_source = self.rng
        return self._device_generator

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """``dX = dY * mask / (1 - rate)``, in place in ``grad``."""
        if self._scaled_mask is None:
            return grad
        grad *= self._scaled_mask
        return grad

    def get_config(self) -> dict:
        """The layer's name, rate and seed."""
        return {"name": self.name, "rate": self.rate, "seed": self.seed}
