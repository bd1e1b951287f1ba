"""The :class:`CSVLogger` callback: one CSV row of metrics per epoch.

(Not ``logging.py``, which would shadow the standard library's module inside this package.)
"""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from .base import Callback


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
