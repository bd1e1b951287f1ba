"""Weight initializers, with Keras' formulas and defaults.

Each is ``init(shape, rng, dtype) -> ndarray``; ``fan_in, fan_out`` are the
kernel's ``(n, m)``. The "normal" variances use a normal truncated at two
standard deviations, scaled up by 1/0.8796 so the variance is the one named
(as Keras does).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import DTypeLike

from .errors import ArgumentError, ArgumentTypeError
from .registry import Registry

TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(rng: np.random.Generator, shape, stddev: float) -> np.ndarray:
    """Normal(0, stddev) redrawn until every value is within two deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * stddev


@dataclass(frozen=True)
class Initializer:
    """A named initializer with its parameters; calling it draws the values.

    Parameters
    ----------
    name
        A name in :data:`INITIALIZERS`.
    params
        The draw's parameters (``{"value": 0.1}`` for constant); :func:`get` checks them.
    """

    name: str
    params: dict = field(default_factory=dict)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: DTypeLike = np.float32
    ) -> np.ndarray:
        """Draw an array of ``shape``.

        Parameters
        ----------
        shape
            ``(fan_in, fan_out)`` for a kernel, ``(units,)`` for a bias.
        rng
            Where the random values come from.
        dtype
            The array's type.

        Returns
        -------
        ndarray
        """
        values = INITIALIZERS.get(self.name)(tuple(shape), rng, **self.params)
        return np.asarray(values, dtype=dtype)

    def get_config(self) -> dict:
        """``{"name": ..., **params}``, which :func:`get` reads back."""
        return {"name": self.name, **self.params}


def _glorot_uniform(shape, rng):
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def _glorot_normal(shape, rng):
    fan_in, fan_out = _fans(shape)
    stddev = math.sqrt(2.0 / (fan_in + fan_out)) / TRUNCATED_STDDEV_CORRECTION
    return _truncated_normal(rng, shape, stddev)


def _he_uniform(shape, rng):
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape)


def _he_normal(shape, rng):
    fan_in, _ = _fans(shape)
    return _truncated_normal(rng, shape, math.sqrt(2.0 / fan_in) / TRUNCATED_STDDEV_CORRECTION)


def _lecun_normal(shape, rng):
    fan_in, _ = _fans(shape)
    return _truncated_normal(rng, shape, math.sqrt(1.0 / fan_in) / TRUNCATED_STDDEV_CORRECTION)


def _random_normal(shape, rng, mean=0.0, stddev=0.05):
    return rng.normal(mean, stddev, shape)


def _random_uniform(shape, rng, minval=-0.05, maxval=0.05):
    return rng.uniform(minval, maxval, shape)


def _zeros(shape, rng):
    return np.zeros(shape)


def _ones(shape, rng):
    return np.ones(shape)


def _constant(shape, rng, value=0.0):
    return np.full(shape, value)


def _random_sign(shape, rng):
    # +1 or -1 with equal chance: TabM's first ensemble adapter, which makes the members differ
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


INITIALIZERS: Registry[Callable[..., np.ndarray]] = Registry("initializer")
for _name, _draw in (
    ("glorot_uniform", _glorot_uniform),
    ("glorot_normal", _glorot_normal),
    ("he_uniform", _he_uniform),
    ("he_normal", _he_normal),
    ("lecun_normal", _lecun_normal),
    ("random_normal", _random_normal),
    ("random_uniform", _random_uniform),
    ("zeros", _zeros),
    ("ones", _ones),
    ("constant", _constant),
    ("random_sign", _random_sign),
):
    INITIALIZERS.register(_name, _draw)
NAMES = INITIALIZERS.names


def GlorotUniform() -> Initializer:
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) (Keras' default kernel)."""
    return Initializer("glorot_uniform")


def GlorotNormal() -> Initializer:
    """Truncated normal, variance 2 / (fan_in + fan_out)."""
    return Initializer("glorot_normal")


def HeUniform() -> Initializer:
    """U(-limit, limit), limit = sqrt(6 / fan_in)."""
    return Initializer("he_uniform")


def HeNormal() -> Initializer:
    """Truncated normal, variance 2 / fan_in."""
    return Initializer("he_normal")


def LecunNormal() -> Initializer:
    """Truncated normal, variance 1 / fan_in."""
    return Initializer("lecun_normal")


def RandomNormal(mean: float = 0.0, stddev: float = 0.05) -> Initializer:
    """Normal(mean, stddev), not truncated.

    Parameters
    ----------
    mean
        The distribution's mean.
    stddev
        Its standard deviation, >= 0.

    Returns
    -------
    Initializer

    Raises
    ------
    ArgumentError
        If a parameter is not a finite number, or ``stddev < 0``.
    """
    return get({"name": "random_normal", "mean": mean, "stddev": stddev})


def RandomUniform(minval: float = -0.05, maxval: float = 0.05) -> Initializer:
    """U(minval, maxval).

    Parameters
    ----------
    minval
        The lower bound.
    maxval
        The upper bound, >= ``minval``.

    Returns
    -------
    Initializer

    Raises
    ------
    ArgumentError
        If a parameter is not a finite number, or ``minval > maxval``.
    """
    return get({"name": "random_uniform", "minval": minval, "maxval": maxval})


def Zeros() -> Initializer:
    """All zeros (Keras' default bias)."""
    return Initializer("zeros")


def Ones() -> Initializer:
    """All ones."""
    return Initializer("ones")


def Constant(value: float = 0.0) -> Initializer:
    """Every entry ``value``.

    Parameters
    ----------
    value
        The fill value.

    Returns
    -------
    Initializer

    Raises
    ------
    ArgumentError
        If ``value`` is not a finite number.
    """
    return get({"name": "constant", "value": value})


def get(identifier: str | dict | Initializer) -> Initializer:
    """Resolve a name, a config dict or an :class:`Initializer`.

    Parameters
    ----------
    identifier
        A registered name, a config dict as :meth:`Initializer.get_config` writes it
        (``{"name": "constant", "value": 0.1}``), or an :class:`Initializer` (returned
        as it is).

    Returns
    -------
    Initializer
        Its parameters as floats.

    Raises
    ------
    ArgumentError
        If the name is unknown (the message lists the known ones), or a parameter is not
        the initializer's, not a finite number, or out of range (``stddev < 0``,
        ``minval > maxval``).
    ArgumentTypeError
        If ``identifier`` is none of these.
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if not isinstance(identifier, dict):
        raise ArgumentTypeError(
            f"initializer must be a name, a config dict or an Initializer, "
            f"got {type(identifier).__name__}"
        )
    params = dict(identifier)
    name = INITIALIZERS.canonical(params.pop("name", None))
    # the draw's keywords after (shape, rng) are the initializer's parameters
    known = list(inspect.signature(INITIALIZERS.get(name)).parameters)[2:]
    unknown = set(params) - set(known)
    if unknown:
        raise ArgumentError(f"initializer {name!r} takes no parameter(s) {sorted(unknown)}")
    for key, value in params.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ArgumentError(
                f"initializer {name!r}: {key} must be a finite number, got {value!r}"
            )
        params[key] = float(value)
    if name == "random_normal" and params.get("stddev", 0.05) < 0:
        raise ArgumentError(f"random_normal stddev must be >= 0, got {params['stddev']}")
    if name == "random_uniform" and params.get("minval", -0.05) > params.get("maxval", 0.05):
        raise ArgumentError("random_uniform needs minval <= maxval")
    return Initializer(name, params)
