"""scikit-learn MLP's losses, as densekit losses: half squared error, summed binary cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import losses as dk_losses


@dataclass(frozen=True)
class HalfSquaredError(dk_losses.MeanSquaredError):
    """MLP's regression loss: l = 0.5 * mean_k (p_k - y_k)^2, with MLP's gradient p - y.

    MLP reports the mean over the k outputs but steps along the gradient of
    the sum (its output delta is ``p - y`` whatever k is); both are kept, so
    multi-output fits follow MLP's exactly. A saved model records it as
    mean_squared_error (densekit's own loss), so any densekit can load it.
    """

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """``0.5 * mean_k (p_k - y_k)^2`` per row."""
        return 0.5 * super().per_sample(xp, y, p)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``p - y``: the sum's gradient, as MLP steps."""
        return p - y


@dataclass(frozen=True)
class SummedBinaryCrossentropy(dk_losses.BinaryCrossentropy):
    """MLP's multi-label loss: binary cross-entropy summed (not averaged) over labels.

    A saved model records it as binary_crossentropy (densekit's own loss).
    """

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """Binary cross-entropy summed over the labels, per row."""
        return super().per_sample(xp, y, p) * p.shape[1]

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """The summed loss's gradient in ``p``."""
        return super().gradient(xp, y, p) * p.shape[1]

    def per_sample_from_logits(self, xp: Any, y: Any, z: Any) -> Any:
        """The summed loss per row, from the logits ``z``."""
        return super().per_sample_from_logits(xp, y, z) * z.shape[1]

    def gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> Any:
        """``p - y``: the summed loss's gradient in the logits."""
        return p - y
