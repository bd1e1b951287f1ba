"""Normalization layers: BatchNormalization (learned, per batch) and Normalization (adapted once).

BatchNormalization, per feature, with ``N`` rows in the batch::

    training   mu = mean(x)   var = mean((x - mu)^2)          (biased, as Keras)
               x_hat = (x - mu) / sqrt(var + eps)             y = gamma * x_hat + beta
               moving = momentum * moving + (1 - momentum) * batch_statistic
    inference  y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta
    backward   dgamma = sum(dy * x_hat)    dbeta = sum(dy)
               dx = gamma / (N sqrt(var + eps)) * (N dy - sum(dy) - x_hat * sum(dy * x_hat))

Normalization: ``y = (x - mean) / sqrt(variance)`` with ``mean`` and
``variance`` learned once by ``adapt(x)`` and stored as non-trainable weights.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import initializers, regularizers
from ..errors import ArgumentError, ArgumentTypeError, InputError, NotBuiltError
from ..validation import check_positive_int
from .base import Layer, WeightSpec

if TYPE_CHECKING:
    from ..backend import Backend


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return value


def _declared(input_dim: int | None) -> int | None:
    return None if input_dim is None else check_positive_int("input_dim", input_dim)


class BatchNormalization(Layer):
    """Normalize each feature over the batch, then scale and shift (Keras' arguments).

    Weights, in order: ``gamma`` (if ``scale``), ``beta`` (if ``center``),
    ``moving_mean``, ``moving_variance`` (non-trainable).

    PyTorch's ``nn.BatchNorm1d`` computes the same training output and
    gradients; its conventions differ in two ways. Its momentum weights the
    *new* statistic, so ``momentum_torch = 1 - momentum_keras`` (Keras 0.99 is
    torch 0.01; torch's default 0.1 is Keras 0.9), and ``eps`` is ``epsilon``
    (torch's default 1e-5, ours 1e-3). Its running variance is updated with the
    *unbiased* batch variance ``var * N / (N - 1)``, ours with the biased one, so
    after one step from the same state the two moving variances differ by
    ``(1 - momentum) * var / (N - 1)``. Converting trained weights is a copy:
    ``gamma = weight``, ``beta = bias``, ``moving_mean = running_mean``,
    ``moving_variance = running_var`` (both are estimates of the population
    variance used at inference).

    Parameters
    ----------
    momentum
        ``moving = momentum * moving + (1 - momentum) * batch_statistic``, in [0, 1].
    epsilon
        Added to the variance before the square root, > 0.
    center
        Learn the shift ``beta``.
    scale
        Learn the scale ``gamma``.
    beta_initializer
        Initializer (name or object) of the shift.
    gamma_initializer
        Initializer of the scale.
    moving_mean_initializer
        Initializer of the moving mean.
    moving_variance_initializer
        Initializer of the moving variance.
    beta_regularizer
        Penalty on the shift, or None.
    gamma_regularizer
        Penalty on the scale, or None.
    input_dim
        The number of features, to build a model that starts with this layer at construction.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentError
        If ``momentum`` is not in [0, 1] or ``epsilon`` is not a finite number > 0.
    """

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: str | initializers.Initializer = "zeros",
        gamma_initializer: str | initializers.Initializer = "ones",
        moving_mean_initializer: str | initializers.Initializer = "zeros",
        moving_variance_initializer: str | initializers.Initializer = "ones",
        beta_regularizer: regularizers.Regularizer | str | None = None,
        gamma_regularizer: regularizers.Regularizer | str | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise ArgumentError(f"momentum must be a number in [0, 1], got {momentum!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ArgumentError(f"momentum must be in [0, 1], got {momentum}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
            raise ArgumentError(f"epsilon must be a number > 0, got {epsilon!r}")
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ArgumentError(f"epsilon must be a finite number > 0, got {epsilon}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = _check_flag("center", center)
        self.scale = _check_flag("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.declared_input_dim = _declared(input_dim)

    def weight_specs(self) -> list[WeightSpec]:
        """``gamma``, ``beta`` (as configured), ``moving_mean``, ``moving_variance``."""
        shape = (self.input_dim,)
        specs = []
        if self.scale:
            specs.append(
                WeightSpec(
                    "gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer
                )
            )
        if self.center:
            specs.append(
                WeightSpec("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer)
            )
        specs.append(WeightSpec("moving_mean", shape, self.moving_mean_initializer, False))
        specs.append(WeightSpec("moving_variance", shape, self.moving_variance_initializer, False))
        return specs

    def forward(self, x: Any, training: bool) -> Any:
        """``y = gamma * (x - mu) / sqrt(var + eps) + beta``.

        In training ``mu`` and ``var`` are the batch's (and update the moving statistics);
        at inference they are the moving statistics.
        """
        xp = self.backend.xp
        if training:
            mean = x.mean(axis=0)
            centered = x - mean
            variance = (centered * centered).mean(axis=0)
            self._update_moving(mean, variance)
        else:
            mean, variance = self.weights["moving_mean"], self.weights["moving_variance"]
            centered = x - mean
        inv_std = 1.0 / xp.sqrt(variance + self.epsilon)
        x_hat = centered
        x_hat *= inv_std
        self._x_hat, self._inv_std, self._training = x_hat, inv_std, training
        y = x_hat * self.weights["gamma"] if self.scale else x_hat.copy()
        if self.center:
            y += self.weights["beta"]
        return y

    def _update_moving(self, mean: Any, variance: Any) -> None:
        """Update the moving statistics: ``moving = momentum * moving + (1 - momentum) * batch``."""
        for name, value in (("moving_mean", mean), ("moving_variance", variance)):
            moving = self.weights[name]
            moving *= self.momentum
            moving += (1.0 - self.momentum) * value

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """``dgamma``, ``dbeta`` into the gradients; ``dx`` as in the module docstring.

        At inference the statistics are constants, so ``dx = gamma * dy / sqrt(var + eps)``.
        """
        x_hat = self._x_hat
        if self.center and "beta" in self.grads:  # not when frozen (trainable=False)
            grad.sum(axis=0, out=self.grads["beta"])
        if self.scale and "gamma" in self.grads:
            (grad * x_hat).sum(axis=0, out=self.grads["gamma"])
        if not need_input_grad:
            return None
        dx_hat = grad * self.weights["gamma"] if self.scale else grad
        if not self._training:  # moving statistics are constants: dx = dx_hat / sqrt(var + eps)
            return dx_hat * self._inv_std
        n = grad.shape[0]
        sum_dx_hat = dx_hat.sum(axis=0)
        sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=0)
        dx = dx_hat * n
        dx -= sum_dx_hat
        dx -= x_hat * sum_dx_hat_x_hat
        dx *= self._inv_std / n
        return dx

    def get_config(self) -> dict:
        """The constructor's arguments, initializers and regularizers as configs."""
        return {
            "name": self.name,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": self.beta_initializer.get_config(),
            "gamma_initializer": self.gamma_initializer.get_config(),
            "moving_mean_initializer": self.moving_mean_initializer.get_config(),
            "moving_variance_initializer": self.moving_variance_initializer.get_config(),
            "beta_regularizer": _regularizer_config(self.beta_regularizer),
            "gamma_regularizer": _regularizer_config(self.gamma_regularizer),
            "input_dim": self.declared_input_dim,
        }


def _regularizer_config(regularizer):
    return None if regularizer is None else regularizer.get_config()


class _Values:
    """An initializer that returns fixed values (the statistics ``adapt`` learned)."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def __call__(self, shape, rng, dtype=np.float32) -> np.ndarray:
        return np.asarray(self.values, dtype=dtype).reshape(shape)


class Normalization(Layer):
    """Scale features with statistics learned once by :meth:`adapt`: ``y = (x - mean) / sqrt(variance)``.

    ``mode="standard"`` stores each column's mean and (biased) variance, so
    outputs have mean 0 and variance 1 on the adapted data. ``mode="minmax"``
    stores ``mean = (max + min) / 2`` and ``variance = ((max - min) / 2)^2``, so
    outputs land in ``[-1, 1]``. Both are non-trainable weights, saved in the
    model file. A constant column (max == min) gets ``variance = 1`` instead of
    0, so it maps to ``x - mean`` (0 on the adapted data) rather than dividing
    by zero; ``adapt`` warns and names such columns.

    As the first layer of an unbuilt model, ``adapt(x)`` fixes the layer's input
    width and ``fit`` builds the model from it; on a built model (``input_dim=``)
    it writes the statistics straight into the model's weights.

    Parameters
    ----------
    mode
        ``"standard"`` or ``"minmax"``.
    mean
        Means to use instead of :meth:`adapt`'s, one per feature (give both or neither).
    variance
        Variances to go with ``mean``, each > 0.
    input_dim
        The number of features, to build a model that starts with this layer at construction.
    adapted
        Whether the statistics are set (as a model file records it); None: whether
        ``mean`` was given.
    name
        The layer's name; None lets the model name it.

    Raises
    ------
    ArgumentError
        If ``mode`` is unknown, or only one of ``mean`` and ``variance`` is given, or they
        are not finite, of one length, with every variance > 0.
    """

    MODES = ("standard", "minmax")

    def __init__(
        self,
        mode: str = "standard",
        mean: Any = None,
        variance: Any = None,
        input_dim: int | None = None,
        adapted: bool | None = None,
        name: str | None = None,
    ):
        super().__init__(name)
        if mode not in self.MODES:
            raise ArgumentError(f"Normalization mode must be 'standard' or 'minmax', got {mode!r}")
        self.mode = mode
        self.declared_input_dim = _declared(input_dim)
        self._pending: tuple[np.ndarray, np.ndarray] | None = None
        if (mean is None) != (variance is None):
            raise ArgumentError("give Normalization both mean and variance, or neither")
        if mean is not None:
            self._pending = self._check_given(mean, variance)
            self.declared_input_dim = self.declared_input_dim or len(self._pending[0])
        self.adapted = bool(adapted) if adapted is not None else mean is not None

    @staticmethod
    def _check_given(mean: Any, variance: Any) -> tuple[np.ndarray, np.ndarray]:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        variance = np.asarray(variance, dtype=np.float64).reshape(-1)
        if mean.shape != variance.shape or mean.size == 0:
            raise ArgumentError(
                f"mean and variance must be 1-D of the same length, got {mean.shape} and "
                f"{variance.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(variance).all()):
            raise ArgumentError("mean and variance must be finite")
        if (variance <= 0).any():
            raise ArgumentError(
                f"variance must be > 0 in every column; columns "
                f"{np.flatnonzero(variance <= 0).tolist()} are not"
            )
        return mean, variance

    def build(self, input_dim: int) -> int:
        """Fix the input width, which must match the statistics already given or adapted.

        Parameters
        ----------
        input_dim
            The number of features the layer receives.

        Returns
        -------
        int
            The same number: the layer keeps the width.

        Raises
        ------
        InputError
            If the statistics are for another number of features.
        """
        if self._pending is not None and len(self._pending[0]) != input_dim:
            raise InputError(
                f"Normalization {self.name!r} was adapted to {len(self._pending[0])} features, "
                f"but it receives {input_dim}"
            )
        return super().build(input_dim)

    def weight_specs(self) -> list[WeightSpec]:
        """``mean`` and ``variance``, non-trainable, filled with the statistics if known."""
        shape = (self.input_dim,)
        if self._pending is not None:
            mean, variance = (_Values(values) for values in self._pending)
        else:
            mean, variance = initializers.get("zeros"), initializers.get("ones")
        return [
            WeightSpec("mean", shape, mean, False),
            WeightSpec("variance", shape, variance, False),
        ]

    def bind(self, weights: dict[str, Any], grads: dict[str, Any], backend: Backend) -> None:
        """Receive the weight views; from now on they hold the statistics."""
        super().bind(weights, grads, backend)
        self._pending = None  # the model's weights hold the statistics from now on

    # --- learning the statistics -------------------------------------------------
    def adapt(self, x: Any) -> None:
        """Learn each column's statistics from ``x``, in float64.

        Parameters
        ----------
        x
            The data, 2-D ``(samples, features)`` and finite.

        Raises
        ------
        InputError
            If ``x`` is not numeric, not a non-empty 2-D array, of another width than the
            layer's, or not finite.
        """
        data = self._check_adapt_data(x)
        if self.mode == "standard":
            mean, variance = data.mean(axis=0), data.var(axis=0)
        else:
            high, low = data.max(axis=0), data.min(axis=0)
            mean, variance = (high + low) / 2.0, ((high - low) / 2.0) ** 2
        constant = np.flatnonzero(data.max(axis=0) == data.min(axis=0))
        if constant.size:
            variance[constant] = 1.0
            warnings.warn(
                f"Normalization.adapt: columns {_columns(constant)} are constant; they get "
                "variance 1 and map to x - mean (0 on this data)",
                stacklevel=2,
            )
        if self.weights:  # built: write into the model's weight buffer
            xp = self.backend.xp
            self.weights["mean"][...] = xp.asarray(mean, dtype=self.weights["mean"].dtype)
            self.weights["variance"][...] = xp.asarray(
                variance, dtype=self.weights["variance"].dtype
            )
        else:
            self._pending = (mean, variance)
            self.declared_input_dim = data.shape[1]
        self.adapted = True

    def _check_adapt_data(self, x: Any) -> np.ndarray:
        try:
            data = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"Normalization.adapt needs numeric data: {exc}") from exc
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
            raise InputError(
                f"Normalization.adapt needs a non-empty 2-D array (samples, features), "
                f"got shape {data.shape}"
            )
        if self.input_dim is not None and data.shape[1] != self.input_dim:
            raise InputError(
                f"Normalization.adapt got {data.shape[1]} features, but the layer was built for "
                f"{self.input_dim}"
            )
        finite = np.isfinite(data)
        if not finite.all():
            columns = np.flatnonzero(~finite.all(axis=0))
            raise InputError(
                f"Normalization.adapt: columns {_columns(columns)} contain NaN or infinite "
                "values; impute or drop them before adapting"
            )
        return data

    # --- computing ------------------------------------------------------------------
    def forward(self, x: Any, training: bool) -> Any:
        """``y = (x - mean) / sqrt(variance)``.

        Parameters
        ----------
        x
            The batch, ``(batch, features)``.
        training
            Unused: the statistics are fixed.

        Returns
        -------
        array
            The normalized batch.

        Raises
        ------
        NotBuiltError
            If the layer has no statistics yet (neither :meth:`adapt` nor ``mean=`` was used).
        """
        if not self.adapted:
            raise NotBuiltError(
                f"Normalization layer {self.name!r} has no statistics: call its adapt(x) "
                "(or give mean= and variance=) before fit or predict"
            )
        xp = self.backend.xp
        self._inv_std = 1.0 / xp.sqrt(self.weights["variance"])
        y = x - self.weights["mean"]
        y *= self._inv_std
        return y

    def backward(self, grad: Any, need_input_grad: bool = True) -> Any:
        """``dx = dy / sqrt(variance)``; the statistics get no gradient."""
        return grad * self._inv_std if need_input_grad else None

    def get_config(self) -> dict:
        """The layer's name, mode, input width and whether it is adapted (the statistics are weights)."""
        return {
            "name": self.name,
            "mode": self.mode,
            "input_dim": self.declared_input_dim,
            "adapted": self.adapted,
        }


def _columns(indices: np.ndarray, limit: int = 20) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    more = f", ... ({len(indices)} in all)" if len(indices) > limit else ""
    return f"[{shown}{more}]"
