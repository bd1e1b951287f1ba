"""The check before training that every metric a built-in callback monitors will be logged."""

from __future__ import annotations

from .base import Callback, History
from .checkpoints import BackupAndRestore, ModelCheckpoint
from .csv_logger import CSVLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .monitoring import monitored
from .stopping import EarlyStopping, TerminateOnNaN

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
            monitored(type(callback).__name__, callback.monitor, logs)
        elif isinstance(callback, ModelCheckpoint):
            callback.path_for(0, logs)
            if callback.save_best_only:
                monitored("ModelCheckpoint", callback.monitor, logs)
