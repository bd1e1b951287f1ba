"""Compiled CPU kernels (:class:`~densekit.backend.kernels.Kernels`, compiled by numba).

Each optimizer step is one pass over the flat buffer.

With NumPy alone an Adam step is a dozen in-place ufuncs, each a full sweep over the
parameters, moments and a scratch buffer; on a 784-256-128-10 network that is about as
long as the step's matrix products. Compiled with numba (the optional ``[fast]`` extra)
the same arithmetic reads and writes every element once: 3-4x faster on large buffers,
and one call instead of twelve on small ones, where per-call overhead dominates.

The optimizer and ReLU kernels do the NumPy path's operations in the same order and the
same dtype, with no fused multiply-adds, so both paths give bit-identical weights (tests
check that). Softmax uses the C library's ``exp``, which differs from NumPy's vectorized
one in the last bit of some entries: softmax networks agree to float rounding, not bits.

``DENSEKIT_KERNELS`` chooses: ``numba``, ``numpy`` (always the plain NumPy path) or
``auto`` (the default: numba's for a fit large enough to repay loading them, see
:mod:`densekit.backend.choice`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ArgumentError, MissingDependencyError
from .kernels import Kernels

ENV_VAR = "DENSEKIT_KERNELS"
CHOICES = ("auto", "numba", "numpy")

_loaded: dict[str, Any] = {}  # "numba": the compiled kernels, loaded once per process


def requested() -> str:
    """``DENSEKIT_KERNELS`` as read now: ``"auto"`` (also when unset), ``"numba"`` or ``"numpy"``.

    Returns
    -------
    str

    Raises
    ------
    ArgumentError
        If ``DENSEKIT_KERNELS`` is none of them.
    """
    choice = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ArgumentError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a kernel choice; "
            f"expected one of {', '.join(CHOICES)}"
        )
    return choice


def get() -> NumbaKernels | None:
    """The compiled kernels, or None for the plain NumPy path (see ``DENSEKIT_KERNELS``).

    Under ``auto`` and ``numba`` this loads numba (once a process, about 0.8 s); callers
    decide first whether that pays (:mod:`densekit.backend.choice`).

    Returns
    -------
    NumbaKernels or None
        None under ``numpy``, or under ``auto`` without numba installed.

    Raises
    ------
    ArgumentError
        If ``DENSEKIT_KERNELS`` is none of ``auto``, ``numba``, ``numpy``.
    MissingDependencyError
        If ``DENSEKIT_KERNELS=numba`` and numba is not installed.
    """
    choice = requested()
    if choice == "numpy":
        return None
    if "numba" not in _loaded:
        compiled = _load(choice)
        if compiled is None:
            return None
        _loaded["numba"] = compiled
    return _loaded["numba"]


def _load(choice: str) -> NumbaKernels | None:
    try:
        import numba
    except ImportError as exc:
        if choice == "numba":
            raise MissingDependencyError(
                f"{ENV_VAR}=numba needs numba: pip install 'densekit[fast]'"
            ) from exc
        return None
    return NumbaKernels(numba)


class NumbaKernels(Kernels):
    """numba-compiled optimizer steps over flat 1-D buffers, ReLU and softmax layer steps.

    Where there is no compiled form (other activations, SGD without momentum, RMSprop,
    Adagrad, other losses) the NumPy reference runs. Scalars are cast to the buffers'
    dtype first, as NumPy casts a Python float against a float32 array, so float32
    buffers are computed in float32.

    Parameters
    ----------
    numba
        The imported ``numba``.
    """

    name = "numba"

    def __init__(self, numba: Any) -> None:
        super().__init__(np)

        def jit(function):
            # compiled on first use for each dtype; cache=True keeps the machine code on
            # disk, next to this file or in the user's cache folder; where neither can be
            # written numba refuses to cache, and each process compiles again (a second)
            options = {"nogil": True, "error_model": "numpy"}
            try:
                return numba.njit(cache=True, **options)(function)
            except RuntimeError:
                return numba.njit(cache=False, **options)(function)

        self._adam = jit(_adam)
        self._sgd_momentum = jit(_sgd_momentum)
        self._bias_forward = {"relu": jit(_bias_relu), "softmax": jit(_bias_softmax)}
        self._relu_backward = jit(_relu_backward)
        self._cross_entropy = jit(_cross_entropy_from_logits)

    def bias_activation(self, activation: Any, use_bias: bool) -> Callable[..., Any]:
        """``forward(z, bias, out) -> out``: ``z += b`` and ``out = f(z)`` in one pass.

        Compiled for ReLU and softmax after a bias; the reference otherwise.
        """
        kernel = self._bias_forward.get(activation.name) if use_bias else None
        if kernel is None:
            return super().bias_activation(activation, use_bias)

        def forward(z, bias, out):
            kernel(z, bias, out)
            return out

        return forward

    def activation_backward(self, activation: Any) -> Callable[..., Any]:
        """``backward(z, a, grad) -> dz`` written over ``grad``; compiled for ReLU only."""
        if activation.name != "relu":
            return super().activation_backward(activation)
        relu_backward = self._relu_backward

        def backward(z, a, grad):
            relu_backward(a, grad)
            return grad

        return backward

    def cross_entropy_from_logits(self, loss, y, z, p) -> tuple[float, Any]:
        """Mean cross-entropy of ``p = softmax(z)`` against ``y``, and its gradient in ``z``.

        The gradient, ``(p sum_k y_k - y) / n``, in one pass (as a new array); ``loss`` is
        not asked.
        """
        grad = np.empty_like(p)
        total = self._cross_entropy(y, z, p, grad, p.dtype.type(1.0 / p.shape[0]))
        return total / p.shape[0], grad

    def sgd_step(self, params, grads, velocity, scratch, lr, momentum, nesterov) -> None:
        """Keras' momentum: v = mu v - lr g, then p += v (nesterov: p += mu v - lr g).

        Compiled with momentum; plain SGD is the reference's two ufuncs.
        """
        if not momentum:
            super().sgd_step(params, grads, velocity, scratch, lr, momentum, nesterov)
            return
        scalar = params.dtype.type
        self._sgd_momentum(params, grads, velocity, scalar(lr), scalar(momentum), nesterov)

    def adam_step(
        self, params, grads, m, v, scratch, lr, t, beta_1, beta_2, epsilon, weight_decay=0.0
    ) -> None:
        """Adam (AdamW when ``weight_decay``) in one compiled pass: the reference's formula."""
        correction = math.sqrt(1.0 - beta_2**t)
        step = lr * correction / (1.0 - beta_1**t)
        scalar = params.dtype.type
        self._adam(
            params, grads, m, v,
            scalar(step), scalar(epsilon * correction), scalar(1.0 - beta_1),
            scalar(1.0 - beta_2), scalar(1.0 - lr * weight_decay),
        )  # fmt: skip


# --- the kernels: plain loops that numba compiles (and that also run as Python) --------


def _adam(p, g, m, v, step, epsilon, one_minus_b1, one_minus_b2, decay):
    # m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v);  p -= step * m / (sqrt(v) + epsilon)
    for i in range(p.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_minus_b1
        vi = v[i] + (gi * gi - v[i]) * one_minus_b2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - mi / (math.sqrt(vi) + epsilon) * step


def _sgd_momentum(p, g, velocity, lr, momentum, nesterov):
    for i in range(p.size):
        scaled = g[i] * lr
        vi = velocity[i] * momentum - scaled
        velocity[i] = vi
        if nesterov:
            p[i] = p[i] - scaled + momentum * vi
        else:
            p[i] = p[i] + vi


def _bias_relu(z, bias, a):
    # z += b;  a = max(z, 0) as np.maximum: NaN stays NaN, -0.0 stays -0.0
    rows, units = z.shape
    for i in range(rows):
        for j in range(units):
            zij = z[i, j] + bias[j]
            z[i, j] = zij
            a[i, j] = zij if (zij >= 0 or zij != zij) else 0


def _relu_backward(a, grad):
    # dz = grad * f'(z), f'(z) = 1 where a > 0, else 0 (in place, as grad *= a > 0)
    rows, units = a.shape
    for i in range(rows):
        for j in range(units):
            grad[i, j] = grad[i, j] * (1 if a[i, j] > 0 else 0)


def _bias_softmax(z, bias, a):
    # z += b;  a = exp(z - max) / sum exp(z - max), row by row (the max keeps exp finite)
    rows, units = z.shape
    for i in range(rows):
        top = z[i, 0] + bias[0]
        for j in range(units):
            zij = z[i, j] + bias[j]
            z[i, j] = zij
            if zij > top or zij != zij:
                top = zij
        total = a.dtype.type(0)
        for j in range(units):
            e = math.exp(z[i, j] - top)
            a[i, j] = e
            total += e
        for j in range(units):
            a[i, j] = a[i, j] / total


def _cross_entropy_from_logits(y, z, p, grad, inverse_n):
    # l_i = sum_k y_ik (lse_i - z_ik), with lse_i = z_top - log(p_top) at the row's largest
    # logit (no second exp pass; p_top >= 1/k keeps the log safe), as losses.py does;
    # grad = (p * sum_k y_k - y) / n
    rows, units = z.shape
    total = 0.0
    for i in range(rows):
        top = 0
        weight = y.dtype.type(0)
        for j in range(units):
            if z[i, j] > z[i, top]:
                top = j
            weight += y[i, j]
        lse = z[i, top] - math.log(p[i, top])
        for j in range(units):
            total += y[i, j] * (lse - z[i, j])
            grad[i, j] = (p[i, j] * weight - y[i, j]) * inverse_n
    return total
