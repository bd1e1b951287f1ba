"""Learning-rate schedules: the rate as a function of the optimizer step.

Exposed as ``densekit.optimizers.schedules`` (Keras' path). ``step`` counts
optimizer updates from 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Integral

from .errors import ArgumentError
from .registry import Registry


def _positive(name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ArgumentError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


class LearningRateSchedule:
    """Base: a schedule is called with the step and returns the rate."""

    def __call__(self, step: int) -> float:
        """The learning rate at optimizer step ``step`` (counted from 0)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """``{"name": <class name>, **fields}``, which :func:`from_config` reads back."""
        return {"name": type(self).__name__, **asdict(self)}


@dataclass
class ExponentialDecay(LearningRateSchedule):
    """lr = initial * decay_rate ** (step / decay_steps)  (floor of the ratio if staircase).

    Raises
    ------
    ArgumentError
        If ``initial_learning_rate``, ``decay_steps`` or ``decay_rate`` is not a finite
        number > 0.
    """

    initial_learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self):
        _positive("initial_learning_rate", self.initial_learning_rate)
        _positive("decay_steps", self.decay_steps)
        _positive("decay_rate", self.decay_rate)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        ratio = step / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return self.initial_learning_rate * self.decay_rate**ratio


@dataclass
class StepDecay(LearningRateSchedule):
    """lr = initial * gamma ** (step // step_size)  (PyTorch's StepLR, counted in steps).

    Raises
    ------
    ArgumentError
        If ``initial_learning_rate``, ``step_size`` or ``gamma`` is not a finite number > 0.
    """

    initial_learning_rate: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _positive("initial_learning_rate", self.initial_learning_rate)
        _positive("step_size", self.step_size)
        _positive("gamma", self.gamma)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        return self.initial_learning_rate * self.gamma ** (step // self.step_size)


@dataclass
class CosineDecay(LearningRateSchedule):
    """lr = initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2 + alpha).

    Raises
    ------
    ArgumentError
        If ``initial_learning_rate`` or ``decay_steps`` is not a finite number > 0, or
        ``alpha`` not one >= 0.
    """

    initial_learning_rate: float
    decay_steps: int
    alpha: float = 0.0

    def __post_init__(self):
        _positive("initial_learning_rate", self.initial_learning_rate)
        _positive("decay_steps", self.decay_steps)
        _positive("alpha", self.alpha, allow_zero=True)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@dataclass
class WarmupCosineDecay(LearningRateSchedule):
    """A linear warmup from 0 to ``initial_learning_rate`` over ``warmup_steps``, then cosine decay.

    lr = initial * (step + 1) / warmup_steps during the warmup, then
    initial * ((1 - alpha) * (1 + cos(pi * p)) / 2 + alpha), p = min(step - warmup, decay) / decay
    (the rate a Transformer or TabM recipe starts with; Keras 3 spells it CosineDecay's
    ``warmup_steps``, warming up from its initial rate instead of from 0).

    Raises
    ------
    ArgumentError
        If ``initial_learning_rate`` or ``decay_steps`` is not a finite number > 0, or
        ``warmup_steps`` or ``alpha`` not one >= 0.
    """

    initial_learning_rate: float
    decay_steps: int
    warmup_steps: int = 0
    alpha: float = 0.0

    def __post_init__(self):
        _positive("initial_learning_rate", self.initial_learning_rate)
        _positive("decay_steps", self.decay_steps)
        _positive("warmup_steps", self.warmup_steps, allow_zero=True)
        _positive("alpha", self.alpha, allow_zero=True)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        if step < self.warmup_steps:
            return self.initial_learning_rate * (step + 1) / self.warmup_steps
        progress = min(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@dataclass
class CosineLogCycles(LearningRateSchedule):
    """RealMLP's multi-cycle schedule ("coslog4"): cycles that lengthen as training goes on.

    lr = initial * (1 - cos(2 pi log2(1 + (2^cycles - 1) t))) / 2,   t = min(step, decay_steps) / decay_steps

    ``log2(1 + (2^c - 1) t)`` runs from 0 to ``c`` as ``t`` runs from 0 to 1, so the rate
    rises from 0 to ``initial`` and falls back to 0 ``c`` times, each cycle twice as long
    as the one before, and ends at 0 (Holzmüller et al., 2024, with ``c = 4``). Each low
    point is a good snapshot, which suits selecting the best epoch on a validation split.

    Raises
    ------
    ArgumentError
        If ``initial_learning_rate`` or ``decay_steps`` is not a finite number > 0, or
        ``cycles`` is not an integer >= 1.
    """

    initial_learning_rate: float
    decay_steps: int
    cycles: int = 4

    def __post_init__(self):
        _positive("initial_learning_rate", self.initial_learning_rate)
        _positive("decay_steps", self.decay_steps)
        if (
            not isinstance(self.cycles, Integral)
            or isinstance(self.cycles, bool)
            or self.cycles < 1
        ):
            raise ArgumentError(f"cycles must be an integer >= 1, got {self.cycles!r}")

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        t = min(step, self.decay_steps) / self.decay_steps
        phase = math.log2(1.0 + (2.0**self.cycles - 1.0) * t)
        return self.initial_learning_rate * 0.5 * (1.0 - math.cos(2.0 * math.pi * phase))


@dataclass
class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (Keras); the last value after the last boundary.

    Raises
    ------
    ArgumentError
        If there is not one more value than boundaries, the boundaries are not increasing
        step numbers >= 0, or a value is not a finite number > 0.
    """

    boundaries: list
    values: list

    def __post_init__(self):
        if len(self.values) != len(self.boundaries) + 1:
            raise ArgumentError("PiecewiseConstantDecay needs len(values) == len(boundaries) + 1")
        if not all(
            isinstance(b, Integral) and not isinstance(b, bool) and b >= 0 for b in self.boundaries
        ):
            raise ArgumentError(
                f"PiecewiseConstantDecay boundaries must be step numbers >= 0, got {self.boundaries}"
            )
        if any(a >= b for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ArgumentError(
                f"PiecewiseConstantDecay boundaries must increase, got {self.boundaries}"
            )
        self.boundaries = [int(b) for b in self.boundaries]
        self.values = [_positive("values[i]", v) for v in self.values]

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]


SCHEDULES: Registry[LearningRateSchedule] = Registry("learning-rate schedule", LearningRateSchedule)
for _schedule in (
    ExponentialDecay,
    StepDecay,
    CosineDecay,
    PiecewiseConstantDecay,
    WarmupCosineDecay,
    CosineLogCycles,
):
    SCHEDULES.register(_schedule.__name__, _schedule)


def from_config(config: dict) -> LearningRateSchedule:
    """The schedule a config dict describes, as ``get_config`` writes it.

    Parameters
    ----------
    config
        ``{"name": "ExponentialDecay", "initial_learning_rate": 0.1, ...}``.

    Returns
    -------
    LearningRateSchedule

    Raises
    ------
    ArgumentError
        If the name is unknown (the message lists the known ones) or a parameter is
        missing, unknown or out of range.
    ArgumentTypeError
        If ``config`` is not a dict (a schedule passes through unchanged).
    """
    return SCHEDULES.resolve(config)
