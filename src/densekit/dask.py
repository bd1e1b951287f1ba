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
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import make_rng
from .callbacks import BackupAndRestore, Callback, CallbackList, History, check_callbacks
from .errors import ArgumentError, InputError, TrainingError, require
from .training.epoch import print_epoch, run_epoch
from .training.rounds import GlobalEpoch, LocalEpoch, Partitions, RoundRunner
from .validation import check_batch_size, check_count

if TYPE_CHECKING:
    import optuna

    from .model import Sequential

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
    """One lazy ``(x, y)`` pair per partition, their row counts, the feature count, the keys.

    The key of each partition's data finds the worker that holds it.

    Parameters
    ----------
    x
        A Dask array (samples, features) or DataFrame.
    y
        A Dask array or Series partitioned as ``x``, or the name of a column of ``x``.
    client
        The cluster's client.

    Returns
    -------
    tuple
        ``(pairs, lengths, n_features, keys)``.

    Raises
    ------
    InputError
        If ``x`` is not 2-D, the lengths or partitions of ``x`` and ``y`` differ, ``y``
        names no column, or either is not a Dask collection.
    """
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
    """The run's model on this worker process, built once and reused every round."""
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
    """The partition's row order for the epoch: shuffled from (seed, epoch, partition)."""
    return np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)


def _metric_sums(model, metrics: list, yb, output) -> list[float]:
    xp = model.backend.xp
    return [float(metric.per_sample(xp, yb, output).sum()) for metric in metrics]


def gradient_part(
    run: str, spec: dict, weights: dict, segments: list, ids: list[int], *parts: Any
) -> dict:
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


def local_steps(
    run: str, spec: dict, payload: dict, batches: list, ids: list[int], *parts: Any
) -> dict:
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


def fit(
    model: Sequential,
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

    Parameters
    ----------
    model
        A compiled model (built here from ``x`` if it is not).
    x
        A Dask array (samples, features) or DataFrame.
    y
        A Dask array or Series partitioned as ``x``, or the name of a column of ``x``.
    client
        The cluster's client (None: the current one).
    sync_every
        1: exact global batches; ``k > 1``: local SGD, averaging every ``k`` steps.
    batch_size
        The global batch.
    epochs
        Passes over the rows.
    verbose
        0, 1, 2 or 'auto', as ``model.fit``.
    callbacks
        Run on the client (no BackupAndRestore: use ``checkpoint``).
    shuffle
        Draw a new permutation every epoch.
    seed
        An integer every worker shuffles from.
    checkpoint
        Where the client writes the model after each epoch.
    resume
        Continue from ``checkpoint`` when it exists.

    Returns
    -------
    History
        Its ``step_seconds`` is the mean wall time of one round.

    Raises
    ------
    ArgumentError
        Without a seed, for ``sync_every < 1``, a cluster with no workers, or
        BatchNormalization under ``sync_every=1``.
    InputError
        If ``x`` does not fit the model or ``y`` (see :func:`partitions`).
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
    store = Partitions(client, pairs)
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
                schedule = GlobalEpoch(plan, lengths, batch_size, order)
            else:
                schedule = LocalEpoch(plan, lengths, local_batch, seed, epoch, shuffle)
            k = 1 if exact else sync_every
            tasks = (gradient_part, local_steps)
            runner = RoundRunner(
                model, client, run, spec, store, schedule, k, keep_all, epoch, tasks
            )
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
    """``config`` without weight penalties, for the workers.

    Their gradients are the data's; the client adds the penalty's once a batch (not once
    per worker).
    """
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


def _save_checkpoint(model, path: Path, epochs_done: int) -> None:
    """The client writes the model and optimizer state (atomically).

    Shuffling needs no generator state (replayed from the seed, or drawn from seed, epoch
    and partition); dropout's is the workers'.
    """
    from .serialization.checkpoint import save_checkpoint

    save_checkpoint(model, path, epochs_done, rngs={})


def _resume(model, path: Path) -> int:
    """Load a checkpoint written by :func:`fit` into ``model``; the epoch to start at."""
    from .serialization.checkpoint import restore_checkpoint

    return restore_checkpoint(model, path, rngs={}) if path.is_file() else 0


# --- tuning --------------------------------------------------------------------------------


def default_objective(trial: optuna.Trial, x: np.ndarray, y: np.ndarray, settings: dict) -> float:
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
) -> optuna.Study:
    """Run an Optuna search with each trial a Dask task; resumable through the storage.

    ``storage`` is None (the study lives on the scheduler for as long as the
    cluster does), an Optuna URL such as ``"sqlite:///study.db"`` (a file on the
    scheduler's machine that outlives the cluster), or a ``DaskStorage``. Calling
    ``tune`` again with the same study runs only the trials still missing from
    ``n_trials``; trials left RUNNING by a lost worker or client are marked FAIL
    first. ``objective(trial, x, y, settings)`` defaults to :func:`default_objective`,
    which searches ``space`` (``dk.tune``'s format; its ``DEFAULT_SPACE`` when None).

    Parameters
    ----------
    x
        Features (samples, features), in memory: each trial's task receives them.
    y
        Targets, as many as ``x``'s rows.
    n_trials
        The trials the study should have.
    client
        The cluster's client (None: the current one).
    storage
        None, an Optuna storage URL or a ``DaskStorage``.
    study_name
        The study's name in the storage.
    objective
        ``objective(trial, x, y, settings)`` (None: :func:`default_objective`).
    space
        The search space for :func:`default_objective`.
    epochs
        Epochs per trial.
    batch_size
        Rows per batch (a space's ``batch_size`` overrides it).
    validation_split
        The held-out fraction each trial scores on.
    seed
        Seeds the sampler and each trial's model.
    direction
        'minimize' or 'maximize'.

    Returns
    -------
    optuna.Study
        The study, with every trial.

    Raises
    ------
    InputError
        If ``x`` is not 2-D or ``y`` is not as long.
    TrainingError
        If a trial failed on the cluster.
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
