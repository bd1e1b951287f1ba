"""The MPI rank runner: this rank's rows of each global batch, gradients summed over ranks.

Every rank draws the same permutation; global batch ``k`` is ``order[k*B:(k+1)*B]``
and rank ``r`` trains on its positions ``r, r+N, r+2N, ...``. With ``sync_every=1``
the gradient hook :class:`GradientAllreduce` scales the local mean gradient by
``b_r/B`` and sums it over the ranks, so every rank takes one process's step; with
``sync_every=k`` the ranks step on their own rows and average parameters every ``k``
batches. Rows of a memory map are read, and checked, as a rank trains on them.
"""

from __future__ import annotations

import mmap
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, require
from ..validation import check_x_rows
from .epoch import Runner

if TYPE_CHECKING:
    from ..model import Sequential


def mpi_module():
    """mpi4py's MPI module (the ``[mpi]`` extra)."""
    return require("mpi4py.MPI", "mpi", "densekit.distributed")


class GradientAllreduce:
    """A gradient hook: scale the local mean gradient by ``b_r/B``, then sum over ranks.

    ``local_rows`` and ``global_rows`` are set before every step; with one rank
    the scale is 1 and is skipped, so one rank is bit-identical to ``model.fit``.

    Parameters
    ----------
    comm
        The ranks to sum over.
    """

    def __init__(self, comm: Any):
        self.comm = comm
        self.mpi = mpi_module()
        self.local_rows = self.global_rows = 0
        self.seconds = 0.0  # time spent in Allreduce, for the scaling benchmark
        self.calls = 0

    def __call__(self, grads: Any) -> None:
        """Scale ``grads`` by this rank's share of the batch and sum it over the ranks."""
        if self.local_rows != self.global_rows:
            grads *= self.local_rows / self.global_rows
        started = time.perf_counter()
        self.comm.Allreduce(self.mpi.IN_PLACE, grads, op=self.mpi.SUM)
        self.seconds += time.perf_counter() - started
        self.calls += 1


def average(comm: Any, buffer: Any) -> None:
    """Replace ``buffer`` by its mean over the ranks (parameter averaging).

    Parameters
    ----------
    comm
        The ranks.
    buffer
        Changed in place.
    """
    size = comm.Get_size()
    if size == 1:
        return
    mpi = mpi_module()
    comm.Allreduce(mpi.IN_PLACE, buffer, op=mpi.SUM)
    buffer *= 1.0 / size


class EpochData:
    """The training rows and how a global batch maps to this rank's rows.

    Parameters
    ----------
    rows
        The features (in memory, checked, or a memory map).
    targets
        The targets.
    weights
        Per-row weights.
    train_index
        The rows trained on (the rest are held out).
    batch_size
        The global batch.
    """

    def __init__(
        self,
        rows: Any,
        targets: Targets,
        weights: np.ndarray | None,
        train_index: np.ndarray,
        batch_size: int,
    ):
        self.rows, self.targets, self.weights = rows, targets, weights
        self.train_index, self.batch_size = train_index, batch_size

    def batch(self, model: Sequential, positions: np.ndarray):
        """``(x, y, w)`` of the training rows at ``positions``, read and checked."""
        index = self.train_index[positions]
        xb = read_rows(self.rows, index, model.dtype)
        yb = self.targets.take(index)
        wb = None if self.weights is None else self.weights[index]
        return xb, yb, wb


def memory_mapped(array: Any) -> bool:
    """True when ``array`` reads a file on demand.

    That is an ``np.memmap`` (what ``np.load(path, mmap_mode="r")`` returns) or any view
    of one.

    A view's ``.base`` chain ends at the ``mmap.mmap`` object; a copy (``np.take``,
    fancy indexing, arithmetic) owns its memory, even when NumPy still types it memmap.

    Parameters
    ----------
    array
        Anything; only arrays can be memory maps.

    Returns
    -------
    bool
        Whether it reads a file on demand.
    """
    while isinstance(array, np.ndarray):
        array = array.base
    return isinstance(array, mmap.mmap)


def read_rows(rows: Any, index: np.ndarray, dtype: Any) -> np.ndarray:
    """Rows ``index`` of ``x`` as ``dtype``; a memory map's are checked as they are read.

    Parameters
    ----------
    rows
        The features (in memory and checked, or a memory map).
    index
        The rows to read.
    dtype
        The model's dtype.

    Returns
    -------
    numpy.ndarray
        The rows.

    Raises
    ------
    InputError
        For a memory map's rows that are not finite numbers.
    """
    block = np.take(rows, index, axis=0)
    if memory_mapped(rows):
        return check_x_rows(block, dtype, index)
    return block  # open_rows checked and converted an array in memory whole


class Targets:
    """The targets, shaped like the model's output by ``loss.prepare_targets``.

    An array in memory (or a memory map with ``read_whole``) is prepared whole at once,
    as ``model.fit`` prepares it; a memory map is prepared a block of rows at a time, as
    they are read, so that a rank reads only its own label rows.

    Parameters
    ----------
    model
        The model whose loss prepares the targets.
    y
        The targets as given (in memory or a memory map).
    n_outputs
        The model's output width (known before an unbuilt model is built).
    read_whole
        Prepare a memory map's targets whole (class weights, a stratified split).
    """

    def __init__(self, model: Sequential, y: np.ndarray, n_outputs: int, read_whole: bool):
        # n_outputs: the model's output width, known before an unbuilt model is built
        self.model, self.n_outputs, self.mapped = model, n_outputs, None
        if not memory_mapped(y):
            self.whole = model.loss.prepare_targets(y, n_outputs, model.dtype)
        elif read_whole:
            self.whole = self._prepare(y, np.arange(len(y)))
        else:
            self.whole, self.mapped = None, y
            self._check_layout()

    def take(self, index: np.ndarray) -> np.ndarray:
        """The prepared targets of rows ``index``."""
        if self.whole is not None:
            return np.take(self.whole, index, axis=0)
        return self._prepare(self.mapped, index)

    def _prepare(self, y, index: np.ndarray) -> np.ndarray:
        block = np.take(y, index, axis=0)
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            bad = index[np.argwhere(~np.isfinite(block))[0][0]]
            raise InputError(
                f"y contains NaN or infinite values (first at row {bad}); expected finite numbers"
            )
        return self.model.loss.prepare_targets(block, self.n_outputs, self.model.dtype)

    def _check_layout(self) -> None:
        """The dtype and shape checks on no rows at all, so that they read nothing."""
        y, model = self.mapped, self.model
        empty = y[:0]
        try:
            model.loss.prepare_targets(empty, self.n_outputs, model.dtype)
        except InputError as exc:
            # the message shows the shape it was given: show y's, as for an array in memory
            raise InputError(str(exc).replace(str(empty.shape), str(y.shape))) from exc


class RankRunner(Runner):
    """The rank's share of each global batch: its positions ``r, r+N, ...``.

    With ``reducer`` (``sync_every=1``) each step's gradient is summed over the ranks by
    that gradient hook; without, the ranks step on their own rows and average their
    parameters every ``sync_every`` batches. ``stop_training`` is honoured at the
    epoch's end, where the ranks agree on it; the epoch's totals add every rank's.

    Parameters
    ----------
    model
        This rank's model.
    data
        The training rows.
    order
        The epoch's permutation (the same on every rank); None keeps the stored order.
    comm
        The ranks.
    reducer
        The gradient hook (``sync_every=1``), told each batch's row counts.
    sync_every
        Without a reducer, average the parameters every this many batches.
    """

    stops_mid_epoch = False

    def __init__(
        self,
        model: Sequential,
        data: EpochData,
        order: np.ndarray | None,
        comm: Any,
        reducer: Any,
        sync_every: int,
    ):
        self.model, self.data, self.comm = model, data, comm
        self.reducer, self.average_every = reducer, sync_every
        n = len(data.train_index)
        self.order = np.arange(n) if order is None else order
        self.n = n
        self.n_batches = -(-n // data.batch_size)

    def running(self, metrics: list):
        """Reset this rank's sums: loss, each metric, rows."""
        self.sums = np.zeros(2 + len(metrics))
        return super().running(metrics)

    def step(self, batch: int) -> None:
        """Train on this rank's rows of global batch ``batch``."""
        model, data, reducer = self.model, self.data, self.reducer
        comm, batch_size = self.comm, data.batch_size
        global_batch = self.order[batch * batch_size : min(self.n, (batch + 1) * batch_size)]
        mine = global_batch[comm.Get_rank() :: comm.Get_size()]
        if reducer is not None:
            reducer.local_rows, reducer.global_rows = len(mine), len(global_batch)
        if len(mine):
            xb, yb, wb = data.batch(model, mine)
            xb, yb = model.backend.asarray(xb), model.backend.asarray(yb)
            wb = None if wb is None else model.backend.asarray(wb)
            value = model.train_step(xb, yb, wb)
            sums, xp = self.sums, model.backend.xp
            sums[0] += value * len(mine)
            for k, metric in enumerate(self.metrics, start=1):
                sums[k] += float(metric.per_sample(xp, yb, model.last_output).sum())
            sums[-1] += len(mine)
        elif reducer is not None:
            step_without_rows(model)
        if reducer is None and (
            (batch + 1) % self.average_every == 0 or batch == self.n_batches - 1
        ):
            average(comm, model.params)

    def totals(self):
        """The rank's sums so far (its batch logs are its own)."""
        return self.sums[:-1], max(self.sums[-1], 1)

    def epoch_totals(self):
        """Every rank's sums added; the ranks' batch statistics averaged before evaluating."""
        sums = self.sums
        if self.comm.Get_size() > 1:
            sums = self.comm.allreduce(sums, op=mpi_module().SUM)
            if self.model.state.size:
                average(self.comm, self.model.state)
        return sums[:-1], sums[-1]


def step_without_rows(model: Sequential) -> None:
    """A rank with no rows in a short last batch: contribute zero, take the same step.

    Parameters
    ----------
    model
        This rank's model.
    """
    model.grads[...] = 0
    model.apply_gradients()
