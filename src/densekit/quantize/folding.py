"""Folding: a Sequential as float32 inference ops, normalization folded into Dense.

BatchNormalization and Normalization are folded first: into the preceding
Dense layer when that layer is linear, otherwise into the next Dense layer
(``W' = a[:, None] * W``, ``b' = c @ W + b`` for the affine ``y = a * x + c``);
leading ones (before the first Dense) stay a float per-feature affine so raw
features of different scales are not forced into one int8 range. Dropout is
removed; a FakeQuant layer hands its learned range to the next Dense op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError
from ..layers import Dense, Dropout
from ..layers.fake_quant import FakeQuant
from .model import Affine, QuantizedDense

if TYPE_CHECKING:
    from ..model import Sequential

AFFINE_LAYERS = ("BatchNormalization", "Normalization")


def _affine_of(layer) -> tuple[np.ndarray, np.ndarray]:
    """``(a, c)`` with ``layer(x) = a * x + c`` at inference, for BN and Normalization."""
    w = {name: np.asarray(value, dtype=np.float64) for name, value in layer.weights.items()}
    if type(layer).__name__ == "BatchNormalization":
        inverse = 1.0 / np.sqrt(w["moving_variance"] + layer.epsilon)
        gamma = w.get("gamma", np.ones_like(inverse)) if layer.scale else np.ones_like(inverse)
        beta = w.get("beta", np.zeros_like(inverse)) if layer.center else np.zeros_like(inverse)
        a = gamma * inverse
        return a, beta - w["moving_mean"] * a
    a = 1.0 / np.sqrt(w["variance"])
    return a, -w["mean"] * a


def float_ops(model: Sequential) -> list:
    """The model as inference ops in float32: Dropout removed, BN/Normalization folded.

    Parameters
    ----------
    model
        A built model of Dense, Dropout, BatchNormalization, Normalization and
        FakeQuant layers.

    Returns
    -------
    list
        :class:`~densekit.quantize.Affine` and float32
        :class:`~densekit.quantize.QuantizedDense` ops.

    Raises
    ------
    ArgumentError
        If the model holds another kind of layer.
    """
    model.require_built("quantize")
    ops: list = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # an affine waiting for the next Dense
    learned_range = None  # from a FakeQuant layer, for the next Dense
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, FakeQuant):
            if pending is not None:  # QAT quantized the normalized signal: keep it in float
                ops.append(
                    Affine(f"{layer.name}_normalization", *(p.astype(np.float32) for p in pending))
                )
                pending = None
            learned_range = layer.learned_range()
            continue
        if isinstance(layer, Dense):
            kernel = np.asarray(layer.kernel, dtype=np.float64)
            bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(layer.units)
            if pending is not None:
                a, c = pending
                bias = c @ kernel + bias
                kernel = a[:, None] * kernel
                pending = None
            ops.append(
                QuantizedDense(
                    layer.name,
                    kernel.astype(np.float32),
                    bias.astype(np.float32),
                    layer.activation,
                    qat_range=learned_range,
                )
            )
            learned_range = None
        elif kind in AFFINE_LAYERS:
            a, c = _affine_of(layer)
            previous = ops[-1] if ops else None
            if isinstance(previous, QuantizedDense) and previous.activation.name == "linear":
                previous.kernel = (previous.kernel * a).astype(np.float32)
                previous.bias = (previous.bias * a + c).astype(np.float32)
            elif not any(isinstance(op, QuantizedDense) for op in ops):
                ops.append(Affine(layer.name, a.astype(np.float32), c.astype(np.float32)))
            elif pending is None:
                pending = (a, c)
            else:
                pending = (pending[0] * a, pending[1] * a + c)
        else:
            raise ArgumentError(
                f"cannot quantize layer {layer.name!r} ({kind}): supported are Dense, Dropout, "
                "BatchNormalization, Normalization and FakeQuant"
            )
    if pending is not None:
        ops.append(Affine("trailing_normalization", *(p.astype(np.float32) for p in pending)))
    return ops
