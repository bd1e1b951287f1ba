"""Training on a device: batches go from NumPy to the GPU while the GPU computes.

``fit`` takes NumPy arrays. On a GPU the epoch loop here replaces the CPU one:

- **Feeding.** When the training set fits comfortably in device memory it is
  copied there once (and kept between epochs and fits on the same arrays) and
  each shuffled batch is gathered on the device (``resident``). Otherwise each
  batch is copied as it comes (``sync``). ``stream`` gathers each batch on the
  host into page-locked ("pinned") memory and copies it on a second stream one
  batch ahead, overlapping the previous step; measured on an H100 it was slower
  than ``sync`` (the events and host gathers cost more than the copy it hides),
  so it is kept as an option, not the default.
- **CUDA graphs.** For Dense stacks trained by Adam, AdamW or SGD at a constant
  rate, the whole step of a full batch is captured once and replayed
  (:class:`CapturedStep`): 5-12x faster for small networks.
- **No per-batch round trip.** The loss and metrics are summed on the device and
  read back every ``sync_every`` batches (about 20 times an epoch, and at its
  end); the non-finite-loss check runs then, so it stops training at most
  ``sync_every`` steps after the loss went bad (on the CPU: at that step).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import matmul_precision
from ..errors import TrainingError
from .epoch import Runner
from .step import loss_and_gradient

if TYPE_CHECKING:
    from ..backend import Backend
    from ..model import Sequential

#: 'auto' (resident when it fits, else sync), 'resident', 'stream' or 'sync'; on an H100
#: the overlapped 'stream' copy measured slower than 'sync' (benchmarks/RESULTS-gpu.md)
FEED_MODE = "auto"
#: capture a whole training step as a CUDA graph and replay it for each full batch
#: (Dense layers, Adam/AdamW/SGD with a constant rate, no hooks or constraints, data resident)
CUDA_GRAPHS = True
#: fraction of free device memory the training set may take to be kept resident
RESIDENT_FRACTION = 0.25


class BatchFeeder:
    """Yields ``(x, y, w)`` device batches of one epoch, in ``order`` (or as stored)."""

    def __init__(
        self,
        backend: Backend,
        x: Any,
        y: Any,
        w: Any,
        batch_size: int,
        order: np.ndarray | None,
        mode: str | None = None,
        cache: dict | None = None,
    ):
        self.backend, self.xp = backend, backend.xp
        #: {id(host array): (host array, device copy)}: the epochs of one fit upload once
        self.cache = {} if cache is None else cache
        self.arrays = [a for a in (x, y, w) if a is not None]
        self.has_w = w is not None
        self.n, self.batch_size, self.order = len(x), batch_size, order
        mode = mode or FEED_MODE  # read at the call, so the module setting can be changed
        if mode == "auto":
            mode = "resident" if self._fits() else "sync"
        self.mode = mode

    def _fits(self) -> bool:
        nbytes = sum(a.nbytes for a in self.arrays)
        try:
            free, _ = self.xp.cuda.Device().mem_info
        except Exception:  # a stand-in without memory info
            return True
        return nbytes <= RESIDENT_FRACTION * free

    def _upload(self, array):
        held = self.cache.get(id(array))
        if held is not None and held[0] is array:
            return held[1]
        copy = self.xp.asarray(array)
        self.cache[id(array)] = (array, copy)
        return copy

    def _bounds(self):
        for start in range(0, self.n, self.batch_size):
            yield start, min(self.n, start + self.batch_size)

    def _split(self, arrays):
        if self.has_w:
            return arrays[0], arrays[1], arrays[2]
        return arrays[0], arrays[1], None

    def __iter__(self):
        return getattr(self, f"_{self.mode}")()

    # --- the three ways ---------------------------------------------------------
    def _sync(self):
        to_device = self.backend.asarray
        for start, stop in self._bounds():
            if self.order is None:
                parts = [a[start:stop] for a in self.arrays]
            else:
                index = self.order[start:stop]
                parts = [np.take(a, index, axis=0) for a in self.arrays]
            yield self._split([to_device(p) for p in parts])

    def device_order(self):
        """The epoch's row order on the device (0..n-1 when not shuffled)."""
        xp = self.xp
        if self.order is None:
            return xp.arange(self.n, dtype=np.int64)
        return xp.asarray(self.order)

    def _resident(self):
        xp = self.xp
        device = [self._upload(a) for a in self.arrays]
        order = None if self.order is None else xp.asarray(self.order)
        buffers: dict = {}
        for start, stop in self._bounds():
            if order is None:
                yield self._split([d[start:stop] for d in device])
                continue
            rows = stop - start
            if rows not in buffers:
                buffers[rows] = [xp.empty((rows,) + d.shape[1:], d.dtype) for d in device]
            index = order[start:stop]
            out = buffers[rows]
            gather = self.backend.kernels.gather_rows
            for d, o in zip(device, out):
                gather(d, index, o) if d.ndim == 2 else xp.take(d, index, out=o)
            yield self._split(out)

    def _stream(self):
        """Double-buffered: batch i+1 is gathered and copied while batch i computes."""
        xp, cuda = self.xp, self.xp.cuda
        copy_stream = cuda.Stream(non_blocking=True)
        compute_stream = cuda.get_current_stream()
        rows = min(self.batch_size, self.n)
        slots = []
        for _ in range(2):
            host, dev = [], []
            for a in self.arrays:
                shape = (rows,) + a.shape[1:]
                memory = cuda.alloc_pinned_memory(int(np.prod(shape)) * a.itemsize)
                host.append(np.frombuffer(memory, a.dtype, int(np.prod(shape))).reshape(shape))
                dev.append(xp.empty(shape, a.dtype))
            slots.append({"host": host, "dev": dev, "copied": None, "done": None})

        def issue(batch: int, start: int, stop: int):
            slot = slots[batch % 2]
            if slot["copied"] is not None:
                slot["copied"].synchronize()  # its pinned memory is free again
            n = stop - start
            index = None if self.order is None else self.order[start:stop]
            if slot["done"] is not None:
                copy_stream.wait_event(slot["done"])  # the step that read dev is finished
            views = []
            for a, host, dev in zip(self.arrays, slot["host"], slot["dev"]):
                if index is None:
                    host[:n] = a[start:stop]
                else:
                    np.take(a, index, axis=0, out=host[:n])
                dev[:n].set(host[:n], stream=copy_stream)
                views.append(dev[:n])
            slot["copied"] = copy_stream.record()
            return views

        bounds = list(self._bounds())
        pending = issue(0, *bounds[0])
        for batch in range(len(bounds)):
            current = pending
            compute_stream.wait_event(slots[batch % 2]["copied"])
            if batch + 1 < len(bounds):
                pending = issue(batch + 1, *bounds[batch + 1])
            yield self._split(current)
            slots[batch % 2]["done"] = compute_stream.record()
        copy_stream.synchronize()


class GpuRunner(Runner):
    """Device batches from a :class:`BatchFeeder`, each a captured graph's replay or an eager step.

    The loss and metric sums stay on the device and are read every ``sync_every``
    batches (about 20 times an epoch), when the loop checks the loss.

    Parameters
    ----------
    model
        A model on a device backend.
    x
    y
    w
        Checked training rows, targets and optional per-row weights (on the host).
    batch_size
        Rows a batch.
    order
        The epoch's row permutation; None keeps the stored order.
    """

    checks_loss = True

    def __init__(
        self, model: Sequential, x: Any, y: Any, w: Any, batch_size: int, order: np.ndarray | None
    ):
        self.model = model
        self.n_batches = -(-len(x) // batch_size)
        self.sync_every = max(1, self.n_batches // 20)
        # device copies of this fit's arrays survive between epochs (and fits); others go
        held = getattr(model, "device_data", None) or {}
        cache = {k: v for k, v in held.items() if any(v[0] is a for a in (x, y, w))}
        model.device_data = cache
        self.feeder = BatchFeeder(model.backend, x, y, w, batch_size, order, cache=cache)

    @contextmanager
    def running(self, metrics: list):
        """The epoch's steps on the captured step's stream, at the model's precision."""
        model = self.model
        self.metrics, self.seen = metrics, 0
        captured = _captured_step(model, self.feeder, metrics) if CUDA_GRAPHS else None
        if captured is not None:
            self.sums, self.batches = captured.totals, captured.epoch(self.feeder)
        else:
            self.sums = model.backend.xp.zeros(1 + len(metrics), dtype=np.float64)
            self.batches = (
                partial(_eager_batch, model, metrics, self.sums, *batch) for batch in self.feeder
            )
        self.batches = iter(self.batches)
        with matmul_precision(model.backend, model.precision), _on(captured):
            if captured is not None:
                captured.start_epoch()
            yield

    def step(self, batch: int) -> None:
        """Run the next batch (its sums added on the device)."""
        self.seen += next(self.batches)()

    def totals(self):
        """The sums read back from the device (a sync) and the rows they are over."""
        return self.model.backend.to_numpy(self.sums), self.seen

    def nonfinite(self, loss: float) -> TrainingError:
        """The error for a loss found not finite at a sync."""
        return TrainingError(
            f"the loss became {loss} by optimizer step {self.model.optimizer.iterations} "
            f"(on the GPU it is checked every {self.sync_every} steps); training stopped. "
            "Try a lower learning rate, gradient clipping (clipnorm=1.0) or scaled inputs."
        )


def _eager_batch(model, metrics, totals, xb, yb, wb) -> int:
    """One step, its loss and metrics added to ``totals`` on the device; returns the rows."""
    batch_sum, output = _step(model, xb, yb, wb)
    _accumulate(model.backend.xp, metrics, totals, batch_sum, yb, output)
    return len(xb)


def _accumulate(xp, metrics, totals, batch_sum, yb, output) -> None:
    totals[0] += batch_sum
    for k, metric in enumerate(metrics, start=1):
        totals[k] += metric.per_sample(xp, yb, output).sum()


class _on:
    """``with _on(captured):`` runs on the captured step's stream (or changes nothing)."""

    def __init__(self, captured):
        self.stream = None if captured is None else captured.stream

    def __enter__(self):
        if self.stream is not None:
            self.stream.__enter__()

    def __exit__(self, *exc):
        if self.stream is not None:
            self.stream.synchronize()
            self.stream.__exit__(*exc)
        return False


class CapturedStep:
    """A whole training step (gather, forward, loss, backward, update, metrics) as a CUDA graph.

    On a GPU a small network's step is dozens of tiny kernels, each costing more
    to launch from Python than to run; replaying a captured graph launches them
    all at once. The batch is gathered inside the graph from an index buffer
    refreshed before each launch, and Adam takes its step count from the device.
    Temporaries come from a private memory pool that lives as long as the graph.
    """

    def __init__(self, model, x_dev, y_dev, rows: int, metrics):
        from ..backend.cupy_kernels import CaptureSafeCublas

        xp = self.xp = model.backend.xp
        self.model, self.metrics, self.rows = model, metrics, rows
        self.kernels = model.backend.kernels
        self.x_dev, self.y_dev = x_dev, y_dev
        self.stream = xp.cuda.Stream(non_blocking=True)
        self.pool = xp.cuda.MemoryPool()
        self.index = xp.empty(rows, np.int64)
        self.xb = xp.empty((rows,) + x_dev.shape[1:], x_dev.dtype)
        self.yb = xp.empty((rows,) + y_dev.shape[1:], y_dev.dtype)
        self.totals = xp.zeros(1 + len(metrics), np.float64)
        self.counter = xp.zeros(1, np.float64)
        self.coef = xp.zeros(2, np.float64)
        self.cublas = CaptureSafeCublas(xp)
        self.graph = None
        self.failed = False

    def _step(self):
        gather = self.kernels.gather_rows
        gather(self.x_dev, self.index, self.xb)
        gather(self.y_dev, self.index, self.yb)
        batch_sum, output = _step(self.model, self.xb, self.yb, None)
        _accumulate(self.xp, self.metrics, self.totals, batch_sum, self.yb, output)

    def _counting(self):
        kernels, lr = self.kernels, self.model.optimizer.learning_rate
        kernels.step_counter = (self.counter, self.coef, lr)

    def start_epoch(self) -> None:
        """Zero the device sums and set the step counter to the optimizer's."""
        self.totals.fill(0)
        self.counter.fill(self.model.optimizer.iterations)

    def first(self) -> None:
        """The first full batch: run it for real, then capture the same step.

        The real run allocates from the private pool; if CUDA refuses the capture, the
        steps stay eager.
        """
        xp, kernels, optimizer = self.xp, self.kernels, self.model.optimizer
        saved_cublas = kernels.cublas
        with xp.cuda.using_allocator(self.pool.malloc):
            self._counting()
            try:
                self._step()  # batch 0 of this epoch, for real
            finally:
                kernels.step_counter = None
            iterations = optimizer.iterations
            self._counting()
            kernels.cublas = self.cublas
            try:
                self.stream.begin_capture()
                try:
                    self._step()
                finally:
                    graph = self.stream.end_capture()
                self.graph = graph
            except Exception:  # noqa: BLE001 - any refusal: train eagerly instead
                self.failed = True
            finally:
                optimizer.iterations = iterations  # the captured step did not run
                kernels.cublas = saved_cublas
                kernels.step_counter = None

    def _eager(self, start: int, stop: int, order) -> None:
        xp, gather = self.xp, self.kernels.gather_rows
        index = order[start:stop]
        xb = xp.empty((stop - start,) + self.xb.shape[1:], self.xb.dtype)
        yb = xp.empty((stop - start,) + self.yb.shape[1:], self.yb.dtype)
        gather(self.x_dev, index, xb)
        gather(self.y_dev, index, yb)
        batch_sum, output = _step(self.model, xb, yb, None)
        _accumulate(xp, self.metrics, self.totals, batch_sum, yb, output)
        self.counter += 1

    def _launch(self, start: int, stop: int, order) -> None:
        self.index[...] = order[start:stop]
        if self.graph is None:
            self.first()
        else:
            self.graph.launch(self.stream)
            self.model.optimizer.iterations += 1

    def epoch(self, feeder):
        """One callable a batch (graph replay for full batches, eager otherwise) -> rows."""
        order = feeder.device_order()
        for start, stop in feeder._bounds():
            full = stop - start == self.rows and not self.failed
            run = self._launch if full else self._eager
            yield lambda run=run, start=start, stop=stop: run(start, stop, order) or stop - start


def _captured_step(model, feeder, metrics):
    """The model's captured step for this epoch, built on first use; None where not possible."""
    from ..layers import Dense
    from ..optimizers import SGD, Adam, AdamW

    kernels, optimizer = model.backend.kernels, model.optimizer
    eligible = (
        kernels is not None
        and kernels.cublas is not None
        and feeder.mode == "resident"
        and not feeder.has_w
        and feeder.n >= feeder.batch_size
        and all(type(layer) is Dense for layer in model.layers)
        and not model.gradient_hooks
        and not model.constraints
        and type(optimizer) in (Adam, AdamW, SGD)
        and optimizer.ops is not None
        and optimizer.schedule is None
        and optimizer.clipnorm is None
        and optimizer.global_clipnorm is None
        and optimizer.clipvalue is None
    )
    if not eligible:
        return None
    x_dev, y_dev = (feeder._upload(a) for a in feeder.arrays[:2])
    key = (
        feeder.batch_size,
        id(model.params),
        id(optimizer),
        tuple(id(a) for a in optimizer.state.values()),
        optimizer.learning_rate,
        model.precision,
        model.loss,
        tuple(m.name for m in metrics),
        id(x_dev),
        id(y_dev),
    )
    held = getattr(model, "captured_step", None)
    if held is not None and held[0] == key:
        return held[1]
    try:
        captured = CapturedStep(model, x_dev, y_dev, feeder.batch_size, metrics)
    except Exception:  # no cuBLAS library to call directly: stay eager
        return None
    model.captured_step = (key, captured)
    return captured


def _step(model, x, y, sample_weight):
    """Forward, loss, backward, update; returns the batch's loss sum (on the device)."""
    batch_sum, output, _ = loss_and_gradient(model, x, y, sample_weight, summed=True)
    model.apply_gradients()
    model.last_output = output
    return batch_sum, output
