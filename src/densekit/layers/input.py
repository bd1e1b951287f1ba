"""Input: Keras' way to declare the input width first, ``Sequential([Input(shape=(20,)), ...])``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError
from .base import Layer


class Input(Layer):
    """The model's input width, given first: ``Input(shape=(n,))`` (Keras' ``layers.Input``).

    It holds no weights and is not one of the model's layers: ``Sequential`` reads its
    width and builds as soon as the first real layer is added, as ``input_dim=n`` on
    that layer would. densekit takes 2-D input, so ``shape`` is ``(features,)``.

    Parameters
    ----------
    shape
        ``(features,)``; a bare integer is read as ``(features,)``.
    name
        Accepted for Keras' signature; not used.
    **unknown
        Keras' other arguments (``batch_size``, ``dtype``, ``sparse``...) are refused
        with what to do instead.

    Raises
    ------
    ArgumentError
        If ``shape`` is not one positive integer, or for an argument densekit does not take.
    """

    def __init__(
        self, shape: tuple[int, ...] | int | None = None, name: str | None = None, **unknown: Any
    ):
        super().__init__(name)
        if unknown:
            raise ArgumentError(
                f"Input takes shape=(features,) only, got {', '.join(sorted(unknown))}: "
                "densekit fixes the dtype on Sequential(dtype=...), takes any batch size, and "
                "accepts scipy sparse x in fit and predict as it is"
            )
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (shape,)
        if (
            not isinstance(shape, (tuple, list))
            or len(shape) != 1
            or isinstance(shape[0], bool)
            or not isinstance(shape[0], (int, np.integer))
            or shape[0] < 1
        ):
            raise ArgumentError(
                f"Input(shape=...) must be (features,) with features >= 1 — densekit takes "
                f"2-D input (samples, features) — got {shape!r}"
            )
        self.shape = (int(shape[0]),)

    def get_config(self) -> dict:
        """``{"shape": [n], "name": ...}``."""
        return {"shape": list(self.shape), "name": self.name}
