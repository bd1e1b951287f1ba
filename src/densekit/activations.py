"""Activation functions, each with its derivative beside it.

``forward(xp, z)`` returns ``a = f(z)``; ``backward(xp, z, a, grad)`` returns
``dL/dz = dL/da * f'(z)`` and may overwrite ``grad`` in place (the caller owns
it). Where the derivative is cheaper from the output it is taken from ``a``
(sigmoid, tanh), as scikit-learn does. Activations marked ``writes_out`` also
take ``forward(xp, z, out=buffer)`` and write ``a`` there, so a layer can reuse
one buffer across batches instead of allocating ``a`` each time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import erf as _erf
from .errors import ArgumentTypeError
from .registry import Registry
from .validation import check_number

SQRT_HALF = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """A named activation ``f`` with ``forward`` and ``backward`` (its derivative).

    Parameters
    ----------
    name
        The name :func:`get` resolves and ``get_config`` writes.
    forward
        ``forward(xp, z) -> a = f(z)`` (with ``out=`` when ``writes_out``).
    backward
        ``backward(xp, z, a, grad) -> grad * f'(z)``; may overwrite ``grad``.
    params
        The parameters the activation was made with (``{"alpha": 1.0}`` for elu).
    from_output
        True when backward reads only ``a`` and ``grad`` (so ``z`` need not be kept).
    writes_out
        True when ``forward(xp, z, out=buffer)`` writes ``a`` into ``buffer``.
    """

    name: str
    forward: Callable[..., Any] = field(repr=False)
    backward: Callable[..., Any] = field(repr=False)
    params: dict = field(default_factory=dict)
    #: True when backward reads only ``a`` and ``grad`` (so ``z`` need not be kept)
    from_output: bool = False
    #: True when ``forward(xp, z, out=buffer)`` writes ``a`` into ``buffer``
    writes_out: bool = False

    def __call__(self, z: Any) -> Any:
        """Apply ``f`` to a NumPy array (convenience outside a model).

        Parameters
        ----------
        z
            The pre-activation; integers are computed in float32.

        Returns
        -------
        ndarray
            ``f(z)``.
        """
        z = np.asarray(z, dtype=np.result_type(z, np.float32))
        return self.forward(np, z)

    def get_config(self) -> dict:
        """``{"name": ..., **params}``, which :func:`get` reads back."""
        return {"name": self.name, **self.params}


# --- the functions: f and f' side by side ------------------------------------


def linear_forward(xp: Any, z: Any) -> Any:
    """Linear (identity): f(z) = z."""
    return z


def linear_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """The identity's gradient, f'(z) = 1: ``grad`` as it is."""
    return grad


def relu_forward(xp: Any, z: Any, out: Any = None) -> Any:
    """ReLU: f(z) = max(z, 0)."""
    return xp.maximum(z, 0, out=out)


def relu_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place."""
    # f'(z) = 1 where z > 0 (a > 0), else 0
    grad *= a > 0
    return grad


def make_leaky_relu(negative_slope: float) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """f(z) = z if z > 0 else slope * z, and f'(z) = 1 if z > 0 else slope, for one slope.

    Parameters
    ----------
    negative_slope
        The slope for ``z <= 0``.

    Returns
    -------
    tuple of callable
        ``(forward, backward)``.
    """

    def leaky_relu_forward(xp, z):
        return xp.where(z > 0, z, negative_slope * z)

    def leaky_relu_backward(xp, z, a, grad):
        return xp.multiply(grad, xp.where(z > 0, 1.0, negative_slope).astype(grad.dtype), out=grad)

    return leaky_relu_forward, leaky_relu_backward


def make_elu(alpha: float) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """f(z) = z if z > 0 else alpha (exp(z) - 1), and its derivative, for one alpha.

    Parameters
    ----------
    alpha
        The limit ``-alpha`` that f approaches as ``z -> -inf``.

    Returns
    -------
    tuple of callable
        ``(forward, backward)``.
    """

    def elu_forward(xp, z):
        return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, 0)))

    def elu_backward(xp, z, a, grad):
        # f'(z) = 1 for z > 0, else alpha * exp(z) = a + alpha
        return xp.multiply(grad, xp.where(z > 0, 1.0, a + alpha).astype(grad.dtype), out=grad)

    return elu_forward, elu_backward


def gelu_forward(xp: Any, z: Any) -> Any:
    """f(z) = z Phi(z), Phi the standard normal CDF (exact, not the tanh approximation)."""
    # exact GELU: z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2
    return 0.5 * z * (1.0 + _erf(xp, z * SQRT_HALF))


def gelu_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place."""
    # f'(z) = Phi(z) + z * phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi)
    cdf = 0.5 * (1.0 + _erf(xp, z * SQRT_HALF))
    pdf = xp.exp(-0.5 * z * z) * INV_SQRT_2PI
    grad *= cdf + z * pdf
    return grad


def sigmoid_forward(xp: Any, z: Any) -> Any:
    """Sigmoid: f(z) = 1 / (1 + exp(-z)), without overflow."""
    # 1 / (1 + exp(-z)) without overflow: exp(-|z|) is always <= 1
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place, from the output ``a``."""
    # f'(z) = a (1 - a)
    grad *= a * (1.0 - a)
    return grad


def tanh_forward(xp: Any, z: Any, out: Any = None) -> Any:
    """Tanh: f(z) = tanh(z)."""
    return xp.tanh(z, out=out)


def tanh_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place, from the output ``a``."""
    # f'(z) = 1 - a^2
    grad *= 1.0 - a * a
    return grad


def softmax_forward(xp: Any, z: Any, out: Any = None) -> Any:
    """f(z)_i = exp(z_i) / sum_j exp(z_j), over each row."""
    # exp(z - max) / sum: shifting by the row max keeps exp from overflowing
    e = xp.subtract(z, z.max(axis=1, keepdims=True), out=out)
    xp.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = J^T grad, in place, from the output ``a``."""
    # dz_i = a_i (g_i - sum_j g_j a_j)   (the Jacobian-vector product)
    dot = (grad * a).sum(axis=1, keepdims=True)
    grad -= dot
    grad *= a
    return grad


def softplus_forward(xp: Any, z: Any) -> Any:
    """Softplus: f(z) = log(1 + exp(z)), without overflow."""
    # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def softplus_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place."""
    # f'(z) = sigmoid(z)
    grad *= sigmoid_forward(xp, z)
    return grad


def swish_forward(xp: Any, z: Any) -> Any:
    """Swish (SiLU): f(z) = z sigmoid(z)."""
    # z * sigmoid(z)  (also called SiLU)
    return z * sigmoid_forward(xp, z)


def swish_backward(xp: Any, z: Any, a: Any, grad: Any) -> Any:
    """dL/dz = grad * f'(z), in place."""
    # f'(z) = s (1 + z (1 - s)), s = sigmoid(z)
    s = sigmoid_forward(xp, z)
    grad *= s * (1.0 + z * (1.0 - s))
    return grad


# --- the table ----------------------------------------------------------------


def LeakyReLU(negative_slope: float = 0.2) -> Activation:
    """leaky_relu with a chosen negative slope (Keras' function default: 0.2).

    Parameters
    ----------
    negative_slope
        The slope for ``z <= 0``.

    Returns
    -------
    Activation

    Raises
    ------
    ArgumentError
        If ``negative_slope`` is NaN or infinite.
    ArgumentTypeError
        If ``negative_slope`` is not a number.
    """
    negative_slope = check_number("negative_slope", negative_slope)
    forward, backward = make_leaky_relu(negative_slope)
    return Activation("leaky_relu", forward, backward, {"negative_slope": negative_slope})


def ELU(alpha: float = 1.0) -> Activation:
    """ELU with a chosen alpha (default 1.0).

    Parameters
    ----------
    alpha
        ``f(z) = alpha (exp(z) - 1)`` for ``z <= 0``.

    Returns
    -------
    Activation

    Raises
    ------
    ArgumentError
        If ``alpha`` is NaN or infinite.
    ArgumentTypeError
        If ``alpha`` is not a number.
    """
    alpha = check_number("alpha", alpha)
    forward, backward = make_elu(alpha)
    return Activation("elu", forward, backward, {"alpha": alpha})


linear = Activation("linear", linear_forward, linear_backward, from_output=True)
relu = Activation("relu", relu_forward, relu_backward, from_output=True, writes_out=True)
sigmoid = Activation("sigmoid", sigmoid_forward, sigmoid_backward, from_output=True)
tanh = Activation("tanh", tanh_forward, tanh_backward, from_output=True, writes_out=True)
softmax = Activation(
    "softmax", softmax_forward, softmax_backward, from_output=True, writes_out=True
)
gelu = Activation("gelu", gelu_forward, gelu_backward)
softplus = Activation("softplus", softplus_forward, softplus_backward)
swish = Activation("swish", swish_forward, swish_backward)

ACTIVATIONS: Registry[Activation] = Registry("activation", Activation)


def _always(activation: Activation) -> Callable[[], Activation]:
    """A factory of ``activation`` that takes no parameters (and is named for it in errors)."""

    def make() -> Activation:
        return activation

    make.__name__ = make.__qualname__ = activation.name
    return make


ACTIVATIONS.register("linear", _always(linear), aliases=("identity",))
ACTIVATIONS.register("relu", _always(relu))
ACTIVATIONS.register("leaky_relu", LeakyReLU)
ACTIVATIONS.register("elu", ELU)
ACTIVATIONS.register("gelu", _always(gelu))
ACTIVATIONS.register("sigmoid", _always(sigmoid))
ACTIVATIONS.register("tanh", _always(tanh))
ACTIVATIONS.register("softmax", _always(softmax))
ACTIVATIONS.register("softplus", _always(softplus))
ACTIVATIONS.register("swish", _always(swish), aliases=("silu",))

NAMES = ACTIVATIONS.names


def get(identifier: str | dict | Activation | None) -> Activation:
    """Resolve a name, a config dict or an :class:`Activation`.

    Parameters
    ----------
    identifier
        A registered name or alias (``"relu"``, ``"silu"``), a config dict as
        :meth:`Activation.get_config` writes it (``{"name": "elu", "alpha": 0.5}``), an
        :class:`Activation` (returned as it is), or None (or a dict without a name) for
        ``linear``, as Keras reads no activation.

    Returns
    -------
    Activation

    Raises
    ------
    ArgumentError
        If the name is unknown (the message lists the known ones) or the parameters are
        refused.
    ArgumentTypeError
        If ``identifier`` is none of these; a plain callable is told how to wrap itself,
        since backpropagation needs its derivative too.
    """
    if identifier is None:
        identifier = "linear"
    elif isinstance(identifier, dict) and identifier.get("name") is None:
        identifier = {**identifier, "name": "linear"}
    elif callable(identifier) and not isinstance(identifier, Activation):
        raise ArgumentTypeError(
            f"activation {identifier!r} is a plain callable; densekit needs its derivative too: "
            "wrap it as densekit.activations.Activation(name, forward, backward) "
            f"or use one of {', '.join(NAMES)}"
        )
    return ACTIVATIONS.resolve(identifier)


leaky_relu = LeakyReLU()
elu = ELU()
