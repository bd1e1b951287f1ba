"""Training and tuning on a Dask cluster: the data stays where it lives.

:func:`fit` trains one model on a Dask array or DataFrame. Each worker trains on
the partitions it holds (a persisted collection's partitions stay where they
are; a lazy one, such as ``dd.read_parquet``, is read a partition at a time on
the worker it is assigned to and released once trained on). The client drives
rounds:

- ``sync_every=1``: the steps of one process. Global batch ``b`` is positions
  ``[b*B, (b+1)*B)`` of the epoch's row order -- the collection's order, or with
  ``shuffle`` a permutation drawn as ``model.fit`` draws it from the same seed --
  so a batch may span partitions and workers. Each worker sums the gradient over
  the rows of the batch it holds; the client adds the sums, divides by the
  batch's row count, adds the regularization gradient once and takes the one
  optimizer step:

      g = (1/B) * sum_w sum_{i in batch, on w} g_i + d penalty / dw

  which is ``model.fit``'s step to the rounding of the sum's order. A scheduler
  round trip a step is the price.
- ``sync_every=k > 1``: local SGD. Every worker takes ``k`` steps of ``B/W`` rows
  of its own partitions from the same starting point; the client then averages
  parameters and optimizer state (weighted by rows). ``k`` times fewer round
  trips, but not the weights one process gets.

:func:`tune` runs an Optuna search with its trials as Dask tasks and the study
in a storage every worker reaches (optuna-integration's ``DaskStorage``, which
lives on the scheduler and may wrap a SQLite file to survive the cluster).
"""

from __future__ import annotations

import math
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .backend import make_rng
from .callbacks import BackupAndRestore, Callback, CallbackList, History, check_callbacks
from .errors import ArgumentError, InputError, TrainingError, require
from .training.epoch import Runner, print_epoch, run_epoch
from .validation import check_batch_size, check_count

POLL_SECONDS = 0.25
SCATTER_BYTES = 4 * 2**20

#: Models a worker process keeps between the rounds of one ``fit`` (keyed by run id),
#: so a round costs a copy of the weights, not a rebuild; ``fit`` clears it at the end.
_WORKER_MODELS: dict[str, Any] = {}


def _distributed():
    return require("distributed", "dask", "densekit.dask")


def _client(client):
    if client is not None:
        return client
    try:
        return _distributed().get_client()
    except ValueError as exc:
        raise ArgumentError(
            "densekit.dask needs a Dask client: pass client=Client(...) or create one first"
        ) from exc


# --- partitions ------------------------------------------------------------------------


def _pair(x, y):
    return np.asarray(x), np.asarray(y)


def _frame_pair(frame, target, features):
    return frame[features].to_numpy(), frame[target].to_numpy()


def _series_pair(frame, series):
    return frame.to_numpy(), np.asarray(series)


def partitions(x: Any, y: Any, client: Any) -> tuple[list, list[int], int, list]:
    """One lazy ``(x, y)`` pair per partition, their row counts, the feature count,
    and the key of each partition's data (to find the worker that holds it)."""
    dask = require("dask", "dask", "densekit.dask")
    da = require("dask.array", "dask", "densekit.dask")
    delayed = dask.delayed
    if isinstance(x, da.Array):
        if x.ndim != 2:
            raise InputError(f"x must be 2-D (samples, features), got shape {x.shape}")
        x = x.rechunk({1: -1})
        if isinstance(y, da.Array):
            y = y.rechunk({0: x.chunks[0]} if y.ndim == 1 else {0: x.chunks[0], 1: -1})
        else:
            y = da.from_array(np.asarray(y), chunks=(x.chunks[0],) + np.shape(y)[1:])
        if y.shape[0] != x.shape[0]:
            raise InputError(f"x has {x.shape[0]} samples but y has {y.shape[0]}")
        xs, ys = x.to_delayed().ravel(), y.to_delayed().ravel()
        keys = [k[0] for k in x.__dask_keys__()]
        pairs = [delayed(_pair)(a, b) for a, b in zip(xs, ys)]
        return pairs, [int(c) for c in x.chunks[0]], int(x.shape[1]), keys
    if hasattr(x, "to_delayed") and hasattr(x, "columns"):  # a Dask DataFrame
        frames = x.to_delayed()
        keys = [frame.key for frame in frames]
        if isinstance(y, str):
            if y not in x.columns:
                raise InputError(f"y names column {y!r}, which is not among {list(x.columns)}")
            features = [c for c in x.columns if c != y]
            pairs = [delayed(_frame_pair)(f, y, features) for f in frames]
        elif hasattr(y, "to_delayed"):
            if y.npartitions != x.npartitions:
                raise InputError("y must have as many partitions as x")
            features = list(x.columns)
            pairs = [delayed(_series_pair)(f, s) for f, s in zip(frames, y.to_delayed())]
        else:
            raise InputError("with a Dask DataFrame, y must be a column name or a Dask Series")
        lengths = client.compute([delayed(len)(f) for f in frames], sync=True)
        return pairs, [int(n) for n in lengths], len(features), keys
    raise InputError(
        f"densekit.dask.fit takes a Dask array or DataFrame, got {type(x).__name__}; "
        "use model.fit for arrays in memory"
    )


def assign(keys: list, lengths: list[int], workers: list[str], client: Any) -> dict[str, list]:
    """Partitions per worker: where a persisted partition lives, else the least-loaded worker."""
    held = client.run_on_scheduler(_holders, keys=[str(k) for k in keys])
    rows = {w: 0 for w in workers}
    plan: dict[str, list] = {w: [] for w in workers}
    for index, (key, n) in enumerate(zip(keys, lengths)):
        where = [w for w in held.get(str(key), []) if w in plan]
        worker = where[0] if where else min(workers, key=lambda w: rows[w])
        plan[worker].append(index)
        rows[worker] += n
    return plan


def _holders(dask_scheduler=None, keys=()):
    """On the scheduler: which workers hold each key (persisted partitions)."""
    result = {}
    for key, state in dask_scheduler.tasks.items():
        if str(key) in keys and state.who_has:
            result[str(key)] = [ws.address for ws in state.who_has]
    return result


# --- the work a worker does in one round ----------------------------------------------


def _worker_model(run: str, spec: dict):
    """This run's model on this worker process, built once and reused every round."""
    model = _WORKER_MODELS.get(run)
    if model is None:
        from .model import Sequential, compile_arguments

        model = Sequential.from_config(spec["config"])
        model.compile(**compile_arguments(spec["compile"]))
        stream = np.random.default_rng()  # dropout masks: this worker's own stream
        model.share_rng(stream)
        _WORKER_MODELS[run] = model
    return model


def _forget(run: str) -> None:
    _WORKER_MODELS.pop(run, None)


def _load(model, payload: dict) -> None:
    model.params[...] = payload["params"]
    model.state[...] = payload["state"]
    for slot, array in payload["optimizer"].items():
        model.optimizer.state[slot][...] = array
    model.optimizer.iterations = payload["iterations"]
    if payload["learning_rate"] is not None:  # as the client's: restored or set by a callback
        model.optimizer.learning_rate = payload["learning_rate"]


def _batch_rows(n: int, seed: list[int] | None) -> np.ndarray:
    """This partition's row order for the epoch: shuffled from (seed, epoch, partition)."""
    return np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)


def _metric_sums(model, metrics: list, yb, output) -> list[float]:
    xp = model.backend.xp
    return [float(metric.per_sample(xp, yb, output).sum()) for metric in metrics]


def gradient_part(run: str, spec: dict, weights: dict, segments: list, ids: list[int], *parts):
    """``sync_every=1``, on one worker: the gradient *sum* over its rows of one global batch.

    ``segments`` is a list of ``(partition, rows)`` (``rows`` a slice or an index
    array into the partition); ``parts`` are the ``(x, y)`` pairs of partitions
    ``ids``, already on this worker. The worker's model has no regularizers: the
    client adds the penalty's gradient once for the whole batch.
    """
    model = _worker_model(run, spec)
    model.params[...] = weights["params"]
    model.state[...] = weights["state"]
    data = dict(zip(ids, parts))
    xs = [data[part][0][rows] for part, rows in segments]
    ys = [np.asarray(data[part][1])[rows] for part, rows in segments]
    # one array, so the worker's rows are one matrix product, as in one process
    xb = np.ascontiguousarray(np.concatenate(xs) if len(xs) > 1 else xs[0], dtype=model.dtype)
    y_rows = np.concatenate(ys) if len(ys) > 1 else ys[0]
    yb = model.loss.prepare_targets(y_rows, model.output_dim, model.dtype)
    value, output, _ = model.compute_gradients(xb, yb)
    rows = len(xb)
    # the loss is a mean over this worker's rows; times its rows, the parts add up
    totals = np.array(
        [value * rows, *_metric_sums(model, model.compiled_metrics(), yb, output), rows]
    )
    return {"totals": totals, "grad_sum": model.grads * rows}


def local_steps(run: str, spec: dict, payload: dict, batches: list, ids: list[int], *parts):
    """``sync_every=k``, on one worker: ``k`` optimizer steps on its own rows.

    ``batches`` is a list of ``(partition, start, stop, seed)``; ``parts`` are the
    ``(x, y)`` pairs of partitions ``ids``, already on this worker.
    """
    model = _worker_model(run, spec)
    _load(model, payload)
    data = dict(zip(ids, parts))
    orders: dict[int, np.ndarray] = {}  # one row order per partition, drawn once a round
    metrics = model.compiled_metrics()
    totals = np.zeros(2 + len(metrics))  # loss sum, metric sums, rows
    for part, start, stop, seed in batches:
        x, y = data[part]
        if part not in orders:
            orders[part] = _batch_rows(len(x), seed)
        index = orders[part][start:stop]
        xb = np.ascontiguousarray(x[index], dtype=model.dtype)
        yb = model.loss.prepare_targets(np.asarray(y)[index], model.output_dim, model.dtype)
        value = model.train_on_batch(xb, yb)
        rows = len(index)
        totals += [value * rows, *_metric_sums(model, metrics, yb, model.last_output), rows]
    return {
        "totals": totals,
        "state": model.state.copy(),
        "params": model.params.copy(),
        "optimizer": {k: v.copy() for k, v in model.optimizer.state.items()},
        "iterations": model.optimizer.iterations,
    }


# --- the client's side ---------------------------------------------------------------------


class _Epoch:
    """Which rows each worker trains on, batch by batch, in one epoch."""

    def __init__(self, plan, lengths, local_batch, seed, epoch, shuffle):
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
        return {w: q[step : step + k] for w, q in self.queues.items() if q[step : step + k]}


class _GlobalEpoch:
    """``sync_every=1``: global batch ``b`` is positions ``[b*B, (b+1)*B)`` of ``order``
    (None: the collection's own order), each of its rows computed by the worker that
    holds its partition."""

    def __init__(self, plan, lengths, batch_size, order):
        self.offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self.owner = {part: worker for worker, parts in plan.items() for part in parts}
        self.rows = int(self.offsets[-1])
        self.batch_size, self.order = batch_size, order
        self.steps = -(-self.rows // batch_size)

    def round(self, step: int, k: int = 1) -> dict[str, list]:
        """``{worker: [(partition, rows), ...]}`` for global batch ``step``; ``rows`` is a
        slice of the partition (in order) or an index array (shuffled)."""
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


class _Partitions:
    """Partition futures on their workers: computed just before use, released right after
    (for a shuffled ``sync_every=1``, kept for the whole fit)."""

    def __init__(self, client, pairs):
        self.client, self.pairs = client, pairs
        self.futures: dict[tuple[str, int], Any] = {}

    def get(self, worker: str, part: int):
        key = (worker, part)
        if key not in self.futures:
            self.futures[key] = self.client.compute(
                self.pairs[part], workers=[worker], allow_other_workers=False
            )
        return self.futures[key]

    def keep_only(self, wanted: set) -> None:
        for key in [k for k in self.futures if k not in wanted]:
            del self.futures[key]


def _payload(model) -> dict:
    rate = model.optimizer._learning_rate  # a schedule follows the iterations
    return {
        "params": model.params.copy(),
        "state": model.state.copy(),
        "optimizer": {k: v.copy() for k, v in model.optimizer.state.items()},
        "iterations": model.optimizer.iterations,
        "learning_rate": rate if isinstance(rate, float) else None,
    }


def _wait(client, futures: dict, where: str) -> dict:
    """Results of one round's futures; a lost worker or a failed task raises TrainingError."""
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


def fit(
    model,
    x: Any,
    y: Any = None,
    client: Any = None,
    sync_every: int = 1,
    *,
    batch_size: int | None = None,
    epochs: int = 1,
    verbose: int | str = "auto",
    callbacks: list[Callback] | None = None,
    shuffle: bool = True,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
) -> History:
    """Train ``model`` on a Dask array (``y`` an array) or DataFrame (``y`` a column name).

    ``sync_every=1`` takes the steps of ``model.fit(x, y, batch_size=batch_size,
    shuffle=shuffle, seed=seed)`` on the rows in the collection's order, to the
    rounding of a sum's order: each global batch is ``batch_size`` consecutive rows
    of that order (or of the permutation ``model.fit`` draws from ``seed`` each
    epoch), each worker computing the part it holds. Without ``shuffle`` the
    partitions stream in order; with it every batch draws on every partition, so all
    of them stay in the workers' memory for the whole fit. Two things differ from
    one process: dropout masks are each worker's own (and then later epochs'
    permutations too, since ``model.fit`` draws masks and permutations from one
    generator), and BatchNormalization, whose statistics would be each worker's
    part of a batch, is refused.

    ``sync_every=k > 1`` is local SGD: every worker takes ``k`` steps of
    ``batch_size / workers`` rows of its own partitions, then the client averages
    the workers' weights and optimizer state. ``k`` times fewer round trips, but the
    weights are not one process's: the workers drift apart for ``k - 1`` steps, each
    sees only its own rows, and an average of models is not a model trained on the
    union (see docs/scaling.md).

    Returns a History whose ``step_seconds`` is the mean wall time of one round.
    """
    from .training.loop import DEFAULT_BATCH_SIZE, check_verbose

    client = _client(client)
    model.require_compiled("fit")
    if seed is None:
        raise ArgumentError("dask.fit needs an integer seed: every worker shuffles from it")
    shuffler = make_rng(seed)  # model.fit's generator: one permutation an epoch
    sync_every = check_count("sync_every", sync_every)
    if sync_every < 1:
        raise ArgumentError(f"sync_every must be >= 1, got {sync_every}")
    batch_size = check_batch_size(batch_size, DEFAULT_BATCH_SIZE)
    epochs = check_count("epochs", epochs)
    verbose = check_verbose(verbose)
    persisted = _distributed().futures_of(x)
    if persisted:  # locate persisted partitions only once they exist
        _distributed().wait(persisted)
    pairs, lengths, n_features, keys = partitions(x, y, client)
    if model.built and n_features != model.input_dim:
        raise InputError(
            f"x has {n_features} features, but the model was built for {model.input_dim}"
        )
    exact = sync_every == 1
    if exact:
        _refuse_batch_statistics(model)
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ArgumentError("the Dask cluster has no workers")
    callbacks = check_callbacks(
        callbacks, {BackupAndRestore: "use dask.fit(..., checkpoint=PATH, resume=True)"}
    )
    # every argument is checked: only now may the model change
    if not model.built:
        model.build(n_features)
    plan = assign(keys, lengths, workers, client)
    local_batch = max(1, -(-batch_size // len(workers)))
    run = uuid.uuid4().hex
    config = model.get_config()
    spec = {
        "config": _without_regularizers(config) if exact else config,
        "compile": model.compile_config(),
    }
    checkpoint = None if checkpoint is None else Path(checkpoint)
    initial_epoch = 0
    if resume and checkpoint is not None:
        initial_epoch = _resume(model, checkpoint)
        for _ in range(initial_epoch if exact and shuffle else 0):
            shuffler.permutation(sum(lengths))  # the epochs done drew these: replay them

    history = History()
    callback_list = CallbackList([history, *callbacks], model)
    model.stop_training = False
    store = _Partitions(client, pairs)
    keep_all = exact and shuffle  # a shuffled global batch draws on every partition
    round_seconds: list[float] = []
    callback_list.on_train_begin({})
    try:
        if keep_all:  # every partition, on the worker that holds it, for the whole fit
            for worker, parts in plan.items():
                for part in parts:
                    store.get(worker, part)
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch, {})
            started = time.perf_counter()
            if exact:
                order = shuffler.permutation(sum(lengths)) if shuffle else None
                schedule = _GlobalEpoch(plan, lengths, batch_size, order)
            else:
                schedule = _Epoch(plan, lengths, local_batch, seed, epoch, shuffle)
            k = 1 if exact else sync_every
            runner = RoundRunner(model, client, run, spec, store, schedule, k, keep_all, epoch)
            try:
                logs = run_epoch(
                    model, runner, callback_list, verbose, f"Epoch {epoch + 1}/{epochs}"
                )
            finally:
                round_seconds += runner.seconds
            if not keep_all:
                store.keep_only(set())
            if verbose in (1, 2):
                print_epoch(epoch, epochs, logs, time.perf_counter() - started)
            callback_list.on_epoch_end(epoch, logs)
            if checkpoint is not None:
                _save_checkpoint(model, checkpoint, epoch + 1)
            if model.stop_training:
                break
    finally:
        store.keep_only(set())
        callback_list.on_train_end({})
        try:
            client.run(_forget, run)
        except Exception:  # noqa: BLE001 - a lost worker has nothing left to forget
            pass
    history.step_seconds = float(np.mean(round_seconds)) if round_seconds else math.nan
    return history


class RoundRunner(Runner):
    """The client's rounds of one epoch, each a batch of the loop.

    ``sync_every=1``: round ``b`` is global batch ``b``, whose gradient is the workers'
    sums added (plus the penalty's, once); ``sync_every=k``: ``k`` local steps on every
    worker, then their models averaged. Each round's partitions (and the next round's)
    are computed on their workers first, unless all of them are kept. A round whose loss
    is not finite raises before the model changes. ``stop_training`` is honoured at the
    epoch's end.
    """

    stops_mid_epoch = False

    def __init__(self, model, client, run, spec, store, schedule, k, keep_all, epoch: int):
        self.model, self.client, self.run, self.spec, self.store = model, client, run, spec, store
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
        results = _round(self.client, model, self.run, self.spec, store, batches, exact, where)
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
        _combine(model, results, exact)
        self.seconds.append(time.perf_counter() - begun)

    def totals(self):
        """The sums so far and the rows they are over."""
        return self.sums[:-1], self.sums[-1]


def _round(client, model, run, spec, store, batches: dict, exact: bool, where: str) -> dict:
    """Send the weights and each worker's share of the round; the workers' results."""
    if exact:  # a gradient needs only the weights, not the optimizer's state
        payload, task = {"params": model.params.copy(), "state": model.state.copy()}, gradient_part
    else:
        payload, task = _payload(model), local_steps
    if model.params.nbytes > SCATTER_BYTES:  # send big weights once, not per task
        payload = client.scatter(payload, broadcast=True, hash=False)
    futures = {}
    for worker, work in batches.items():
        ids = sorted({b[0] for b in work})
        futures[worker] = client.submit(
            task,
            run,
            spec,
            payload,
            work,
            ids,
            *[store.get(worker, i) for i in ids],
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )
    return _wait(client, futures, where)


def _refuse_batch_statistics(model) -> None:
    """sync_every=1 promises one process's steps, which BatchNormalization cannot keep."""
    from .layers import BatchNormalization

    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            raise ArgumentError(
                f"sync_every=1 takes the steps of one process, but layer {layer.name!r} "
                "(BatchNormalization) would normalize each worker's part of a batch by that "
                "part's statistics, not the batch's; use sync_every > 1 (each worker "
                "normalizes its own batches) or model.fit"
            )


def _without_regularizers(config: dict) -> dict:
    """``config`` without weight penalties, for the workers: their gradients are the data's,
    and the client adds the penalty's once a batch (not once per worker)."""
    layers = [
        {
            **entry,
            "config": {
                key: None if key.endswith("_regularizer") else value
                for key, value in entry["config"].items()
            },
        }
        for entry in config["layers"]
    ]
    return {**config, "layers": layers}


def _add_penalty_gradients(model) -> None:
    """``grads += d penalty / dw`` for every regularized weight, as compute_gradients does."""
    xp = model.backend.xp
    for layer in model.layers:
        for spec in layer.weight_specs():
            if spec.trainable and spec.regularizer is not None:
                spec.regularizer.add_gradient(xp, layer.weights[spec.name], layer.grads[spec.name])


def _combine(model, results: dict, exact: bool) -> None:
    """Exact: the batch's gradient from the workers' sums, then one step; else average the
    workers' models (weights, optimizer state, moving statistics), weighted by rows."""
    if exact:
        model.grads[...] = sum(r["grad_sum"] for r in results.values())
        model.grads /= sum(r["totals"][-1] for r in results.values())
        _add_penalty_gradients(model)
        model.apply_gradients()
        return
    rows = np.array([r["totals"][-1] for r in results.values()])
    share = rows / rows.sum()
    model.state[...] = sum(s * r["state"] for s, r in zip(share, results.values()))
    model.params[...] = sum(s * r["params"] for s, r in zip(share, results.values()))
    for slot, array in model.optimizer.state.items():
        array[...] = sum(s * r["optimizer"][slot] for s, r in zip(share, results.values()))
    model.optimizer.iterations = max(r["iterations"] for r in results.values())


def _save_checkpoint(model, path: Path, epochs_done: int) -> None:
    """The client writes the model and optimizer state (atomically); shuffling needs no
    generator state (replayed from the seed, or drawn from seed, epoch and partition),
    dropout's is the workers'."""
    from .serialization.checkpoint import save_checkpoint

    save_checkpoint(model, path, epochs_done, rngs={})


def _resume(model, path: Path) -> int:
    """Load a checkpoint written by :func:`fit` into ``model``; the epoch to start at."""
    from .serialization.checkpoint import restore_checkpoint

    return restore_checkpoint(model, path, rngs={}) if path.is_file() else 0


# --- tuning --------------------------------------------------------------------------------


def default_objective(trial, x: np.ndarray, y: np.ndarray, settings: dict) -> float:
    """Best validation loss of the network ``dk.tune``'s search space draws for ``trial``.

    The space, the task (output layer and loss, from ``y``) and the model are
    ``densekit.tune``'s, so a Dask search and a local ``dk.tune.search`` agree.
    """
    from . import tune as tuning

    space = settings["space"] if settings["space"] is not None else tuning.DEFAULT_SPACE
    config = tuning.suggest_config(trial, tuning.parse_space(space))
    task = tuning.infer_task(y)
    model = tuning.build_model(config, x.shape[1], task, seed=settings["seed"] + trial.number)
    history = model.fit(
        x,
        y,
        epochs=settings["epochs"],
        batch_size=config["batch_size"] or settings["batch_size"],
        validation_split=settings["validation_split"],
        seed=settings["seed"],
        verbose=0,
    )
    return float(min(history.history["val_loss"]))


def _run_trial(study, objective, x, y, settings) -> int:
    """One trial, on a worker, recorded in the shared storage."""
    import functools

    study.optimize(
        functools.partial(objective, x=x, y=y, settings=settings),
        n_trials=1,
        catch=(TrainingError,),  # a diverged trial is recorded as FAIL; the search goes on
    )
    return len(study.trials)


def tune(
    x: Any,
    y: Any,
    n_trials: int = 20,
    client: Any = None,
    storage: Any = None,
    study_name: str = "densekit",
    objective: Any = None,
    *,
    space: dict | None = None,
    epochs: int = 20,
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    direction: str = "minimize",
):
    """Run an Optuna search with each trial a Dask task; resumable through the storage.

    ``storage`` is None (the study lives on the scheduler for as long as the
    cluster does), an Optuna URL such as ``"sqlite:///study.db"`` (a file on the
    scheduler's machine that outlives the cluster), or a ``DaskStorage``. Calling
    ``tune`` again with the same study runs only the trials still missing from
    ``n_trials``; trials left RUNNING by a lost worker or client are marked FAIL
    first. ``objective(trial, x, y, settings)`` defaults to :func:`default_objective`,
    which searches ``space`` (``dk.tune``'s format; its ``DEFAULT_SPACE`` when None).
    Returns the ``optuna.Study``.
    """
    optuna = require("optuna", "tune", "densekit.dask.tune")
    dask_storage = require("optuna_integration.dask", "tune", "densekit.dask.tune")
    distributed = _distributed()
    client = _client(client)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or len(x) != len(y):
        raise InputError(
            f"tune needs x (samples, features) and y of the same length, got {x.shape}, {y.shape}"
        )
    if not isinstance(storage, dask_storage.DaskStorage):
        name = f"densekit-{study_name}-{uuid.uuid5(uuid.NAMESPACE_URL, str(storage)).hex[:8]}"
        with warnings.catch_warnings():  # DaskStorage is marked experimental; we pin its use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = dask_storage.DaskStorage(storage, name=name, client=client)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        load_if_exists=True,
    )
    _fail_stale_trials(study, optuna)
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if space is not None:
        from . import tune as tuning

        tuning.parse_space(space)  # a bad space fails here, not in every trial
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "validation_split": validation_split,
        "seed": seed,
        "space": space,
    }
    x_future, y_future = client.scatter([x, y], broadcast=True)
    futures = [
        client.submit(
            _run_trial,
            study,
            objective or default_objective,
            x_future,
            y_future,
            settings,
            pure=False,
        )
        for _ in range(max(0, n_trials - done))
    ]
    distributed.wait(futures)
    for future in futures:
        if future.status == "error":
            raise TrainingError(f"a tuning trial failed on the cluster: {future.exception()!r}")
    return study


def _fail_stale_trials(study, optuna) -> None:
    """Trials still RUNNING when a search starts were cut off (a lost worker): mark them FAIL."""
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    if running:
        print(f"densekit.dask.tune: marked {len(running)} interrupted trial(s) FAIL", flush=True)
