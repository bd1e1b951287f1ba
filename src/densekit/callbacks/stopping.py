"""Callbacks that stop training.

:class:`EarlyStopping` on a plateau of the monitored metric; :class:`TerminateOnNaN` on a
non-finite loss.
"""

from __future__ import annotations

import math
from typing import Any

from ..validation import check_count, check_number
from .base import Callback
from .monitoring import mode_for, monitored


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best
    epoch (when training stopped early or not, as Keras 3 does when the best epoch
    is known).

    Parameters
    ----------
    monitor
        The metric to watch (``"val_loss"``, ``"accuracy"``, ...).
    min_delta
        The least change that counts as an improvement.
    patience
        Epochs without improvement before training stops.
    mode
        ``"min"``, ``"max"``, or ``"auto"``: max for accuracy and AUC, min otherwise.
    baseline
        A value the metric must beat; epochs that do not beat it count towards ``patience``.
    restore_best_weights
        End with the best epoch's weights.
    start_from_epoch
        Epochs to wait before watching (a warm-up).
    verbose
        1 prints a line when training stops.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ):
        super().__init__()
        patience = check_count("patience", patience)
        min_delta = check_number("min_delta", min_delta)
        self.monitor = monitor
        self.mode = mode_for(monitor, mode)
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose

    def _improved(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        """Reset the wait count and the best value."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights: Any = None

    def on_epoch_end(self, epoch, logs=None):
        """Count an epoch without improvement; stop after ``patience`` of them."""
        value = monitored("EarlyStopping", self.monitor, logs)
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return  # an improving epoch never stops training (Keras)
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Restore the best weights if asked to."""
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(
                f"Epoch {self.stopped_epoch + 1}: early stopping (best epoch {self.best_epoch + 1})"
            )


class TerminateOnNaN(Callback):
    """Stop training cleanly when the loss becomes NaN or infinite, instead of raising.

    The step with the non-finite loss is not applied, so the model keeps the
    last finite weights; if any weight (or moving statistic) is not finite at
    that point, or weights turned non-finite with a finite loss, ``fit`` rolls
    back to the start of the epoch (with a warning). ``stopped_batch`` and
    ``stopped_epoch`` say where a non-finite loss stopped it (None when none did).
    """

    def on_train_begin(self, logs=None):
        """Ask ``fit`` to stop, not raise, on a non-finite loss."""
        self.model.stop_on_nonfinite = True
        self.stopped_batch = self.stopped_epoch = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch, for ``stopped_epoch``."""
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Stop training if the batch's loss is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_batch, self.stopped_epoch = batch, self._epoch
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Restore ``fit``'s default: a non-finite loss raises."""
        self.model.stop_on_nonfinite = False
