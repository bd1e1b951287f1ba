"""Optimizers: one vectorized, in-place update over the model's flat buffer.

Each optimizer keeps its state (moments, velocities) as flat arrays the size
of the parameter buffer, so a step is a handful of in-place ufuncs with no
Python loop over layers, and checkpoints hold the state as plain arrays.

Conventions (see ARCHITECTURE.md): Adam is the paper's Algorithm 1, as in
PyTorch; SGD momentum is Keras' ``v = mu v - lr g; p += v``; RMSprop and
Adagrad put epsilon outside the square root, as PyTorch does. Defaults are
Keras'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import schedules
from ..backend import numba_kernels as cpu_kernels
from ..errors import ArgumentError, ArgumentTypeError, DensekitError
from ..validation import check_bool, check_number, refuse_unknown

#: elements per piece of a chunked update: the pieces of p, g, m, v and the scratch
#: (5 x 256 KiB in float32) stay in a core's L2 cache between the update's ufuncs
CHUNK = 1 << 16

#: Keras 2 arguments the optimizers know under another name
KERAS_RENAMED = {"lr": "is Keras 2's name: use learning_rate="}


def _positive_or_none(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value, 0.0, open_low=True)


class Optimizer:
    """Learning rate (a number or a schedule), clipping, the step counter and state."""

    #: names of the flat state arrays, in save order
    slots: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule = 1e-3,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        **unknown: Any,
    ):
        refuse_unknown(type(self).__name__, unknown, KERAS_RENAMED)
        self.learning_rate = learning_rate
        self.clipnorm = _positive_or_none("clipnorm", clipnorm)
        self.clipvalue = _positive_or_none("clipvalue", clipvalue)
        self.global_clipnorm = _positive_or_none("global_clipnorm", global_clipnorm)
        self.iterations = 0
        self.state: dict[str, Any] = {}
        self.slices: list[slice] = []
        self._kernels = None
        self._compiled = None

    # --- the learning rate ------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate for the next step (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        else:
            self._learning_rate = check_number("learning_rate", value, 0.0, open_low=True)

    # --- the step ---------------------------------------------------------------
    def build(self, params: Any, slices: list[slice], backend: Any = None) -> None:
        """Allocate state like ``params``; ``slices`` are the weights (for per-weight clipping).

        ``backend`` (the model's) brings fused device kernels for the update on a GPU.
        """
        xp = _xp(params)
        self._kernels = None if backend is None else backend.kernels
        # on the CPU: numba-compiled single-pass updates when installed (cpu_kernels)
        self._compiled = cpu_kernels.get() if xp is np and params.ndim == 1 else None
        self.slices = list(slices)
        self.state = {name: xp.zeros_like(params) for name in self.slots}
        self.iterations = 0
        # on the CPU, the update runs piece by piece so its temporaries stay in cache;
        # a GPU streams the whole buffer in one kernel per ufunc
        size = int(params.size)
        step = CHUNK if xp is np else max(size, 1)
        self._chunks = [slice(start, min(size, start + step)) for start in range(0, size, step)]
        scratch = self._scratch_size(size)
        self._scratch = (
            xp.empty_like(params) if scratch == size else xp.empty(scratch, dtype=params.dtype)
        )

    def _scratch_size(self, size: int) -> int:
        """Elements of work array the update needs (``size``: the parameter count)."""
        return size

    def apply_gradients(self, params: Any, grads: Any) -> None:
        """One update of ``params`` in place from ``grads`` (which may be clipped in place)."""
        if not self.state and self.slots:
            raise ArgumentError("optimizer was not built: compile the model first")
        self._clip(grads)
        self._update(params, grads, self.learning_rate, self.iterations + 1)
        self.iterations += 1

    def _update(self, params, grads, lr: float, t: int) -> None:
        raise NotImplementedError

    def _clip(self, grads) -> None:
        xp = _xp(grads)
        if self.clipvalue is not None:
            xp.clip(grads, -self.clipvalue, self.clipvalue, out=grads)
        if self.clipnorm is not None:
            for part in self.slices:
                _scale_to_norm(xp, grads[part], self.clipnorm)
        if self.global_clipnorm is not None:
            _scale_to_norm(xp, grads, self.global_clipnorm)

    # --- saving -----------------------------------------------------------------
    def get_config(self) -> dict:
        rate = self._learning_rate
        config = {
            "name": type(self).__name__,
            "learning_rate": rate.get_config()
            if isinstance(rate, schedules.LearningRateSchedule)
            else rate,
        }
        for key in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        config.update(self._hyperparameters())
        return config

    def _hyperparameters(self) -> dict:
        return {}


def _adam_step(xp, p, g, m, v, tmp, beta_1, beta_2, step, epsilon) -> None:
    """In place, no temporaries: m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v);
    p -= step * m / (sqrt(v) + epsilon)  (``step`` and ``epsilon`` carry the bias corrections)."""
    xp.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta_1
    m += tmp
    xp.multiply(g, g, out=tmp)
    tmp -= v
    tmp *= 1.0 - beta_2
    v += tmp
    xp.sqrt(v, out=tmp)
    tmp += epsilon
    xp.divide(m, tmp, out=tmp)
    tmp *= step
    p -= tmp


def _scale_to_norm(xp, g, max_norm: float) -> None:
    if xp is not np:  # on a device: no round trip to the host, scale by min(1, max/norm)
        norm = xp.sqrt((g * g).sum())
        g *= xp.minimum(1.0, max_norm / xp.maximum(norm, np.finfo(g.dtype).tiny))
        return
    flat = g.ravel()  # a view: the gradient buffer is contiguous
    norm = math.sqrt(float(np.vdot(flat, flat)))  # sum g^2 without a squared copy of g
    if norm > max_norm:
        g *= max_norm / norm


def _xp(array):
    if isinstance(array, np.ndarray):
        return np
    import cupy  # only reached for arrays on a GPU

    return cupy.get_array_module(array)


class SGD(Optimizer):
    """p -= lr g; with momentum (Keras): v = mu v - lr g, p += v; nesterov: p += mu v - lr g."""

    slots = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kw):
        super().__init__(learning_rate, **kw)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.nesterov = check_bool("nesterov", nesterov)
        if not self.momentum:
            self.slots = ()

    def _update(self, params, grads, lr, t):
        if self._kernels is not None:  # one fused kernel on a GPU
            if not self.momentum:
                self._kernels.sgd(params, grads, lr)
            else:
                velocity = self.state["velocity"]
                self._kernels.sgd_momentum(
                    params, grads, velocity, lr, self.momentum, self.nesterov
                )
            return
        if not self.momentum:
            grads *= lr
            params -= grads
            return
        velocity = self.state["velocity"]
        if self._compiled is not None:
            self._compiled.sgd_momentum(params, grads, velocity, lr, self.momentum, self.nesterov)
            return
        velocity *= self.momentum
        grads *= lr
        velocity -= grads
        if self.nesterov:
            params -= grads
            params += _xp(params).multiply(velocity, self.momentum, out=self._scratch)
        else:
            params += velocity

    def _scratch_size(self, size):
        return size if self.momentum and self.nesterov else 0  # only nesterov's mu v

    def _hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Algorithm 1 of Kingma & Ba (as PyTorch):

    m = b1 m + (1 - b1) g          v = b2 v + (1 - b2) g^2
    p -= lr * m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    """

    slots = ("m", "v")

    def __init__(
        self, learning_rate=1e-3, beta_1: float = 0.9, beta_2: float = 0.999, epsilon=1e-7, **kw
    ):
        super().__init__(learning_rate, **kw)
        self.beta_1 = check_number("beta_1", beta_1, 0.0, 1.0, open_high=True)
        self.beta_2 = check_number("beta_2", beta_2, 0.0, 1.0, open_high=True)
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def _scratch_size(self, size):
        # the update works one chunk at a time, so one chunk of scratch is enough
        return self._chunks[0].stop if self._chunks else 0

    def _update(self, params, grads, lr, t):
        xp, m, v, tmp = _xp(params), self.state["m"], self.state["v"], self._scratch
        if self._kernels is not None:  # one fused kernel on a GPU (AdamW's decay folded in)
            decay = 1.0 - lr * getattr(self, "weight_decay", 0.0)
            lr_t, c2 = lr / (1.0 - self.beta_1**t), 1.0 / math.sqrt(1.0 - self.beta_2**t)
            self._kernels.adam(
                params, grads, m, v, lr_t, c2, self.beta_1, self.beta_2, self.epsilon, decay
            )
            return
        # the paper's "more efficient" order (end of its section 2): with c = sqrt(1 - b2^t),
        # lr m_hat / (sqrt(v_hat) + eps) = (lr c / (1 - b1^t)) m / (sqrt(v) + eps c)
        correction = math.sqrt(1.0 - self.beta_2**t)
        step = lr * correction / (1.0 - self.beta_1**t)
        epsilon = self.epsilon * correction
        if self._compiled is not None:  # one compiled pass, decay folded in
            decay = 1.0 - lr * getattr(self, "weight_decay", 0.0)
            self._compiled.adam(params, grads, m, v, step, epsilon, self.beta_1, self.beta_2, decay)
            return
        self._decay_weights(params, lr)
        if len(self._chunks) == 1:  # a small model: the whole buffer at once, no views
            _adam_step(xp, params, grads, m, v, tmp, self.beta_1, self.beta_2, step, epsilon)
            return
        for part in self._chunks:
            scratch = tmp[: part.stop - part.start]
            _adam_step(
                xp, params[part], grads[part], m[part], v[part], scratch,
                self.beta_1, self.beta_2, step, epsilon,
            )  # fmt: skip

    def _decay_weights(self, params, lr) -> None:
        return None

    def _hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * weight_decay * p before the Adam step."""

    def __init__(self, learning_rate=1e-3, weight_decay: float = 0.004, **kw):
        super().__init__(learning_rate, **kw)
        self.weight_decay = check_number("weight_decay", weight_decay, 0.0)

    def _decay_weights(self, params, lr) -> None:
        if self.weight_decay:
            params *= 1.0 - lr * self.weight_decay

    def _hyperparameters(self):
        return {**super()._hyperparameters(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2;  p -= lr g / (sqrt(v) + eps)  (centered: v - mean(g)^2)."""

    def __init__(
        self, learning_rate=1e-3, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kw
    ):
        super().__init__(learning_rate, **kw)
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_number("epsilon", epsilon, 0.0)
        self.centered = check_bool("centered", centered)
        self.slots = (
            ("v",) + (("mean_grad",) if centered else ()) + (("velocity",) if self.momentum else ())
        )

    def _update(self, params, grads, lr, t):
        xp, v, tmp = _xp(params), self.state["v"], self._scratch
        v *= self.rho
        xp.multiply(grads, grads, out=tmp)
        tmp *= 1.0 - self.rho
        v += tmp
        if self.centered:
            mean_grad = self.state["mean_grad"]
            mean_grad *= self.rho
            mean_grad += xp.multiply(grads, 1.0 - self.rho, out=tmp)
            xp.multiply(mean_grad, mean_grad, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(v, out=tmp)
        tmp += self.epsilon
        xp.divide(grads, tmp, out=tmp)
        tmp *= lr
        if self.momentum:
            velocity = self.state["velocity"]
            velocity *= self.momentum
            velocity += tmp
            params -= velocity
        else:
            params -= tmp

    def _hyperparameters(self):
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """acc += g^2;  p -= lr g / (sqrt(acc) + eps)  (acc starts at initial_accumulator_value)."""

    slots = ("accumulator",)

    def __init__(self, learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-7, **kw):
        super().__init__(learning_rate, **kw)
        self.initial_accumulator_value = check_number(
            "initial_accumulator_value", initial_accumulator_value, 0.0
        )
        self.epsilon = check_number("epsilon", epsilon, 0.0)

    def build(self, params, slices, backend=None):
        super().build(params, slices, backend)
        self.state["accumulator"][...] = self.initial_accumulator_value

    def _update(self, params, grads, lr, t):
        xp, acc, tmp = _xp(params), self.state["accumulator"], self._scratch
        xp.multiply(grads, grads, out=tmp)
        acc += tmp
        xp.sqrt(acc, out=tmp)
        tmp += self.epsilon
        xp.divide(grads, tmp, out=tmp)
        tmp *= lr
        params -= tmp

    def _hyperparameters(self):
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}
NAMES = tuple(OPTIMIZERS)


def get(identifier: str | dict | Optimizer) -> Optimizer:
    """Resolve 'adam', a config dict or an :class:`Optimizer` (a fresh one for names)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if not isinstance(identifier, dict):
        raise ArgumentTypeError(
            f"optimizer must be a name or a densekit.optimizers object, got {identifier!r}"
        )
    params = dict(identifier)
    name = str(params.pop("name", "")).lower()
    if name not in OPTIMIZERS:
        raise ArgumentError(f"unknown optimizer {name!r}; expected one of {', '.join(NAMES)}")
    if isinstance(params.get("learning_rate"), dict):
        params["learning_rate"] = schedules.from_config(params["learning_rate"])
    try:
        return OPTIMIZERS[name](**params)
    except DensekitError:
        raise
    except TypeError as exc:
        raise ArgumentError(f"bad parameters for optimizer {name!r}: {exc}") from exc
