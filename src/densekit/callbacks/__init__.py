"""Callbacks: small objects ``fit`` calls at the start and end of training, epochs and batches.

Subclass :class:`Callback` and override what you need. Each callback resets its state in
``on_train_begin``, so one instance can serve several ``fit`` calls.

One concern a module:

- :mod:`.base`: the protocol (:class:`Callback`), :class:`CallbackList`, :class:`History`
  and :func:`check_callbacks`;
- :mod:`.monitoring`: the monitored metric's direction and value;
- :mod:`.stopping`: :class:`EarlyStopping`, :class:`TerminateOnNaN`;
- :mod:`.checkpoints`: :class:`ModelCheckpoint`, :class:`BackupAndRestore`;
- :mod:`.learning_rate`: :class:`ReduceLROnPlateau`, :class:`LearningRateScheduler`;
- :mod:`.csv_logger`: :class:`CSVLogger`;
- :mod:`.preflight`: :func:`check_monitored`, before training.
"""

from __future__ import annotations

from .base import Callback, CallbackList, History, check_callbacks
from .checkpoints import BackupAndRestore, ModelCheckpoint
from .csv_logger import CSVLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .monitoring import mode_for, monitored
from .preflight import check_monitored
from .stopping import EarlyStopping, TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "check_callbacks",
    "check_monitored",
    "mode_for",
    "monitored",
]
