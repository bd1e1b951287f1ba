"""The dense layer: every unit sees the whole input.

    forward   Z = X @ W + b          A = f(Z)
    backward  dZ = dA * f'(Z)        dW = X.T @ dZ     db = sum(dZ, axis=0)     dX = dZ @ W.T

``W`` is ``(n, m)`` (inputs, units) and ``b`` is ``(m,)``: ``n*m + m`` parameters.
"""

from __future__ import annotations

from typing import Any

from .. import activations, initializers, regularizers
from ..backend import Backend
from ..backend import choice as kernel_choice
from ..backend import kernels as kernels_module
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
        self.ops: kernels_module.Kernels | None = None  # the kernels, chosen when bound

    def build(self, input_dim: int) -> int:
        """Fix the input width; the output width is ``units``."""
        self.input_dim = int(input_dim)
        self.output_dim = self.units
        return self.units

    def weight_specs(self) -> list[WeightSpec]:
        """The kernel ``(n, m)`` and, with ``use_bias``, the bias ``(m,)``."""
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
    def kernel(self) -> Any:
        """``W``, ``(inputs, units)``."""
        return self.weights["kernel"]

    @property
    def bias(self) -> Any:
        """``b``, ``(units,)``, or None without ``use_bias``."""
        return self.weights.get("bias")

    def bind(self, weights: dict[str, Any], grads: dict[str, Any], backend: Backend) -> None:
        """Take the weight and gradient views and the backend's kernels (fused where they can)."""
        super().bind(weights, grads, backend)
        # the backend's kernels (DENSEKIT_KERNELS is read here, not per batch)
        self.use_kernels(kernel_choice.for_backend(backend))

    def use_kernels(self, ops: kernels_module.Kernels) -> None:
        """Compute with ``ops``: the product, ``z += b; a = f(z)`` and ``dz = g * f'(z)``.

        Fused where the kernels can. Called when the layer is bound, and when a fit moves
        the model to compiled kernels (:meth:`densekit.Sequential.choose_kernels`).

        Parameters
        ----------
        ops
            The kernels, of the backend the layer is bound to.
        """
        self.ops = ops
        self._matmul, self._column_sums = ops.matmul, ops.column_sums
        self._bias_activation = ops.bias_activation(self.activation, self.use_bias)
        self._forward_needs_out = getattr(self._bias_activation, "needs_out", True)
        self._activation_backward = ops.activation_backward(self.activation)

    def forward(self, x: Any, training: bool) -> Any:
        """``A = f(X @ W + b)``, keeping ``X``, ``Z`` and ``A`` for the backward pass.

        ``X`` may be a scipy sparse (CSR) matrix: ``X @ W`` is then scipy's sparse
        product, and ``dW = X.T @ dZ`` too; ``X`` is never densified.
        """
        z = self.buffer("z", (x.shape[0], self.units), self.kernel.dtype)
        if isinstance(x, self.backend.xp.ndarray):
            self._matmul(x, self.kernel, out=z)
        else:
            z[...] = x @ self.kernel
        out = self.buffer("a", z.shape, z.dtype) if self._forward_needs_out else None
        a = self._bias_activation(z, self.bias, out)
        self._x, self._z, self._a = x, z, a
        return a

    @property
    def pre_activation(self) -> Any:
        """``Z = X @ W + b`` of the last forward pass: the logits a fused loss reads."""
        return self._z

    def backward(self, grad: Any, need_input_grad: bool = True, through_activation: bool = True):
        """``grad`` is dL/dA (or dL/dZ when ``through_activation`` is False, the fused case)."""
        dz = self._activation_backward(self._z, self._a, grad) if through_activation else grad
        if "kernel" not in self.grads:  # frozen (trainable=False): no weight gradients
            pass
        elif isinstance(self._x, self.backend.xp.ndarray):
            self._matmul(self._x.T, dz, out=self.grads["kernel"])
        else:
            self.grads["kernel"][...] = self._x.T @ dz
        if self.use_bias and "bias" in self.grads:
            self._column_sums(dz, self.grads["bias"])
        if not need_input_grad:
            return None
        dx = self.buffer("dx", tuple(self._x.shape), dz.dtype)
        return self._matmul(dz, self.kernel.T, out=dx)

    def get_config(self) -> dict:
        """The constructor's arguments, as JSON."""
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
