"""Callbacks: small objects ``fit`` calls at the start and end of training,
epochs and batches. Subclass :class:`Callback` and override what you need.

Each callback resets its state in ``on_train_begin``, so one instance can
serve several ``fit`` calls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ArgumentError


class Callback:
    """The protocol: every hook receives ``logs``, a dict of the latest metrics."""

    def __init__(self):
        self.model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class CallbackList:
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks: list[Callback], model):
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise ArgumentError(
                    f"callbacks must be densekit.callbacks.Callback objects, got {callback!r}"
                )
            callback.set_model(model)
        self.callbacks = callbacks

    def __getattr__(self, hook: str):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args):
            for callback in self.callbacks:
                getattr(callback, hook)(*args)

        return call_all


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list per epoch."""

    def on_train_begin(self, logs=None):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if monitor.endswith(("accuracy", "acc", "auc")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best
    epoch (when training stopped early or not, as Keras 3 does when the best epoch
    is known).
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
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ArgumentError(f"patience must be an integer >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta):
            raise ArgumentError(f"min_delta must be a finite number, got {min_delta!r}")
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.min_delta = abs(float(min_delta))
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
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights: Any = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ArgumentError(
                f"EarlyStopping monitors {self.monitor!r}, which is not among the metrics: "
                f"{', '.join(sorted(logs))}"
                + (" (val_* metrics need validation_split or validation_data)" if logs else "")
            )
        if epoch < self.start_from_epoch:
            return
        value = float(logs[self.monitor])
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return  # an improving epoch never stops training (Keras), even with patience=0
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(
                f"Epoch {self.stopped_epoch + 1}: early stopping (best epoch {self.best_epoch + 1})"
            )


def as_numbers(logs: dict) -> dict:
    """Plain floats for logging and JSON."""
    return {key: float(np.asarray(value)) for key, value in logs.items()}
