"""Tolerances from the arithmetic: how far two float32 evaluations of a network may differ.

BLAS kernels differ by CPU (AVX2 or AVX-512, FMA or not, how a sum is blocked), so
two evaluations of the same product, on another CPU or another batch size, may
round differently. Each stays within the standard bound of the exact product: a
dot product of length n computed in float32 is within gamma_n = n u / (1 - n u)
(u = eps / 2) of exact, relative to sum |x_i W_ij|. Two evaluations therefore
differ by at most twice that; adding the bias and the activation's own rounding
(a few ulps of its output) gives the per-layer term below, and the later layers
carry it through |W| and the activation's Lipschitz constant.
"""

from __future__ import annotations

import numpy as np

import densekit as dk

EPS32 = float(np.finfo(np.float32).eps)

# |f(a) - f(b)| <= L |a - b| for each activation; softmax: |dp_k| <= p_k (1 - p_k)
# range(dz) <= max|dz| / 2
_LIPSCHITZ = {"linear": 1.0, "relu": 1.0, "tanh": 1.0, "sigmoid": 0.25, "softmax": 0.5}
_ACTIVATION_ULPS = 4  # exp/tanh/division: a few ulps of the output, on both sides


def _activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"no rounding bound for activation {name!r}")


def rounding_bound(model, x, eps: float = EPS32) -> np.ndarray:
    """Per output entry, how far two float32 evaluations of ``model`` (Dense layers,
    inference) on ``x`` may differ: the sum over layers of 2 (n + 2) u sum|terms|
    (n the layer's input width), carried forward through |W| and each activation's
    Lipschitz constant, plus the activations' own few ulps."""
    a = np.asarray(x, dtype=np.float64)
    bound = np.zeros_like(a)
    for layer in model.layers:
        if isinstance(layer, dk.layers.Dropout):
            continue
        if not isinstance(layer, dk.layers.Dense):
            raise ValueError(f"no rounding bound for layer {type(layer).__name__}")
        kernel = np.asarray(layer.kernel, dtype=np.float64)
        bias = np.asarray(layer.bias, np.float64) if layer.use_bias else 0.0
        n = kernel.shape[0]
        terms = np.abs(a) @ np.abs(kernel) + np.abs(bias)
        bound = bound @ np.abs(kernel) + (n + 2) * eps * terms  # 2 (n + 2) u
        name = layer.activation.name
        a = _activation(name, a @ kernel + bias)
        if name == "softmax":  # each output moves with the largest change in its row
            bound = np.broadcast_to(bound.max(axis=1, keepdims=True), a.shape)
        bound = _LIPSCHITZ[name] * bound + _ACTIVATION_ULPS * eps * np.abs(a)
    return bound


def assert_within_rounding(actual, desired, model, x) -> None:
    """``actual`` and ``desired`` (two evaluations of ``model`` on ``x``) differ by no more
    than :func:`rounding_bound` allows, entry by entry."""
    bound = rounding_bound(model, x)
    gap = np.abs(np.asarray(actual, np.float64) - np.asarray(desired, np.float64))
    worst = np.unravel_index(np.argmax(gap - bound), gap.shape)
    assert np.all(gap <= bound), (
        f"entry {tuple(int(i) for i in worst)} differs by {gap[worst]:.3g}, more than "
        f"float32 rounding allows there ({bound[worst]:.3g})"
    )
