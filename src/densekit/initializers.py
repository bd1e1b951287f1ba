"""Weight initializers, with Keras' formulas and defaults.

Each is ``init(shape, rng, dtype) -> ndarray``; ``fan_in, fan_out`` are the
kernel's ``(n, m)``. The "normal" variances use a normal truncated at two
standard deviations, scaled up by 1/0.8796 so the variance is the one named
(as Keras does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import ArgumentError, ArgumentTypeError

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
    """A named initializer with its parameters; calling it draws the values."""

    name: str
    params: dict = field(default_factory=dict)

    def __call__(self, shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        values = _DRAW[self.name](tuple(shape), rng, **self.params)
        return np.asarray(values, dtype=dtype)

    def get_config(self) -> dict:
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


_DRAW = {
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "lecun_normal": _lecun_normal,
    "random_normal": _random_normal,
    "random_uniform": _random_uniform,
    "zeros": _zeros,
    "ones": _ones,
    "constant": _constant,
}
_PARAMS = {
    "random_normal": {"mean", "stddev"},
    "random_uniform": {"minval", "maxval"},
    "constant": {"value"},
}
NAMES = tuple(_DRAW)


def GlorotUniform() -> Initializer:
    return Initializer("glorot_uniform")


def GlorotNormal() -> Initializer:
    return Initializer("glorot_normal")


def HeUniform() -> Initializer:
    return Initializer("he_uniform")


def HeNormal() -> Initializer:
    return Initializer("he_normal")


def LecunNormal() -> Initializer:
    return Initializer("lecun_normal")


def RandomNormal(mean: float = 0.0, stddev: float = 0.05) -> Initializer:
    return get({"name": "random_normal", "mean": mean, "stddev": stddev})


def RandomUniform(minval: float = -0.05, maxval: float = 0.05) -> Initializer:
    return get({"name": "random_uniform", "minval": minval, "maxval": maxval})


def Zeros() -> Initializer:
    return Initializer("zeros")


def Ones() -> Initializer:
    return Initializer("ones")


def Constant(value: float = 0.0) -> Initializer:
    return get({"name": "constant", "value": value})


def get(identifier: str | dict | Initializer) -> Initializer:
    """Resolve a name, a config dict or an :class:`Initializer`."""
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
    name = params.pop("name", None)
    if name not in _DRAW:
        raise ArgumentError(f"unknown initializer {name!r}; expected one of {', '.join(NAMES)}")
    unknown = set(params) - _PARAMS.get(name, set())
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
