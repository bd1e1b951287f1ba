"""Losses: each one's value and gradient, side by side.

A loss gives a value per sample, ``per_sample(xp, y, p) -> (n,)`` (the mean
over outputs, Keras-style; cross-entropies sum over the class axis, which is
one distribution, not several outputs), and its gradient ``gradient(xp, y, p)
= d per_sample / d p``. The model reduces as Keras does:
``L = sum_i w_i * l_i / n``, so the gradient is scaled by ``w_i / n``.

Cross-entropies also have ``*_from_logits`` forms: when the last layer is
softmax (sigmoid) and the loss is categorical (binary) cross-entropy, the model
computes the loss from the logits ``z`` with log-sum-exp and uses the fused
gradient ``dL/dz = p - y`` — exact and stable where ``log(p)`` would not be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .errors import ArgumentError, InputError
from .registry import Registry
from .validation import check_bool, check_number, check_positive_int, check_y

EPSILON = 1e-7  # Keras' clip for log(p)


@dataclass(frozen=True)
class Loss:
    """Base: the name, the fused-activation partner and target preparation.

    A subclass defines ``per_sample`` and ``gradient`` (and, to fuse with
    :attr:`fuses_with`, ``per_sample_from_logits`` and ``gradient_from_logits``); its
    dataclass fields are its parameters, which ``get_config`` writes.
    """

    name: ClassVar[str] = "loss"
    #: the final activation whose gradient this loss can fuse with, if any
    fuses_with: ClassVar[str | None] = None

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``l_i``: shape ``(n,)``.

        Parameters
        ----------
        xp
            The array module (numpy or cupy).
        y
            Prepared targets, shaped like ``p``.
        p
            The model's output, ``(n, outputs)``.

        Returns
        -------
        array
            ``(n,)``.
        """
        raise NotImplementedError

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p`` (not yet divided by ``n``); see :meth:`per_sample`."""
        raise NotImplementedError

    def mean_and_gradient(self, xp: Any, y: Any, p: Any) -> tuple[float, Any]:
        """The batch loss ``mean_i l_i`` (a float) and its gradient ``gradient / n``.

        The training step's path when there are no sample weights; a loss may
        override it to compute both in fewer passes.
        """
        n = p.shape[0]
        grad = self.gradient(xp, y, p)
        grad *= 1.0 / n
        return float(self.per_sample(xp, y, p).sum()) / n, grad

    def mean_and_gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> tuple[float, Any]:
        """:meth:`mean_and_gradient` for the fused case: from the logits ``z`` (``p = f(z)``)."""
        n = z.shape[0]
        grad = self.gradient_from_logits(xp, y, z, p)
        grad *= 1.0 / n
        return float(self.per_sample_from_logits(xp, y, z).sum()) / n, grad

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """Check ``y`` and shape it like the model's output ``(n, n_outputs)``.

        Parameters
        ----------
        y
            The targets as the user gives them.
        n_outputs
            The model's output width.
        dtype
            The model's float type.

        Returns
        -------
        ndarray
            ``(n, n_outputs)`` of ``dtype``.

        Raises
        ------
        InputError
            If ``y`` is not numeric, or its shape or values do not fit the loss.
        """
        y = check_y(y)
        if y.ndim == 1 and n_outputs == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise InputError(
                f"y has shape {y.shape}, but the model has {n_outputs} output(s): "
                f"expected (samples, {n_outputs})" + (" or (samples,)" if n_outputs == 1 else "")
            )
        return y.astype(dtype, copy=False)

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, which :func:`get` reads back."""
        return {"name": self.name}


# --- regression ---------------------------------------------------------------


@dataclass(frozen=True)
class MeanSquaredError(Loss):
    """Mean squared error: l = mean_k (p_k - y_k)^2."""

    name: ClassVar[str] = "mean_squared_error"

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        e = p - y
        e *= e
        if p.shape[1] == 1:  # one output: its squared error is the mean
            return e[:, 0]
        return e.sum(axis=1) * (1.0 / p.shape[1])  # the mean, without np.mean's overhead

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        e = p - y
        e *= 2.0 / p.shape[1]
        return e

    def mean_and_gradient(self, xp: Any, y: Any, p: Any) -> tuple[float, Any]:
        """The batch loss and its gradient in one pass over ``e = p - y``."""
        # e = p - y once: the mean is e.e / (n k), the gradient 2 e / (n k), scaled as the
        # weighted path scales it (by 2/k, then 1/n; one exact step when k = 1). These are
        # this class's formulas: a subclass that changes per_sample or gradient (sklearn's
        # half squared error) gets the generic path built from its own
        if type(self) is not MeanSquaredError:
            return super().mean_and_gradient(xp, y, p)
        n, k = p.shape
        e = p - y
        value = float(xp.vdot(e.ravel(), e.ravel())) / e.size
        if k == 1:
            e *= 2.0 * (1.0 / n)
        else:
            e *= 2.0 / k
            e *= 1.0 / n
        return value, e


@dataclass(frozen=True)
class MeanAbsoluteError(Loss):
    """Mean absolute error: ``l = mean_k |p_k - y_k|``."""

    name: ClassVar[str] = "mean_absolute_error"

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        return xp.abs(p - y).mean(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        return xp.sign(p - y) * (1.0 / p.shape[1])


@dataclass(frozen=True)
class Huber(Loss):
    """Huber loss: ``l = mean_k (e^2/2 if |e| <= delta else delta (|e| - delta/2))``, ``e = p - y``."""

    name: ClassVar[str] = "huber"
    delta: float = 1.0

    def __post_init__(self):
        delta = check_number("huber delta", self.delta, 0.0, open_low=True)
        object.__setattr__(self, "delta", delta)  # frozen: keep the checked float

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        e = xp.abs(p - y)
        quadratic = xp.minimum(e, self.delta)
        return (0.5 * quadratic * quadratic + self.delta * (e - quadratic)).mean(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        return xp.clip(p - y, -self.delta, self.delta) * (1.0 / p.shape[1])

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, which :func:`get` reads back."""
        return {"name": self.name, "delta": float(self.delta)}


@dataclass(frozen=True)
class Poisson(Loss):
    """Poisson loss: l = mean_k (p_k - y_k log p_k); with log_input, mean_k (exp(z_k) - y_k z_k).

    The Poisson negative log-likelihood without its constant ``log(y!)``
    (Keras' ``poisson``; ``log_input=True`` is PyTorch's ``PoissonNLLLoss``
    default, for a linear output that predicts ``log`` of the rate). Gradient:
    ``1 - y / p``, or ``exp(z) - y`` from the log rate. Targets are counts or
    rates ``y >= 0``.
    """

    name: ClassVar[str] = "poisson"
    log_input: bool = False

    def __post_init__(self):
        check_bool("log_input", self.log_input)

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        if self.log_input:
            return (xp.exp(p) - y * p).mean(axis=1)
        return (p - y * xp.log(p + EPSILON)).mean(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        if self.log_input:
            return (xp.exp(p) - y) * (1.0 / p.shape[1])
        return (1.0 - y / (p + EPSILON)) * (1.0 / p.shape[1])

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """Check the targets as :meth:`Loss.prepare_targets` does, and this loss's range."""
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.size and y.min() < 0:
            raise InputError(f"poisson needs targets >= 0, got a minimum of {y.min()}")
        return y

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, which :func:`get` reads back."""
        return {"name": self.name, "log_input": self.log_input}


# --- classification -----------------------------------------------------------


@dataclass(frozen=True)
class BinaryCrossentropy(Loss):
    """Binary cross-entropy: l = -mean_k [y log p + (1 - y) log(1 - p)].

    From logits ``z``: ``max(z, 0) - z y + log1p(exp(-|z|))``.
    """

    name: ClassVar[str] = "binary_crossentropy"
    from_logits: bool = False
    #: Keras' ``label_smoothing``: targets become ``y (1 - ls) + ls / 2``
    label_smoothing: float = 0.0

    def __post_init__(self):
        check_bool("from_logits", self.from_logits)
        _check_smoothing(self)

    fuses_with: ClassVar[str | None] = "sigmoid"

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        if self.from_logits:
            return self.per_sample_from_logits(xp, y, p)
        p = xp.clip(p, EPSILON, 1.0 - EPSILON)
        return -(y * xp.log(p) + (1.0 - y) * xp.log1p(-p)).mean(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        if self.from_logits:
            return self.gradient_from_logits(xp, y, p, _sigmoid(xp, p))
        inside = (p > EPSILON) & (p < 1.0 - EPSILON)  # the clip has zero gradient outside
        p = xp.clip(p, EPSILON, 1.0 - EPSILON)
        return (p - y) / (p * (1.0 - p)) * inside * (1.0 / p.shape[1])

    def per_sample_from_logits(self, xp: Any, y: Any, z: Any) -> Any:
        """The loss of each sample from the logits ``z``, ``(n,)``."""
        # -y log s(z) - (1 - y) log(1 - s(z)) = softplus(z) - y z, stable for any z
        return (_softplus(xp, z) - z * y).mean(axis=1)

    def gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> Any:
        """``d l_i / d z`` from the logits ``z`` and ``p = f(z)``."""
        return (p - y) * (1.0 / z.shape[1])

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """Check the targets as :meth:`Loss.prepare_targets` does, and this loss's range."""
        y = super().prepare_targets(y, n_outputs, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise InputError(
                f"binary_crossentropy needs targets in [0, 1], got values from {y.min()} to {y.max()}"
            )
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, which :func:`get` reads back."""
        return _smoothing_config(self, {"name": self.name, "from_logits": self.from_logits})


@dataclass(frozen=True)
class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy: l = -sum_k y_k log p_k.

    From logits ``z``: ``sum_k y_k (logsumexp(z) - z_k)``.
    """

    name: ClassVar[str] = "categorical_crossentropy"
    from_logits: bool = False
    #: Keras' ``label_smoothing``: targets become ``y (1 - ls) + ls / classes``
    label_smoothing: float = 0.0

    def __post_init__(self):
        check_bool("from_logits", self.from_logits)
        _check_smoothing(self)

    fuses_with: ClassVar[str | None] = "softmax"

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The loss of each sample, ``(n,)``; see :meth:`Loss.per_sample`."""
        if self.from_logits:
            return self.per_sample_from_logits(xp, y, p)
        return -(y * xp.log(xp.clip(p, EPSILON, 1.0 - EPSILON))).sum(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``, shaped like ``p``; see :meth:`Loss.gradient`."""
        if self.from_logits:
            return self.gradient_from_logits(xp, y, p, _softmax(xp, p))
        inside = (p > EPSILON) & (p < 1.0 - EPSILON)
        return -y / xp.clip(p, EPSILON, 1.0 - EPSILON) * inside

    def per_sample_from_logits(self, xp: Any, y: Any, z: Any) -> Any:
        """The loss of each sample from the logits ``z``, ``(n,)``."""
        return -(y * _log_softmax(xp, z)).sum(axis=1)

    def mean_and_gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> tuple[float, Any]:
        """The batch loss from the logits, log-sum-exp read off ``p``, and its gradient."""
        # log-sum-exp without another exp pass: at each row's largest logit z_top the softmax
        # output is p_top = exp(z_top - lse), so lse = z_top - log(p_top); p_top >= 1/k, so
        # the log is safe, and the loss stays exact where log(p_y) would underflow
        n = z.shape[0]
        rows, top = xp.arange(n), z.argmax(axis=1)
        lse = z[rows, top] - xp.log(p[rows, top])
        value = float(xp.vdot(y, lse[:, None] - z)) / n  # mean_i sum_k y_ik (lse_i - z_ik)
        grad = self.gradient_from_logits(xp, y, z, p)
        grad *= 1.0 / n
        return value, grad

    def gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> Any:
        """``d l_i / d z`` from the logits ``z`` and ``p = f(z)``."""
        # d/dz sum_k y_k (lse - z_k) = p * sum_k y_k - y  (= p - y for one-hot y)
        return p * y.sum(axis=1, keepdims=True) - y

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """Check the targets as :meth:`Loss.prepare_targets` does, and this loss's range."""
        y = check_y(y)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            hint = (
                "; for integer labels use loss='sparse_categorical_crossentropy'"
                if y.ndim == 1
                else ""
            )
            raise InputError(
                f"categorical_crossentropy needs one-hot targets of shape (samples, {n_outputs}), "
                f"got {y.shape}{hint}"
            )
        if y.size and (y.min() < 0 or y.max() > 1):
            raise InputError("categorical_crossentropy needs target probabilities in [0, 1]")
        return self.smooth(y.astype(dtype, copy=False))

    def smooth(self, y: Any) -> Any:
        """Keras' label smoothing of one-hot (or probability) rows: ``y (1 - ls) + ls / k``.

        Parameters
        ----------
        y
            Targets ``(n, k)``.

        Returns
        -------
        array
            The smoothed targets (``y`` itself when ``label_smoothing`` is 0).
        """
        if not self.label_smoothing:
            return y
        return y * (1.0 - self.label_smoothing) + self.label_smoothing / y.shape[1]

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, which :func:`get` reads back."""
        return _smoothing_config(self, {"name": self.name, "from_logits": self.from_logits})


@dataclass(frozen=True)
class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels: l = -log p_y.

    Targets are kept as one-hot rows internally, so the formulas are the
    categorical ones; the labels are checked to be integers in [0, classes).
    """

    name: ClassVar[str] = "sparse_categorical_crossentropy"

    def gradient_from_logits(self, xp: Any, y: Any, z: Any, p: Any) -> Any:
        """``d l_i / d z`` from the logits ``z`` and ``p = f(z)``."""
        # the prepared targets are one-hot rows (sum_k y_k = 1), so p * sum_k y_k - y = p - y
        return p - y

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """Check the targets as :meth:`Loss.prepare_targets` does, and this loss's range."""
        y = check_y(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise InputError(
                f"sparse_categorical_crossentropy needs integer labels of shape (samples,), "
                f"got {y.shape}; for one-hot targets use loss='categorical_crossentropy'"
            )
        labels = y.astype(np.int64)
        if np.any(labels != y):
            raise InputError("sparse_categorical_crossentropy needs integer class labels")
        if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
            hint = (
                "; sparse_categorical_crossentropy needs one output per class: end with "
                "Dense(n_classes, activation='softmax'), or for two classes use one sigmoid "
                "output with loss='binary_crossentropy'"
                if n_outputs == 1
                else ""
            )
            raise InputError(
                f"labels must be in [0, {n_outputs}) for a model with {n_outputs} outputs, "
                f"got values from {labels.min()} to {labels.max()}{hint}"
            )
        one_hot = np.zeros((labels.size, n_outputs), dtype=dtype)
        one_hot[np.arange(labels.size), labels] = 1
        return self.smooth(one_hot)


def _check_smoothing(loss: Loss) -> None:
    value = check_number("label_smoothing", loss.label_smoothing, 0.0, 1.0)
    object.__setattr__(loss, "label_smoothing", value)  # frozen: keep the checked float


def _smoothing_config(loss: Loss, config: dict) -> dict:
    # written only when set, so files of models without smoothing read as before
    if loss.label_smoothing:
        config["label_smoothing"] = loss.label_smoothing
    return config


@dataclass(frozen=True)
class MemberMean(Loss):
    """An ensemble's loss: each of ``k`` members' own loss, averaged, ``l = mean_i loss(y, p_i)``.

    The model's output is ``(n, k * c)``, member ``i``'s ``c`` outputs in columns
    ``i*c .. i*c + c`` (a :class:`densekit.layers.BatchEnsembleDense` head). Each member
    is trained on its own loss, not on the averaged prediction (TabM's choice, which keeps
    the members diverse); :meth:`average` gives the ensemble's prediction.

    Parameters
    ----------
    loss
        Each member's loss, a name, config or :class:`Loss` (for classification a
        ``from_logits=True`` cross-entropy, since a softmax over all members' outputs
        would mix them).
    members
        ``k``.

    Raises
    ------
    ArgumentError
        If ``members`` is not a positive integer or ``loss`` is unknown or a MemberMean.
    """

    name: ClassVar[str] = "member_mean"
    loss: Any = "mean_squared_error"
    members: int = 8

    def __post_init__(self):
        inner = get(self.loss)
        if isinstance(inner, MemberMean):
            raise ArgumentError("MemberMean's loss cannot itself be a MemberMean")
        object.__setattr__(self, "loss", inner)
        object.__setattr__(self, "members", check_positive_int("members", self.members))

    def _split(self, a: Any) -> Any:
        n, width = a.shape
        return a.reshape(n * self.members, width // self.members)

    def per_sample(self, xp: Any, y: Any, p: Any) -> Any:
        """The members' losses, averaged, ``(n,)``; see :meth:`Loss.per_sample`."""
        n = p.shape[0]
        each = self.loss.per_sample(xp, self._split(y), self._split(p))
        return each.reshape(n, self.members).mean(axis=1)

    def gradient(self, xp: Any, y: Any, p: Any) -> Any:
        """``d l_i / d p``: each member's gradient over ``k``; see :meth:`Loss.gradient`."""
        grad = self.loss.gradient(xp, self._split(y), self._split(p)).reshape(p.shape)
        grad *= 1.0 / self.members
        return grad

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any) -> np.ndarray:
        """The inner loss's targets for ``n_outputs / k`` outputs, repeated for each member."""
        if n_outputs % self.members:
            raise InputError(
                f"member_mean with {self.members} members needs a model output width that is a "
                f"multiple of {self.members}, got {n_outputs}"
            )
        one = self.loss.prepare_targets(y, n_outputs // self.members, dtype)
        return np.tile(one, (1, self.members))

    def average(self, outputs: Any, activation: str | None = None) -> np.ndarray:
        """The ensemble's prediction: the members' outputs (after ``activation``), averaged.

        Parameters
        ----------
        outputs
            The model's output, ``(n, k * c)``.
        activation
            None for regression, ``"softmax"`` (or ``"sigmoid"``) to average the members'
            probabilities from their logits.

        Returns
        -------
        ndarray
            ``(n, c)``.

        Raises
        ------
        ArgumentError
            If ``activation`` is not None, ``"softmax"`` or ``"sigmoid"``.
        """
        outputs = np.asarray(outputs)
        n = outputs.shape[0]
        each = self._split(outputs)
        if activation == "softmax":
            each = _softmax(np, each)
        elif activation == "sigmoid":
            each = _sigmoid(np, each)
        elif activation is not None:
            raise ArgumentError(
                f"activation must be None, 'softmax' or 'sigmoid', got {activation!r}"
            )
        return each.reshape(n, self.members, -1).mean(axis=1)

    def get_config(self) -> dict:
        """``{"name": ..., "loss": <inner config>, "members": k}``, which :func:`get` reads back."""
        return {"name": self.name, "loss": self.loss.get_config(), "members": self.members}


#: the losses whose fused value and gradient cpu_kernels.cross_entropy_from_logits computes
#: in one pass, with these formulas (not their subclasses, which may change either)
COMPILED_CROSSENTROPY = (CategoricalCrossentropy, SparseCategoricalCrossentropy)


# --- helpers ------------------------------------------------------------------


def _log_softmax(xp, z):
    """Log-softmax: log p = (z - max) - log(sum exp(z - max)).

    No overflow, and no cancellation of the max against z_k, which in float32 would
    lose the small log term beside a large logit.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _softmax(xp, z):
    from .activations import softmax_forward

    return softmax_forward(xp, z)


def _softplus(xp, z):
    from .activations import softplus_forward

    return softplus_forward(xp, z)


def _sigmoid(xp, z):
    from .activations import sigmoid_forward

    return sigmoid_forward(xp, z)


LOSSES: Registry[Loss] = Registry("loss", Loss)
LOSSES.register("mean_squared_error", MeanSquaredError, aliases=("mse",))
LOSSES.register("mean_absolute_error", MeanAbsoluteError, aliases=("mae",))
LOSSES.register("huber", Huber, aliases=("huber_loss",))
LOSSES.register("poisson", Poisson)
LOSSES.register("binary_crossentropy", BinaryCrossentropy)
LOSSES.register("categorical_crossentropy", CategoricalCrossentropy)
LOSSES.register("sparse_categorical_crossentropy", SparseCategoricalCrossentropy)
LOSSES.register("member_mean", MemberMean)
NAMES = LOSSES.names


def get(identifier: str | dict | Loss) -> Loss:
    """Resolve a name (or Keras alias such as 'mse'), a config dict or a :class:`Loss`.

    Parameters
    ----------
    identifier
        A registered name or alias, a config dict as :meth:`Loss.get_config` writes it
        (``{"name": "huber", "delta": 2.0}``), or a :class:`Loss` (returned as it is).

    Returns
    -------
    Loss
        A new loss for a name or a dict.

    Raises
    ------
    ArgumentError
        If the name is unknown (the message lists the known ones) or the parameters are
        refused.
    ArgumentTypeError
        If ``identifier`` is none of these.
    """
    return LOSSES.resolve(identifier)
