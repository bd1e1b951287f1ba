"""The CPU runner: shuffled minibatches gathered into reused buffers, one step each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .epoch import Runner
from .step import train_step

if TYPE_CHECKING:
    from ..model import Sequential


class CpuRunner(Runner):
    """Batches of ``(x, y, w)`` in ``order`` (or as stored), trained by ``model.train_step``.

    Parameters
    ----------
    model
        The model (its ``train_step`` checks each batch's loss and steps).
    x
    y
    w
        Checked training rows, targets and optional per-row weights.
    batch_size
        Rows a batch (the last may be short).
    order
        The epoch's row permutation; None keeps the stored order.
    """

    def __init__(
        self, model: Sequential, x: Any, y: Any, w: Any, batch_size: int, order: np.ndarray | None
    ):
        self.model, self.x, self.y, self.w = model, x, y, w
        self.batch_size, self.order = batch_size, order
        self.n = x.shape[0]
        self.n_batches = -(-self.n // batch_size)
        self.buffers = None

    def running(self, metrics: list):
        """Reset the sums (loss, each metric) and the rows seen; see :meth:`Runner.running`."""
        self.sums = [0.0] * (1 + len(metrics))
        self.seen = 0
        return super().running(metrics)

    def step(self, batch: int) -> None:
        """Gather batch ``batch``, step on it, add its loss and metric sums."""
        x, y, w, order = self.x, self.y, self.w, self.order
        start, stop = batch * self.batch_size, min(self.n, (batch + 1) * self.batch_size)
        if order is None:
            xb, yb = x[start:stop], y[start:stop]
            wb = None if w is None else w[start:stop]
        elif not isinstance(x, np.ndarray):  # scipy sparse rows (CSR): gathered as CSR
            index = order[start:stop]
            xb, yb = x[index], y.take(index, axis=0)
            wb = None if w is None else w.take(index)
        else:
            index = order[start:stop]
            buffers = self.buffers
            if buffers is None or len(buffers[0]) != len(index):
                buffers = self.buffers = (
                    np.empty((len(index), x.shape[1]), dtype=x.dtype),
                    np.empty((len(index), y.shape[1]), dtype=y.dtype),
                    None if w is None else np.empty(len(index), dtype=w.dtype),
                )
            # the indices are a permutation's, always in range: mode="clip" skips the
            # bounds check and the hidden copy of ``out`` that mode="raise" makes
            xb = x.take(index, axis=0, out=buffers[0], mode="clip")
            yb = y.take(index, axis=0, out=buffers[1], mode="clip")
            wb = None if w is None else w.take(index, out=buffers[2], mode="clip")
        model = self.model
        to_device = model.backend.asarray
        xb, yb = to_device(xb), to_device(yb)
        wb = None if wb is None else to_device(wb)
        value = train_step(model, xb, yb, wb)
        rows = stop - start
        sums = self.sums
        sums[0] += value * rows
        if self.metrics:
            xp, output = model.backend.xp, model.last_output
            for k, metric in enumerate(self.metrics, start=1):
                sums[k] = sums[k] + metric.batch_total(xp, yb, output)
        self.seen += rows

    def totals(self):
        """The loss and metric sums so far and the rows they are over."""
        return self.sums, self.seen
