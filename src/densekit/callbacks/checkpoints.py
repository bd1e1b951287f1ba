"""Callbacks that write the model to disk during training.

:class:`ModelCheckpoint` writes model files to keep; :class:`BackupAndRestore` writes the
training state, to resume from.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import ArgumentError
from .base import Callback
from .monitoring import mode_for, monitored


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
        self.mode = mode_for(monitor, mode)
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
            value = monitored("ModelCheckpoint", self.monitor, logs)
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
