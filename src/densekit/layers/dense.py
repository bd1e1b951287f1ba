"""The dense layer: every unit sees the whole input.

    forward   Z = X @ W + b          A = f(Z)
    backward  dZ = dA * f'(Z)        dW = X.T @ dZ     db = sum(dZ, axis=0)     dX = dZ @ W.T

``W`` is ``(n, m)`` (inputs, units) and ``b`` is ``(m,)``: ``n*m + m`` parameters.
"""

from __future__ import annotations

import functools
from typing import Any

from .. import activations, initializers, regularizers
from ..backend import numba_kernels as cpu_kernels
from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_positive_int
from .base import Layer, WeightSpec


class Dense(Layer):
    """A fully connected layer ``y = f(x @ W + b)`` (Keras' arguments and defaults)."""

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation | None = None,
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: regularizers.Regularizer | str | None = None,
        bias_regularizer: regularizers.Regularizer | str | None = None,
        input_dim: int | None = None,
        name: str | None = None,
        input_shape: tuple[int] | None = None,
    ):
        super().__init__(name)
        self.units = check_positive_int("units", units)
        input_dim = _input_dim_from_shape(input_shape, input_dim)
        self.activation = activations.get(activation)
        if not isinstance(use_bias, bool):
            raise ArgumentTypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.declared_input_dim = (
            None if input_dim is None else check_positive_int("input_dim", input_dim)
        )
        self._fused_forward = self._fused_backward = None

    def build(self, input_dim: int) -> int:
        self.input_dim = int(input_dim)
        self.output_dim = self.units
        return self.units

    def weight_specs(self) -> list[WeightSpec]:
        specs = [
            WeightSpec(
                "kernel",
                (self.input_dim, self.units),
                self.kernel_initializer,
                regularizer=self.kernel_regularizer,
            )
        ]
        if self.use_bias:
            specs.append(
                WeightSpec(
                    "bias", (self.units,), self.bias_initializer, regularizer=self.bias_regularizer
                )
            )
        return specs

    @property
    def kernel(self):
        return self.weights["kernel"]

    @property
    def bias(self):
        return self.weights.get("bias")

    def bind(self, weights, grads, backend) -> None:
        super().bind(weights, grads, backend)
        # fused kernels for z += b; a = f(z) and for dz = g * f'(z): CuPy's on a GPU, which
        # return a from a buffer of their own; numba's on the CPU, which write into ours
        gpu = backend.kernels
        self._matmul = backend.xp.matmul if gpu is None else gpu.matmul
        self._column_sums = None if gpu is None else gpu.column_sums
        kernels = gpu if gpu is not None or backend.name != "cpu" else cpu_kernels.get()
        self._fused_forward = self._fused_backward = None
        if kernels is not None:
            forward = kernels.bias_activation(self.activation, self.use_bias)
            if forward is not None and gpu is None:
                forward = functools.partial(self._forward_into_buffer, forward)
            self._fused_forward = forward
            self._fused_backward = kernels.activation_backward(self.activation)

    def _forward_into_buffer(self, kernel, z, bias):
        a = self.buffer("a", z.shape, z.dtype)
        kernel(z, bias, a)
        return a

    def forward(self, x: Any, training: bool) -> Any:
        xp = self.backend.xp
        z = self.buffer("z", (x.shape[0], self.units), x.dtype)
        self._matmul(x, self.kernel, out=z)
        if self._fused_forward is not None:
            a = self._fused_forward(z, self.bias)
            self._x, self._z, self._a = x, z, a
            return a
        if self.use_bias:
            z += self.bias
        if self.activation.writes_out:
            a = self.activation.forward(xp, z, out=self.buffer("a", z.shape, z.dtype))
        else:
            a = self.activation.forward(xp, z)
        self._x, self._z, self._a = x, z, a
        return a

    @property
    def pre_activation(self) -> Any:
        """``Z = X @ W + b`` of the last forward pass: the logits a fused loss reads."""
        return self._z

    def backward(self, grad: Any, need_input_grad: bool = True, through_activation: bool = True):
        """``grad`` is dL/dA (or dL/dZ when ``through_activation`` is False, the fused case)."""
        xp = self.backend.xp
        if not through_activation:
            dz = grad
        elif self._fused_backward is not None:
            dz = self._fused_backward(self._z, self._a, grad)
        else:
            dz = self.activation.backward(xp, self._z, self._a, grad)
        self._matmul(self._x.T, dz, out=self.grads["kernel"])
        if self.use_bias:
            if self._column_sums is not None:
                self._column_sums(dz, self.grads["bias"])
            else:
                # db = sum(dZ, axis=0) = 1^T dZ: BLAS sums the columns several times faster
                ones = self.buffer("ones", (dz.shape[0],), dz.dtype, fill=1)
                self._matmul(ones, dz, out=self.grads["bias"])
        if not need_input_grad:
            return None
        dx = self.buffer("dx", self._x.shape, dz.dtype)
        return self._matmul(dz, self.kernel.T, out=dx)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "units": self.units,
            "activation": self.activation.get_config(),
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer.get_config(),
            "bias_initializer": self.bias_initializer.get_config(),
            "kernel_regularizer": _regularizer_config(self.kernel_regularizer),
            "bias_regularizer": _regularizer_config(self.bias_regularizer),
            "input_dim": self.declared_input_dim,
        }


def _regularizer_config(regularizer):
    return None if regularizer is None else regularizer.get_config()


def _input_dim_from_shape(input_shape, input_dim):
    """Keras 2's ``input_shape=(n,)`` is another way to say ``input_dim=n``."""
    if input_shape is None:
        return input_dim
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
        raise ArgumentError(
            f"input_shape must be (features,) — Dense takes 2-D input (samples, features) — "
            f"got {input_shape!r}"
        )
    dim = check_positive_int("input_shape[0]", input_shape[0])
    if input_dim is not None and input_dim != dim:
        raise ArgumentError(f"input_dim={input_dim} and input_shape={tuple(input_shape)} disagree")
    return dim
