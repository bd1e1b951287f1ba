"""Callbacks that set the optimizer's learning rate.

:class:`ReduceLROnPlateau` on a plateau of the monitored metric; :class:`LearningRateScheduler`
from a function of the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_count, check_number
from .base import Callback
from .monitoring import mode_for, monitored


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    As Keras: an improvement is beating the best by more than ``min_delta``;
    after a reduction, ``cooldown`` epochs pass before the count starts again;
    the rate never goes below ``min_lr``. ``logs["learning_rate"]`` records it.

    Parameters
    ----------
    monitor
        The metric to watch.
    factor
        What the rate is multiplied by, in (0, 1).
    patience
        Epochs without improvement before a reduction.
    verbose
        1 prints a line at each reduction.
    mode
        ``"min"``, ``"max"``, or ``"auto"``: max for accuracy and AUC, min otherwise.
    min_delta
        The least change that counts as an improvement.
    cooldown
        Epochs after a reduction before the count starts again.
    min_lr
        The lowest rate.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        super().__init__()
        factor = check_number(
            "ReduceLROnPlateau factor", factor, 0.0, 1.0, open_low=True, open_high=True
        )
        self.monitor = monitor
        self.factor = factor
        self.patience = check_count("patience", patience)
        self.verbose = verbose
        self.mode = mode_for(monitor, mode)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.cooldown = check_count("cooldown", cooldown)
        self.min_lr = check_number("min_lr", min_lr, 0.0)

    def on_train_begin(self, logs=None):
        """Refuse a scheduled optimizer; reset the counts."""
        _require_constant_rate(self.model, "ReduceLROnPlateau")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        """Log the rate; reduce it after ``patience`` epochs without improvement."""
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.learning_rate
        value = monitored("ReduceLROnPlateau", self.monitor, logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best = value
            self.wait = 0
        elif self.cooldown_counter == 0:  # checked after the countdown, as Keras does
            self.wait += 1
            if self.wait >= self.patience and optimizer.learning_rate > self.min_lr:
                new_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
                optimizer.learning_rate = new_rate
                if self.verbose:
                    print(
                        f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_rate}."
                    )
                self.cooldown_counter = self.cooldown
                self.wait = 0


def _require_constant_rate(model, owner: str) -> None:
    if model.optimizer.schedule is not None:
        raise ArgumentError(
            f"{owner} sets the learning rate, but the optimizer follows a schedule "
            f"({type(model.optimizer.schedule).__name__}); use one or the other"
        )


class LearningRateScheduler(Callback):
    """At the start of each epoch set the learning rate to ``schedule(epoch, lr)`` (Keras).

    Parameters
    ----------
    schedule
        ``(epoch, lr) -> lr``: the epoch's index from 0 and the current rate, to the new rate.
    verbose
        1 prints the rate each epoch.

    Raises
    ------
    ArgumentTypeError
        If ``schedule`` is not callable.
    """

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise ArgumentTypeError(
                f"schedule must be a function (epoch, lr) -> lr, got {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        """Refuse an optimizer that already follows a schedule."""
        _require_constant_rate(self.model, "LearningRateScheduler")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Set the epoch's learning rate from the schedule.

        Parameters
        ----------
        epoch
            The epoch's index, from 0.
        logs
            Unused.

        Raises
        ------
        ArgumentError
            If the schedule returns anything but a finite rate > 0.
        """
        optimizer = self.model.optimizer
        rate = self.schedule(epoch, optimizer.learning_rate)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, (int, float, np.floating))
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ArgumentError(
                f"the schedule returned {rate!r} for epoch {epoch}; it must return a finite "
                "learning rate > 0"
            )
        optimizer.learning_rate = float(rate)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        """Record the rate as ``logs["learning_rate"]``."""
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate
