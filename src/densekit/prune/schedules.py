"""Pruning during training: schedules (when, how much) and the callback that applies them."""

from __future__ import annotations

from ..callbacks import Callback
from ..errors import ArgumentError, ArgumentTypeError
from .checks import check_fraction
from .magnitude_pruning import SCOPES, magnitude


class PruningSchedule:
    """When to prune (``should_prune(step)``) and to what sparsity (``sparsity(step)``).

    Parameters
    ----------
    begin_step
        First optimizer step that prunes, >= 0.
    end_step
        Last one, or -1 for no end.
    frequency
        Prune every ``frequency`` steps, >= 1.

    Raises
    ------
    ArgumentError
        If a step or the frequency is invalid.
    """

    def __init__(self, begin_step: int, end_step: int, frequency: int):
        for name, value in (("begin_step", begin_step), ("frequency", frequency)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ArgumentError(f"{name} must be an integer >= 0, got {value!r}")
        if frequency < 1:
            raise ArgumentError(f"frequency must be >= 1, got {frequency}")
        if (
            isinstance(end_step, bool)
            or not isinstance(end_step, int)
            or (end_step != -1 and end_step < begin_step)
        ):
            raise ArgumentError(f"end_step must be -1 or >= begin_step, got {end_step!r}")
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def should_prune(self, step: int) -> bool:
        """Whether optimizer step ``step`` prunes."""
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def sparsity(self, step: int) -> float:
        """The target sparsity at optimizer step ``step`` (subclasses say)."""
        raise NotImplementedError


class ConstantSparsity(PruningSchedule):
    """Prune to ``target_sparsity`` every ``frequency`` steps from ``begin_step`` (TF-MOT).

    Parameters
    ----------
    target_sparsity
        Fraction of weights to zero, in [0, 1).
    begin_step
        The first step that prunes.
    end_step
        The last step that prunes, or -1 for no end.
    frequency
        Prune every ``frequency`` steps.
    """

    def __init__(
        self, target_sparsity: float, begin_step: int = 0, end_step: int = -1, frequency: int = 100
    ):
        super().__init__(begin_step, end_step, frequency)
        self.target_sparsity = check_fraction("target_sparsity", target_sparsity)

    def sparsity(self, step: int) -> float:
        """``target_sparsity``, at every step."""
        return self.target_sparsity


class PolynomialDecay(PruningSchedule):
    """Sparsity rising from ``initial`` to ``final`` between ``begin_step`` and ``end_step``.

        s(t) = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_1 - t_0))^power      (TF-MOT, power 3)

    Parameters
    ----------
    initial_sparsity
        ``s_i``, in [0, 1).
    final_sparsity
        ``s_f``, in [0, 1).
    begin_step
        ``t_0``.
    end_step
        ``t_1``, > ``begin_step``.
    power
        The exponent.
    frequency
        Prune every ``frequency`` steps (and always at ``end_step``).

    Raises
    ------
    ArgumentError
        If an argument is out of range.
    """

    def __init__(
        self,
        initial_sparsity: float,
        final_sparsity: float,
        begin_step: int,
        end_step: int,
        power: float = 3,
        frequency: int = 100,
    ):
        super().__init__(begin_step, end_step, frequency)
        if end_step <= begin_step:
            raise ArgumentError(f"end_step ({end_step}) must be > begin_step ({begin_step})")
        self.initial_sparsity = check_fraction("initial_sparsity", initial_sparsity)
        self.final_sparsity = check_fraction("final_sparsity", final_sparsity)
        self.power = float(power)

    def should_prune(self, step: int) -> bool:
        # the final sparsity is always reached at end_step, whatever the frequency
        """Whether step ``step`` prunes: on the frequency, and always at ``end_step``."""
        return super().should_prune(step) or step == self.end_step

    def sparsity(self, step: int) -> float:
        """``s(step)`` of the formula above, constant outside ``[t_0, t_1]``."""
        progress = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return (
            self.final_sparsity
            + (self.initial_sparsity - self.final_sparsity) * (1.0 - progress) ** self.power
        )


class PruningCallback(Callback):
    """Apply a :class:`PruningSchedule` during ``fit``.

    After each optimizer step ``t`` where ``schedule.should_prune(t)``, re-prune to
    ``schedule.sparsity(t)``. Masks are recomputed from the current magnitudes, so
    weights pruned earlier (exact zeros, the smallest) stay pruned while the
    sparsity rises. ``log`` holds ``(step, sparsity)`` of every pruning.

    Parameters
    ----------
    schedule
        When and how much.
    scope
        As :func:`~densekit.prune.magnitude`.
    layers
        The Dense layers to prune (all by default).

    Raises
    ------
    ArgumentTypeError
        If ``schedule`` is not a PruningSchedule.
    ArgumentError
        If ``scope`` is unknown.
    """

    def __init__(
        self, schedule: PruningSchedule, scope: str = "layer", layers: list[str] | None = None
    ):
        super().__init__()
        if not isinstance(schedule, PruningSchedule):
            raise ArgumentTypeError(f"schedule must be a PruningSchedule, got {schedule!r}")
        if scope not in SCOPES:
            raise ArgumentError(f"scope must be 'layer' or 'global', got {scope!r}")
        self.schedule, self.scope, self.layers = schedule, scope, layers

    def on_train_begin(self, logs=None):
        """Reset the log; prune now if the schedule says so at the current step."""
        self.log: list[tuple[int, float]] = []
        if self.schedule.should_prune(self.model.optimizer.iterations):
            self._prune(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        """Prune after an optimizer step where the schedule says so."""
        step = self.model.optimizer.iterations
        if self.schedule.should_prune(step):
            self._prune(step)

    def _prune(self, step: int) -> None:
        target = self.schedule.sparsity(step)
        magnitude(self.model, target, self.scope, self.layers)
        self.log.append((step, target))
