"""int8 arithmetic: weight and activation scales, quantize and dequantize, ``weight_max``.

Post-training int8 (:func:`~densekit.quantize.int8`), the scheme onnxruntime runs with
integer kernels:

- weights: symmetric, per output channel, ``s_j = max_i |W_ij| / m``,
  ``Wq = clip(rint(W / s_j), -m, m)`` stored as int8, with ``m = weight_max``,
  64 by default (7-bit weights, see "Saturation" below), up to 127;
- activations (the input of every Dense product): asymmetric uint8 per tensor,
  ``s = (max - min) / 255``, ``zp = rint(-min / s)``, range calibrated (min/max,
  0 included) on sample data, ``q = clip(rint(x / s) + zp, 0, 255)`` (round half
  to even, saturating, as ONNX QuantizeLinear);
- the product is exact integer arithmetic, scaled once:
  ``z_j = float32(sum_i (q_i - zp) * Wq_ij) * float32(s * s_j) + b_j``, which is
  what onnxruntime's integer kernel (MatMulIntegerToFloat) computes for the
  QDQ graph that :func:`~densekit.quantize.export_onnx` writes; biases and activation
  functions stay float32. onnxruntime with graph optimizations off runs that graph node
  by node and agrees with ``predict`` to float32 rounding; with them on it
  fuses ``Q -> QGemm`` (bias folded to int32 at scale ``s * s_j``, relu output
  requantized inside the kernel), so a few activations land one quantization
  step apart (on digits: max |diff| of the softmax 0.001-0.003, same argmax).

Saturation. On x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, AMD before
Zen 4), onnxruntime's u8 x s8 kernel multiplies with ``vpmaddubsw``, which adds two
adjacent products ``a0 * w0 + a1 * w1`` into a *saturating* int16: with ``a`` up to 255
and ``|w|`` up to 127 a pair reaches 64770 and is clamped to 32767 (measured under
``qemu-x86_64 -cpu Haswell``: softmax outputs off by 0.22 on digits). With ``|w| <= 64``
a pair stays within ``2 * 255 * 64 = 32640``, so no CPU saturates and the fast u8 x s8
kernel runs everywhere; that costs half the weight resolution (onnxruntime's
``reduce_range``). A kernel with ``|Wq| > 64`` (``weight_max > 64``, or a file written
before this default) is exported as uint8 ``Wq + 128`` with zero point 128 instead: the
same values, run by the u8 x u8 kernel, which widens to int16 before its multiply-add and
cannot saturate, but is 1.7-3.8x slower than u8 x s8 on 1024-row batches on a CPU with
VNNI (benchmarks/int8_saturation.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..layers.fake_quant import UINT8_MAX, activation_params

INT8_MAX = 127
INT16_MAX = 32767
# the largest |Wq| for which a vpmaddubsw pair a0*w0 + a1*w1 (a <= 255) fits in int16: 64
WEIGHT_MAX = INT16_MAX // (2 * UINT8_MAX)


def weight_scales(kernel: np.ndarray, weight_max: int = WEIGHT_MAX) -> np.ndarray:
    """Per output channel (column) symmetric scales ``max_i |W_ij| / weight_max``.

    Parameters
    ----------
    kernel
        A Dense kernel ``(inputs, units)``.
    weight_max
        The largest integer of a quantized weight.

    Returns
    -------
    ndarray
        float32 ``(units,)``; 1 for a zero column.
    """
    peak = np.abs(kernel).max(axis=0).astype(np.float32)
    return np.where(peak > 0, peak / np.float32(weight_max), np.float32(1.0)).astype(np.float32)


def quantize_weights(
    kernel: np.ndarray, scales: np.ndarray, weight_max: int = WEIGHT_MAX
) -> np.ndarray:
    """``clip(rint(W / s_j), -weight_max, weight_max)`` as int8.

    Parameters
    ----------
    kernel
        A Dense kernel ``(inputs, units)``.
    scales
        Per-column scales, as :func:`weight_scales` makes them.
    weight_max
        The largest integer of a quantized weight.

    Returns
    -------
    ndarray
        int8, shaped like ``kernel``.
    """
    q = np.rint(kernel.astype(np.float32) / scales[None, :])
    return np.clip(q, -weight_max, weight_max).astype(np.int8)


def quantize_activations(x: np.ndarray, scale: float, zero_point: float) -> np.ndarray:
    """ONNX QuantizeLinear to uint8: ``clip(rint(x / s) + zp, 0, 255)`` (half to even).

    Parameters
    ----------
    x
        Float inputs.
    scale
        The scale ``s``, as :func:`activation_params` makes it.
    zero_point
        The zero point ``zp``, likewise.

    Returns
    -------
    ndarray
        uint8, shaped like ``x``.
    """
    q = np.rint(x.astype(np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, 0, UINT8_MAX).astype(np.uint8)


def fake_quantize(kernel: np.ndarray, weight_max: int = WEIGHT_MAX) -> np.ndarray:
    """``dequantize(quantize(W))`` per output channel: what an int8 kernel represents.

    Parameters
    ----------
    kernel
        A Dense kernel ``(inputs, units)``.
    weight_max
        The largest integer of a quantized weight.

    Returns
    -------
    ndarray
        The represented float kernel, in ``kernel``'s dtype.
    """
    scales = weight_scales(kernel, weight_max)
    quantized = quantize_weights(kernel, scales, weight_max)
    return (quantized.astype(np.float32) * scales).astype(kernel.dtype)


def check_weight_max(weight_max: Any) -> int:
    """``weight_max`` as an int from 1 to 127, or an error naming what it got.

    Parameters
    ----------
    weight_max
        What the caller passed.

    Returns
    -------
    int
        ``weight_max``.

    Raises
    ------
    ArgumentTypeError
        If it is not an integer.
    ArgumentError
        If it is outside 1 to 127.
    """
    if isinstance(weight_max, bool) or not isinstance(weight_max, (int, np.integer)):
        raise ArgumentTypeError(
            f"weight_max must be an integer from 1 to {INT8_MAX}, got {weight_max!r}"
        )
    if not 1 <= weight_max <= INT8_MAX:
        raise ArgumentError(f"weight_max must be an integer from 1 to {INT8_MAX}, got {weight_max}")
    return int(weight_max)


__all__ = [
    "INT8_MAX",
    "UINT8_MAX",
    "INT16_MAX",
    "WEIGHT_MAX",
    "weight_scales",
    "quantize_weights",
    "activation_params",
    "quantize_activations",
    "fake_quantize",
    "check_weight_max",
]
