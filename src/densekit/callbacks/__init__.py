"""Callbacks: small objects ``fit`` calls at the start and end of training, epochs and batches.

Subclass :class:`Callback` and override what you need. Each callback resets its state in
``on_train_begin``, so one instance can serve several ``fit`` calls.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..validation import check_count, check_number


class Callback:
    """The protocol: every hook receives ``logs``, a dict of the latest metrics."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        """Attach the model being trained: hooks reach it as ``self.model``.

        Parameters
        ----------
        model
            The :class:`~densekit.Sequential` that ``fit`` trains.
        """
        self.model = model

    def set_params(self, params: dict) -> None:
        """Record ``fit``'s settings.

        Parameters
        ----------
        params
            ``{"epochs": ..., "steps": ..., "verbose": ...}``, as Keras passes them.
        """
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once when ``fit`` starts: reset any state here.

        Parameters
        ----------
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once when ``fit`` ends, stopped early or not.

        Parameters
        ----------
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of each epoch.

        Parameters
        ----------
        epoch
            The epoch's index, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of each epoch, after validation; set ``model.stop_training`` to stop.

        Parameters
        ----------
        epoch
            The epoch's index, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each training step.

        Parameters
        ----------
        batch
            The batch's index within the epoch, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each training step; ``logs["loss"]`` is that batch's loss.

        Parameters
        ----------
        batch
            The batch's index within the epoch, from 0.
        logs
            The latest metrics (``{"loss": ..., "val_loss": ...}``); None where there are none.
        """


def check_callbacks(callbacks: Any, refuse: dict[type, str] | None = None) -> list[Callback]:
    """``callbacks`` as a list of :class:`Callback`, checked.

    Parameters
    ----------
    callbacks
        A list or tuple of callbacks, or None for none.
    refuse
        Callback types the training loop cannot honour, each mapped to the reason why.

    Returns
    -------
    list of Callback
        The callbacks.

    Raises
    ------
    ArgumentTypeError
        If ``callbacks`` is not a list or tuple.
    ArgumentError
        If an item is not a :class:`Callback`, or is of a refused type.
    """
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ArgumentTypeError(f"callbacks must be a list of callbacks, got {callbacks!r}")
    for callback in callbacks:
        _check_is_callback(callback)
        for kind, reason in (refuse or {}).items():
            if isinstance(callback, kind):
                raise ArgumentError(f"{type(callback).__name__} cannot be used here: {reason}")
    return list(callbacks)


def _check_is_callback(callback: Any) -> None:
    if not isinstance(callback, Callback):
        raise ArgumentError(
            f"callbacks must be densekit.callbacks.Callback objects, got {callback!r}"
        )


class CallbackList:
    """Calls each hook on every callback, in order.

    Callbacks marked ``runs_last`` (BackupAndRestore) go to the end, so a backup
    taken at the end of an epoch holds what every other callback changed then.

    Parameters
    ----------
    callbacks
        The callbacks to call.
    model
        The model they are attached to.
    """

    def __init__(self, callbacks: list[Callback], model: Any):
        for callback in callbacks:
            _check_is_callback(callback)
        for callback in callbacks:
            callback.set_model(model)
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, "runs_last", False))

    def set_params(self, params: dict) -> None:
        """Pass ``fit``'s settings to every callback.

        Parameters
        ----------
        params
            ``{"epochs": ..., "steps": ..., "verbose": ...}``.
        """
        for callback in self.callbacks:
            callback.set_params(params)

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
        """Start a fresh record."""
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch and each of its metrics."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if monitor.endswith(("accuracy", "acc", "auc")) else "min"


def _monitored(owner: str, monitor: str, logs: dict | None) -> float:
    """``logs[monitor]``, or an error naming the metrics that do exist."""
    logs = logs or {}
    if monitor not in logs:
        raise ArgumentError(
            f"{owner} monitors {monitor!r}, which is not among the metrics: "
            f"{', '.join(sorted(logs)) or 'none'}"
            + (" (val_* metrics need validation_split or validation_data)" if logs else "")
        )
    return float(logs[monitor])


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
        self.mode = _mode_for(monitor, mode)
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
        value = _monitored("EarlyStopping", self.monitor, logs)
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


class ModelCheckpoint(Callback):
    """Save the model at the end of each epoch (or only when ``monitor`` improves).

    The full model file (loadable with ``densekit.load_model``, optimizer state included) is
    written, or with ``save_weights_only`` just the weights (``densekit.checkpoint.load_weights``).
    Every write is atomic.

    Parameters
    ----------
    filepath
        Where to save; may hold ``{epoch}`` and any metric, filled in by ``str.format``
        (``"model-{epoch:02d}-{val_loss:.3f}.safetensors"``; epochs count from 1, as in Keras).
    monitor
        The metric that decides what is best, with ``save_best_only``.
    verbose
        1 prints a line per epoch.
    save_best_only
        Save only when ``monitor`` beats its best so far.
    save_weights_only
        Save the weights alone.
    mode
        ``"min"``, ``"max"``, or ``"auto"``: max for accuracy and AUC, min otherwise.
    initial_value_threshold
        The best value to start from; None starts from the worst.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        initial_value_threshold: float | None = None,
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.initial_value_threshold = initial_value_threshold

    def on_train_begin(self, logs=None):
        """Start from ``initial_value_threshold``, or the worst value."""
        if self.initial_value_threshold is not None:
            self.best = float(self.initial_value_threshold)
        else:
            self.best = math.inf if self.mode == "min" else -math.inf

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def path_for(self, epoch: int, logs: dict) -> str:
        """``filepath`` filled in for ``epoch`` and the epoch's ``logs``.

        Parameters
        ----------
        epoch
            The epoch's index, from 0 (the file name counts from 1).
        logs
            The epoch's metrics.

        Returns
        -------
        str
            The path to write.

        Raises
        ------
        ArgumentError
            If ``filepath`` names a field that is neither ``epoch`` nor a metric.
        """
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ArgumentError(
                f"ModelCheckpoint filepath {self.filepath!r} names {exc}, which is not among "
                f"epoch and the metrics: {', '.join(sorted(logs))}"
            ) from exc

    def on_epoch_end(self, epoch, logs=None):
        """Save the model (if it improved, with ``save_best_only``)."""
        logs = logs or {}
        path = self.path_for(epoch, logs)
        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if not self._better(value):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{value:.5f}, saving model to {path}"
                )
            self.best = value
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        self._save(path)

    def _save(self, path: str) -> None:
        if self.save_weights_only:
            from ..serialization.checkpoint import save_weights

            save_weights(self.model, path)
        else:
            self.model.save(path)


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
        self.mode = _mode_for(monitor, mode)
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
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
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
    if not isinstance(model.optimizer._learning_rate, float):
        raise ArgumentError(
            f"{owner} sets the learning rate, but the optimizer follows a schedule "
            f"({type(model.optimizer._learning_rate).__name__}); use one or the other"
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


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` and every metric, sorted by name (Keras).

    Parameters
    ----------
    filename
        The CSV file.
    separator
        The field separator.
    append
        Continue an existing file; rows for epochs that a resumed run trains again (after
        BackupAndRestore) are replaced, not repeated.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None

    def on_train_begin(self, logs=None):
        """Read the rows to keep, with ``append``; the file opens at the first epoch."""
        self.keys: list[str] | None = None
        self._existing: list[list[str]] = []
        if self.append and os.path.isfile(self.filename):
            with open(self.filename, newline="", encoding="utf-8") as stream:
                self._existing = list(csv.reader(stream, delimiter=self.separator))
        self._file = None

    def _open(self, epoch: int) -> None:
        header, rows = (self._existing[0], self._existing[1:]) if self._existing else (None, [])
        kept = [row for row in rows if row and _int_or(row[0], epoch) < epoch]
        self._file = open(self.filename, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)
        if header is not None:
            self.keys = header[1:]
            self._writer.writerows([header, *kept])

    def on_epoch_end(self, epoch, logs=None):
        """Write the epoch's row (and the header before the first)."""
        logs = logs or {}
        if self._file is None:
            self._open(epoch)
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *(_csv_value(logs.get(key, "NA")) for key in self.keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _int_or(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _csv_value(value: Any) -> Any:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else value


class BackupAndRestore(Callback):
    """Back up the whole training state each epoch; a rerun of the same script resumes from it.

    At the end of every epoch (after all other callbacks) the model, optimizer
    state and step count, the epoch and the random generators' states are
    written atomically to ``backup_dir/backup.safetensors``
    (:mod:`densekit.checkpoint`). When ``fit`` starts and a backup exists, it
    is restored and training continues with the next epoch, so a run killed at
    any point (even SIGKILL, even mid-write) and started again ends with the
    weights an uninterrupted run would have, bit for bit.

    Other callbacks start afresh on resume (EarlyStopping's patience count,
    ReduceLROnPlateau's plateau count), as in Keras; the learning rate they set
    is part of the backup.

    Parameters
    ----------
    backup_dir
        The folder for the backup; made if missing.
    delete_checkpoint
        Delete the backup when training finishes.
    verbose
        1 prints a line on resuming.

    Raises
    ------
    ArgumentError
        If ``backup_dir`` is empty.
    """

    runs_last = True
    FILENAME = "backup.safetensors"

    def __init__(
        self, backup_dir: str | os.PathLike, delete_checkpoint: bool = True, verbose: int = 0
    ):
        super().__init__()
        if not backup_dir:
            raise ArgumentError("BackupAndRestore needs a backup_dir")
        self.backup_dir = Path(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.verbose = verbose

    @property
    def path(self) -> Path:
        """The backup file: ``backup_dir / "backup.safetensors"``."""
        return self.backup_dir / self.FILENAME

    def on_train_begin(self, logs=None):
        """Remove killed writes; restore the backup if there is one."""
        from ..serialization.checkpoint import restore_checkpoint

        self._finished = False
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.backup_dir.glob(f".{self.FILENAME}.*.tmp"):  # a write that was killed
            stale.unlink(missing_ok=True)
        self.restored_epoch = None
        if self.path.is_file():
            self.restored_epoch = restore_checkpoint(self.model, self.path)
            self.model.initial_epoch = self.restored_epoch
            self._finished = self.restored_epoch >= self.params.get("epochs", math.inf)
            if self.verbose:
                print(f"BackupAndRestore: resuming after epoch {self.restored_epoch}")

    def on_epoch_end(self, epoch, logs=None):
        """Write the backup for the epoch just finished."""
        from ..serialization.checkpoint import save_checkpoint

        save_checkpoint(self.model, self.path, epoch + 1)
        if epoch + 1 >= self.params.get("epochs", math.inf) or self.model.stop_training:
            self._finished = True

    def on_train_end(self, logs=None):
        """Delete the backup if training finished, with ``delete_checkpoint``."""
        if self._finished and self.delete_checkpoint:
            self.path.unlink(missing_ok=True)
            try:
                self.backup_dir.rmdir()
            except OSError:  # not empty: other files live there
                pass


#: the callbacks that add no metric to the epoch's logs but ``learning_rate``
_KNOWN_LOGS = (
    Callback,
    History,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    LearningRateScheduler,
    TerminateOnNaN,
    CSVLogger,
    BackupAndRestore,
)


def check_monitored(callbacks: list[Callback], keys: set[str]) -> None:
    """Refuse, before training, a callback that reads a metric the epoch logs will lack.

    EarlyStopping, ReduceLROnPlateau and ModelCheckpoint (its ``monitor`` with
    ``save_best_only``, and its ``filepath``) would raise the same error at the first
    epoch's end, after that epoch had changed the model. A callback of another class may
    add names to the logs, so with one present the check waits for the logs themselves.

    Parameters
    ----------
    callbacks
        The callbacks of this ``fit``.
    keys
        The names ``fit`` logs each epoch.
    """
    if any(type(callback) not in _KNOWN_LOGS for callback in callbacks):
        return
    if any(isinstance(c, (ReduceLROnPlateau, LearningRateScheduler)) for c in callbacks):
        keys = keys | {"learning_rate"}
    logs = dict.fromkeys(keys, 0.0)
    for callback in callbacks:
        if isinstance(callback, (EarlyStopping, ReduceLROnPlateau)):
            _monitored(type(callback).__name__, callback.monitor, logs)
        elif isinstance(callback, ModelCheckpoint):
            callback.path_for(0, logs)
            if callback.save_best_only:
                _monitored("ModelCheckpoint", callback.monitor, logs)
