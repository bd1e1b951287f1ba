"""The Dask round runner: the client's side of ``densekit.dask.fit``, one round a batch.

A round sends the weights and each worker's share of a batch (the tasks, functions
of :mod:`densekit.dask` that run on the workers, are given to the runner); with
``sync_every=1`` the workers' gradient sums are added into one step, with
``sync_every=k`` their models, after ``k`` local steps each, are averaged. The
schedules say which rows each worker trains on, round by round.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TrainingError, require
from .epoch import Runner

if TYPE_CHECKING:
    from ..model import Sequential

POLL_SECONDS = 0.25
SCATTER_BYTES = 4 * 2**20


def _distributed():
    return require("distributed", "dask", "densekit.dask")


class LocalEpoch:
    """``sync_every=k``: which rows each worker trains on, batch by batch, in one epoch.

    Parameters
    ----------
    plan
        Partitions per worker.
    lengths
        Rows per partition.
    local_batch
        Rows a worker's step.
    seed
    epoch
        Shuffle the partitions and their rows from ``(seed, epoch[, partition])``.
    shuffle
        Whether to shuffle.
    """

    def __init__(
        self, plan: dict, lengths: list[int], local_batch: int, seed: int, epoch: int, shuffle: bool
    ):
        rng = np.random.default_rng([seed, epoch]) if shuffle else None
        self.queues: dict[str, list] = {}
        for worker, parts in plan.items():
            order = list(parts) if rng is None else [parts[i] for i in rng.permutation(len(parts))]
            queue = []
            for part in order:
                row_seed = [seed, epoch, part] if shuffle else None
                for start in range(0, lengths[part], local_batch):
                    stop = min(lengths[part], start + local_batch)
                    queue.append((part, start, stop, row_seed))
            self.queues[worker] = queue
        self.steps = max((len(q) for q in self.queues.values()), default=0)

    def round(self, step: int, k: int) -> dict[str, list]:
        """``{worker: [(partition, start, stop, seed), ...]}``: steps ``step..step+k-1``."""
        return {w: q[step : step + k] for w, q in self.queues.items() if q[step : step + k]}


class GlobalEpoch:
    """``sync_every=1``: global batch ``b`` is positions ``[b*B, (b+1)*B)`` of ``order``.

    ``order`` None is the collection's own order; each row of a batch is computed by
    the worker that holds its partition.

    Parameters
    ----------
    plan
        Partitions per worker.
    lengths
        Rows per partition.
    batch_size
        The global batch.
    order
        The epoch's permutation of every row.
    """

    def __init__(self, plan: dict, lengths: list[int], batch_size: int, order: np.ndarray | None):
        self.offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self.owner = {part: worker for worker, parts in plan.items() for part in parts}
        self.rows = int(self.offsets[-1])
        self.batch_size, self.order = batch_size, order
        self.steps = -(-self.rows // batch_size)

    def round(self, step: int, k: int = 1) -> dict[str, list]:
        """``{worker: [(partition, rows), ...]}`` for global batch ``step``.

        ``rows`` is a slice of the partition (in order) or an index array (shuffled).
        """
        if step >= self.steps:
            return {}
        start = step * self.batch_size
        stop = min(self.rows, start + self.batch_size)
        found: dict[str, list] = {}
        if self.order is None:
            first, last = np.searchsorted(self.offsets, [start, stop - 1], side="right") - 1
            for part in range(int(first), int(last) + 1):
                lo = max(start, self.offsets[part]) - self.offsets[part]
                hi = min(stop, self.offsets[part + 1]) - self.offsets[part]
                if hi > lo:
                    found.setdefault(self.owner[part], []).append((part, slice(int(lo), int(hi))))
            return found
        rows = self.order[start:stop]
        where = np.searchsorted(self.offsets, rows, side="right") - 1
        by_part = np.argsort(where, kind="stable")  # each partition's rows in batch order
        parts, firsts = np.unique(where[by_part], return_index=True)
        for part, index in zip(parts, np.split(rows[by_part], firsts[1:])):
            local = index - self.offsets[part]
            found.setdefault(self.owner[int(part)], []).append((int(part), local))
        return found


class Partitions:
    """Partition futures on their workers: computed just before use, released right after.

    For a shuffled ``sync_every=1`` they are kept for the whole fit.

    Parameters
    ----------
    client
        The cluster's client.
    pairs
        One lazy ``(x, y)`` pair per partition.
    """

    def __init__(self, client: Any, pairs: list):
        self.client, self.pairs = client, pairs
        self.futures: dict[tuple[str, int], Any] = {}

    def get(self, worker: str, part: int):
        """The future of partition ``part`` on ``worker`` (computed there on first use)."""
        key = (worker, part)
        if key not in self.futures:
            self.futures[key] = self.client.compute(
                self.pairs[part], workers=[worker], allow_other_workers=False
            )
        return self.futures[key]

    def keep_only(self, wanted: set) -> None:
        """Release every partition future but the ``(worker, partition)`` pairs ``wanted``."""
        for key in [k for k in self.futures if k not in wanted]:
            del self.futures[key]


def payload(model: Sequential) -> dict:
    """What local SGD sends a worker: weights, state, optimizer slots, step, constant rate.

    Parameters
    ----------
    model
        The client's model.

    Returns
    -------
    dict
        Copies of the arrays; ``learning_rate`` None when a schedule sets it.
    """
    optimizer = model.optimizer
    # a schedule travels as itself: it follows the iterations on the worker too
    rate = optimizer.schedule if optimizer.schedule is not None else optimizer.learning_rate
    return {
        "params": model.params.copy(),
        "state": model.state.copy(),
        "optimizer": {k: v.copy() for k, v in model.optimizer.state.items()},
        "iterations": model.optimizer.iterations,
        "learning_rate": rate if isinstance(rate, float) else None,
    }


def wait_round(client: Any, futures: dict, where: str) -> dict:
    """Results of one round's futures.

    Parameters
    ----------
    client
        The cluster's client (asked who is alive when a round is late).
    futures
        One future per worker.
    where
        The round, for errors.

    Returns
    -------
    dict
        Each worker's result.

    Raises
    ------
    TrainingError
        When a task fails or its worker is lost.
    """
    distributed = _distributed()
    pending = list(futures.values())
    while True:
        try:
            distributed.wait(pending, timeout=POLL_SECONDS)
            finished = True
        except TimeoutError:
            finished = False
        for worker, future in futures.items():
            if future.status == "error":
                raise TrainingError(
                    f"Dask worker {worker} failed during {where}: {future.exception()!r}"
                ) from future.exception()
        if finished:
            return {worker: future.result() for worker, future in futures.items()}
        # only a round that is late asks the scheduler who is alive: a task pinned to a
        # lost worker would wait forever, and asking every round is one more round trip
        alive = set(client.scheduler_info(n_workers=-1)["workers"])
        lost = [w for w in futures if w not in alive]
        if lost:
            client.cancel(pending)
            raise TrainingError(
                f"Dask worker {lost[0]} was lost during {where}; training stopped. "
                "Resume from the last checkpoint with fit(..., checkpoint=..., resume=True)."
            )


class RoundRunner(Runner):
    """The client's rounds of one epoch, each a batch of the loop.

    ``sync_every=1``: round ``b`` is global batch ``b``, whose gradient is the workers'
    sums added (plus the penalty's, once); ``sync_every=k``: ``k`` local steps on every
    worker, then their models averaged. Each round's partitions (and the next round's)
    are computed on their workers first, unless all of them are kept. A round whose loss
    is not finite raises before the model changes. ``stop_training`` is honoured at the
    epoch's end.

    Parameters
    ----------
    model
        The client's model.
    client
    run
    spec
    store
        The cluster's client, the fit's id, the workers' model spec, the partitions.
    schedule
        Which rows each worker takes, round by round.
    k
        Steps a round (``sync_every``).
    keep_all
        Whether every partition stays on its worker (no prefetch, no release).
    epoch
        The epoch (0-based), for errors.
    tasks
        The worker functions ``(gradient_part, local_steps)``.
    """

    stops_mid_epoch = False

    def __init__(
        self,
        model: Sequential,
        client: Any,
        run: str,
        spec: dict,
        store: Partitions,
        schedule: GlobalEpoch | LocalEpoch,
        k: int,
        keep_all: bool,
        epoch: int,
        tasks: tuple,
    ):
        self.model, self.client, self.run, self.spec, self.store = model, client, run, spec, store
        self.tasks = (tasks[0], None) if k == 1 else (None, tasks[1])
        self.schedule, self.k, self.keep_all, self.epoch = schedule, k, keep_all, epoch
        self.n_batches = -(-schedule.steps // k)
        self.seconds: list[float] = []  # each round's wall time

    def running(self, metrics: list):
        """Reset the sums: loss, each metric, rows."""
        self.sums = np.zeros(2 + len(metrics))
        return super().running(metrics)

    def step(self, batch: int) -> None:
        """Run round ``batch`` on the workers and fold what they return into the model."""
        begun = time.perf_counter()
        model, k, schedule, store = self.model, self.k, self.schedule, self.store
        step, exact = batch * k, k == 1
        batches = schedule.round(step, k)
        if not self.keep_all:  # this round's partitions and the next (prefetch)
            upcoming = schedule.round(step + k, k)
            wanted = {(w, b[0]) for w, bs in (*batches.items(), *upcoming.items()) for b in bs}
            for w, b in sorted(wanted):
                store.get(w, b)
            store.keep_only(wanted)
        where = f"epoch {self.epoch + 1}, step {step + 1}"
        results = send_round(
            self.client, model, self.run, self.spec, store, batches, self.tasks, where
        )
        round_totals = sum(r["totals"] for r in results.values())
        if exact:  # the workers' losses are the data's; the penalty is added once
            round_totals[0] += model.regularization_penalty() * round_totals[-1]
        if not np.isfinite(round_totals[0]):
            raise TrainingError(
                f"the loss became {round_totals[0]} at {where}; "
                "the model keeps the weights from before this step. Check x and y for "
                "NaN or infinite values, or lower the learning rate."
            )
        self.sums += round_totals
        combine(model, results, exact)
        self.seconds.append(time.perf_counter() - begun)

    def totals(self):
        """The sums so far and the rows they are over."""
        return self.sums[:-1], self.sums[-1]


def send_round(
    client: Any,
    model: Sequential,
    run: str,
    spec: dict,
    store: Partitions,
    batches: dict,
    tasks: tuple,
    where: str,
) -> dict:
    """Send the weights and each worker's share of the round; the workers' results.

    Parameters
    ----------
    client
        The cluster's client.
    model
        The client's model (its weights are sent).
    run
    spec
        The fit's id and the workers' model spec.
    store
        The partitions' futures.
    batches
        Each worker's share of the round.
    tasks
        ``(gradient_part, None)`` for exact rounds, ``(None, local_steps)`` for local SGD.
    where
        The round, for errors.

    Returns
    -------
    dict
        Each worker's result.
    """
    exact = tasks[1] is None
    if exact:  # a gradient needs only the weights, not the optimizer's state
        weights, task = {"params": model.params.copy(), "state": model.state.copy()}, tasks[0]
    else:
        weights, task = payload(model), tasks[1]
    if model.params.nbytes > SCATTER_BYTES:  # send big weights once, not per task
        weights = client.scatter(weights, broadcast=True, hash=False)
    futures = {}
    for worker, work in batches.items():
        ids = sorted({b[0] for b in work})
        futures[worker] = client.submit(
            task,
            run,
            spec,
            weights,
            work,
            ids,
            *[store.get(worker, i) for i in ids],
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )
    return wait_round(client, futures, where)


def add_penalty_gradients(model: Sequential) -> None:
    """``grads += d penalty / dw`` for every regularized weight, as compute_gradients does.

    Parameters
    ----------
    model
        The client's model, its gradient filled.
    """
    xp = model.backend.xp
    for layer in model.layers:
        for spec in layer.weight_specs():
            if model.trains(layer, spec) and spec.regularizer is not None:
                spec.regularizer.add_gradient(xp, layer.weights[spec.name], layer.grads[spec.name])


def combine(model: Sequential, results: dict, exact: bool) -> None:
    """Apply a round's results to the client's model.

    Exact: the batch's gradient from the workers' sums, then one step; else average the
    workers' models (weights, optimizer state, moving statistics), weighted by rows.

    Parameters
    ----------
    model
        The client's model, changed in place.
    results
        Each worker's result of the round.
    exact
        Whether the round was a gradient part (``sync_every=1``).
    """
    if exact:
        model.grads[...] = sum(r["grad_sum"] for r in results.values())
        model.grads /= sum(r["totals"][-1] for r in results.values())
        add_penalty_gradients(model)
        model.apply_gradients()
        return
    rows = np.array([r["totals"][-1] for r in results.values()])
    share = rows / rows.sum()
    model.state[...] = sum(s * r["state"] for s, r in zip(share, results.values()))
    model.params[...] = sum(s * r["params"] for s, r in zip(share, results.values()))
    for slot, array in model.optimizer.state.items():
        array[...] = sum(s * r["optimizer"][slot] for s, r in zip(share, results.values()))
    model.optimizer.iterations = max(r["iterations"] for r in results.values())
