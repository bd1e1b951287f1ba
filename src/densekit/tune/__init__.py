"""Choosing the network's size: a hyperparameter search on a validation set, with Optuna.

The seed's advice is to try sizes and keep the one that does best on data the
network did not train on. :func:`search` does that systematically over the
number of hidden layers, the units per layer, the activation, the learning
rate, dropout and L2, with Optuna's samplers (TPE by default; random and grid),
pruning of trials whose per-epoch validation score falls behind, several
worker processes sharing one study, and a storage the study can be resumed
from.

The search space is a dict; each entry is one of

    (low, high)              an int (if both are ints) or a float, uniform
    (low, high, "log")       the same, sampled on a log scale
    (low, high, step)        ints or floats on a grid of ``step``
    [a, b, c]                a categorical choice
    value                    fixed, not searched

over the keys ``layers``, ``units``, ``activation``, ``learning_rate``,
``dropout``, ``l2`` and optionally ``optimizer`` and ``batch_size``::

    {"layers": (1, 3), "units": (8, 256, "log"), "activation": ["relu", "tanh"],
     "learning_rate": (1e-4, 1e-2, "log"), "dropout": (0.0, 0.5), "l2": (1e-6, 1e-2, "log")}

Each hidden layer gets its own ``units_<i>`` (i = 1..layers) unless the space
says ``"shared_units": True``; the grid sampler always uses one ``units`` for
every layer and expands each range into a few points (every int when there are
at most 8, doubling steps for a log range, else ``grid_points`` evenly spaced).
A hidden layer is ``Dense(units, activation, kernel_regularizer=l2(l2))``
followed by ``Dropout(dropout)`` when dropout > 0; the output layer and the loss
follow the task (sigmoid + binary cross-entropy, softmax + sparse categorical
cross-entropy, or linear + mean squared error).

Instead of a space you may give ``build_fn(trial) -> compiled Sequential``,
which calls ``trial.suggest_*`` itself (it must be picklable, a module-level
function, for ``n_jobs > 1``).
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import Callback, History
from ..errors import ArgumentError, ArgumentTypeError, InputError, TrainingError, require
from ..layers import Dense, Dropout
from ..model import Sequential
from ..validation import (
    check_same_length,
    check_validation_split,
    check_x,
    check_y,
    validation_split_indices,
)

DEFAULT_SPACE: dict[str, Any] = {
    "layers": (1, 3),
    "units": (8, 256, "log"),
    "activation": ["relu", "tanh"],
    "learning_rate": (1e-4, 1e-2, "log"),
    "dropout": (0.0, 0.5),
    "l2": (1e-6, 1e-2, "log"),
}
#: values used for a key the space leaves out
DEFAULTS: dict[str, Any] = {
    "layers": 1,
    "units": 32,
    "activation": "relu",
    "learning_rate": 1e-3,
    "dropout": 0.0,
    "l2": 0.0,
    "optimizer": "adam",
    "batch_size": None,
}
SPACE_KEYS = (*DEFAULTS, "shared_units")
SAMPLERS = ("tpe", "random", "grid")
MAX_CLASSES = 50  # more distinct integer labels than this is taken for regression


# --- the search space -------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """One searched (or fixed) hyperparameter."""

    name: str
    kind: str  # "int", "float", "categorical" or "fixed"
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple = ()

    def suggest(self, trial, name: str | None = None) -> Any:
        name = name or self.name
        if self.kind == "fixed":
            return self.choices[0]
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def grid(self, points: int) -> list:
        """Values for the grid sampler (a range is expanded to a few points)."""
        if self.kind in ("fixed", "categorical"):
            return list(self.choices)
        if self.step is not None:
            values = np.arange(self.low, self.high + self.step / 2, self.step)
        elif self.kind == "int" and self.log:
            values, value = [], self.low
            while value < self.high:
                values.append(value)
                value *= 2
            values.append(self.high)
        elif self.kind == "int" and self.high - self.low < 8:
            values = range(self.low, self.high + 1)
        elif self.log:
            values = np.geomspace(self.low, self.high, points)
        else:
            values = np.linspace(self.low, self.high, points)
        cast = int if self.kind == "int" else float
        return sorted({cast(round(v) if self.kind == "int" else v) for v in values})


def parse_space(space: dict) -> dict[str, Dimension]:
    """Check a search-space dict and turn each entry into a :class:`Dimension`."""
    if not isinstance(space, dict):
        raise ArgumentTypeError(f"the search space must be a dict, got {type(space).__name__}")
    unknown = sorted(set(space) - set(SPACE_KEYS))
    if unknown:
        raise ArgumentError(
            f"unknown search-space keys {unknown}; expected some of {', '.join(SPACE_KEYS)}"
        )
    dims = {}
    for name in DEFAULTS:
        dims[name] = _dimension(name, space.get(name, DEFAULTS[name]))
    for name, least in (("layers", 0), ("units", 1)):
        dim = dims[name]
        values = dim.choices if dim.kind in ("fixed", "categorical") else (dim.low, dim.high)
        if dim.kind == "float" or not all(_is_int(v) and v >= least for v in values):
            raise ArgumentError(
                f"search space {name!r} must be integers >= {least}, got {space.get(name)!r}"
            )
    return dims


def _dimension(name: str, spec: Any) -> Dimension:
    if isinstance(spec, list):
        if not spec:
            raise ArgumentError(f"search space {name!r}: the list of choices is empty")
        return Dimension(name, "categorical", choices=tuple(spec))
    if not isinstance(spec, tuple):
        return Dimension(name, "fixed", choices=(spec,))
    if len(spec) not in (2, 3) or not all(_is_number(v) for v in spec[:2]):
        raise ArgumentError(
            f"search space {name!r} must be (low, high), (low, high, 'log'), (low, high, step), "
            f"a list of choices or a fixed value; got {spec!r}"
        )
    low, high = spec[:2]
    third = spec[2] if len(spec) == 3 else None
    log = third == "log"
    step = None if log or third is None else third
    if third is not None and not log and not (_is_number(step) and step > 0):
        raise ArgumentError(f"search space {name!r}: the third entry must be 'log' or a step > 0")
    if not low <= high:
        raise ArgumentError(f"search space {name!r}: low {low} is above high {high}")
    if log and low <= 0:
        raise ArgumentError(f"search space {name!r}: a log range needs low > 0, got {low}")
    kind = "int" if _is_int(low) and _is_int(high) and (step is None or _is_int(step)) else "float"
    if kind == "float":
        low, high = float(low), float(high)
    return Dimension(name, kind, low, high, log, step)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def suggest_config(trial, dims: dict[str, Dimension], grid: bool = False, shared: bool = False):
    """Draw one network configuration from the space for ``trial``."""
    config = {name: dims[name].suggest(trial) for name in DEFAULTS if name != "units"}
    layers = int(config["layers"])
    if grid or shared or dims["units"].kind == "fixed":
        config["units"] = [int(dims["units"].suggest(trial))] * layers
    else:
        config["units"] = [
            int(dims["units"].suggest(trial, f"units_{i + 1}")) for i in range(layers)
        ]
    config["layers"] = layers
    return config


# --- the task: output layer, loss, metric -----------------------------------------------


@dataclass(frozen=True)
class Task:
    """What the output layer and the loss are, from the targets."""

    kind: str  # "binary", "multiclass" or "regression"
    n_outputs: int
    loss: str
    output_activation: str
    metrics: tuple[str, ...]


def infer_task(y: np.ndarray, task: str = "auto") -> Task:
    """Integer (or bool) targets are classes, float targets are values to regress."""
    if task not in ("auto", "classification", "regression"):
        raise ArgumentError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    y = np.asarray(y)
    integer = y.dtype == bool or np.issubdtype(y.dtype, np.integer)
    if task == "regression" or (task == "auto" and not integer):
        width = 1 if y.ndim == 1 else y.shape[1]
        return Task("regression", width, "mean_squared_error", "linear", ("mae",))
    if y.ndim != 1:
        raise InputError(
            f"classification targets must be labels of shape (samples,), got {y.shape}"
        )
    labels = np.unique(y)
    if labels.size > MAX_CLASSES and task == "auto":
        return Task("regression", 1, "mean_squared_error", "linear", ("mae",))
    if not np.array_equal(labels, np.arange(labels.size)) and not (
        labels.size <= 2 and set(labels.tolist()) <= {0, 1}
    ):
        raise InputError(
            f"class labels must be the integers 0..k-1, got {labels[:10].tolist()}; "
            "encode them first (tabular.TabularPreprocessor does)"
        )
    if labels.size <= 2:
        return Task("binary", 1, "binary_crossentropy", "sigmoid", ("accuracy",))
    return Task(
        "multiclass", int(labels.size), "sparse_categorical_crossentropy", "softmax", ("accuracy",)
    )


def build_model(config: dict, input_dim: int, task: Task, seed: int | None = None) -> Sequential:
    """The network a configuration describes, compiled and ready to fit."""
    from .. import optimizers, regularizers

    l2 = float(config["l2"])
    layers: list = []
    for units in config["units"]:
        layers.append(
            Dense(
                int(units),
                activation=config["activation"],
                kernel_regularizer=regularizers.l2(l2) if l2 > 0 else None,
                input_dim=None if layers else input_dim,
            )
        )
        if config["dropout"] > 0:
            layers.append(Dropout(float(config["dropout"])))
    layers.append(
        Dense(
            task.n_outputs,
            activation=task.output_activation,
            input_dim=None if layers else input_dim,
        )
    )
    model = Sequential(layers, seed=seed)
    optimizer = optimizers.get(
        {"name": config["optimizer"], "learning_rate": float(config["learning_rate"])}
    )
    model.compile(optimizer=optimizer, loss=task.loss, metrics=list(task.metrics))
    return model


# --- one trial --------------------------------------------------------------------------


class TrialPruning(Callback):
    """Reports ``monitor`` to an Optuna trial after every epoch and stops hopeless trials.

    Raises ``optuna.TrialPruned`` when the trial's pruner says its curve is
    behind the others at the same step (``step_offset + epoch``). ``every`` reports
    only every so many epochs: each report is a write to the study's storage.
    """

    def __init__(self, trial, monitor: str = "val_loss", step_offset: int = 0, every: int = 1):
        super().__init__()
        self.trial, self.monitor, self.step_offset = trial, monitor, step_offset
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if (epoch + 1) % self.every:
            return
        if self.monitor not in logs:
            raise ArgumentError(
                f"TrialPruning monitors {self.monitor!r}, which is not among the metrics: "
                f"{', '.join(sorted(logs))}"
            )
        self.trial.report(float(logs[self.monitor]), self.step_offset + epoch)
        if self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"{self.monitor} fell behind at epoch {epoch + 1}")


class KeepBest(Callback):
    """Ends training with the weights of the epoch where ``monitor`` was best."""

    def __init__(self, monitor: str, direction: str):
        super().__init__()
        self.monitor, self.sign = monitor, 1.0 if direction == "minimize" else -1.0

    def on_train_begin(self, logs=None):
        self.best, self.weights = math.inf, None

    def on_epoch_end(self, epoch, logs=None):
        value = self.sign * float(logs[self.monitor])
        if value < self.best:
            self.best, self.weights = value, self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


@dataclass
class Job:
    """Everything a worker needs to run trials (picklable for worker processes)."""

    x: np.ndarray
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: Task
    space: dict[str, Dimension] | None
    build_fn: Callable | None
    epochs: int
    batch_size: int | None
    monitor: str
    direction: str
    pruning: bool
    grid: bool
    shared_units: bool
    seed: int | None
    patience: int | None = None
    verbose: int = 0
    extra_callbacks: list = field(default_factory=list)


def _trial_seed(job: Job, number: int) -> int:
    if job.seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(np.random.SeedSequence([job.seed, number]).generate_state(1)[0])


def _make_model(job: Job, trial, seed: int) -> tuple[Sequential, int | None]:
    if job.build_fn is not None:
        model = job.build_fn(trial)
        if not isinstance(model, Sequential) or not model.compiled:
            raise ArgumentTypeError(
                f"build_fn must return a compiled densekit Sequential, got {model!r}"
            )
        return model, job.batch_size
    config = trial.user_attrs["config"]
    model = build_model(config, job.x.shape[1], job.task, seed)
    return model, config.get("batch_size") or job.batch_size


def _fit_fold(job: Job, model: Sequential, batch_size, fold: int, seed: int, callbacks) -> list:
    train, val = job.folds[fold]
    history = model.fit(
        job.x[train],
        job.y[train],
        validation_data=(job.x[val], job.y[val]),
        epochs=job.epochs,
        batch_size=batch_size,
        verbose=0,
        seed=seed,
        callbacks=callbacks,
    )
    if job.monitor not in history.history:
        raise ArgumentError(
            f"monitor {job.monitor!r} is not among the metrics: {', '.join(history.history)}"
        )
    return history.history[job.monitor]


def _stopping(job: Job) -> list:
    if job.patience is None:
        return []
    from ..callbacks import EarlyStopping

    return [EarlyStopping(job.monitor, patience=job.patience)]


def objective(job: Job, trial) -> float:
    """Train the trial's network on every fold; its score is the mean best-epoch ``monitor``."""
    seed = _trial_seed(job, trial.number)
    trial.set_user_attr("seed", seed)
    trial.set_user_attr("pid", os.getpid())
    if job.space is not None:
        config = suggest_config(trial, job.space, job.grid, job.shared_units)
        trial.set_user_attr("config", config)
    scores, best_epochs = [], []
    for fold in range(len(job.folds)):
        model, batch_size = _make_model(job, trial, seed)
        trial.set_user_attr("parameters", model.count_params() if model.built else None)
        callbacks = list(job.extra_callbacks)
        if job.pruning:
            every = max(1, job.epochs // 10)  # about ten pruning checks per fold
            callbacks.append(TrialPruning(trial, job.monitor, fold * job.epochs, every))
        callbacks += _stopping(job)
        try:
            curve = _fit_fold(job, model, batch_size, fold, seed, callbacks)
        except TrainingError as exc:
            trial.set_user_attr("error", str(exc))
            return float("nan")  # Optuna records the trial as failed
        best = int(np.argmin(curve) if job.direction == "minimize" else np.argmax(curve))
        scores.append(float(curve[best]))
        best_epochs.append(best + 1)
    trial.set_user_attr("best_epochs", best_epochs)
    return float(np.mean(scores))


# --- storage, samplers, workers ---------------------------------------------------------


JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def storage_url(storage: str | os.PathLike | None) -> str:
    """Where the study lives: an Optuna RDB URL, or the path of an Optuna journal file.

    None makes a fresh SQLite file in a temporary folder; a file path becomes a
    SQLite URL (``.db``, ``.sqlite``, a folder, anything else) or a journal file
    (``.log``, ``.journal``, ``.jsonl``: Optuna's append-only log, several times
    faster per trial than SQLite). A URL (``sqlite:///...``, ``postgresql://...``)
    is used as given.
    """
    if storage is None:
        folder = tempfile.mkdtemp(prefix="densekit-tune-")
        return f"sqlite:///{Path(folder) / 'study.db'}"
    if not isinstance(storage, (str, os.PathLike)):
        raise ArgumentTypeError(f"storage must be a URL or a file path, got {storage!r}")
    text = os.fspath(storage)
    if "://" in text:
        return text
    path = Path(text)
    if path.is_dir():
        path = path / "study.db"
    if not path.parent.is_dir():
        raise InputError(f"storage {text!r}: folder {str(path.parent)!r} does not exist")
    if path.suffix in JOURNAL_SUFFIXES:
        return str(path.resolve())
    return f"sqlite:///{path.resolve()}"


def open_storage(url: str):
    """The Optuna storage behind ``url`` (see :func:`storage_url`).

    SQLite runs in WAL mode with a long lock timeout, so several worker
    processes can write to one file.
    """
    optuna = require("optuna", "tune", "densekit.tune")
    if "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        creator = functools.partial(_connect_sqlite, url[len("sqlite:///") :])
        return optuna.storages.RDBStorage(url, engine_kwargs={"creator": creator})
    return url


def _connect_sqlite(path: str):
    import sqlite3

    connection = sqlite3.connect(path, timeout=120, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def make_sampler(kind: str, seed: int | None, job: Job, n_trials: int | None):
    optuna = require("optuna", "tune", "densekit.tune")
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return optuna.samplers.GridSampler(grid_space(job.space), seed=seed)
    startup = 10 if n_trials is None else min(10, max(2, n_trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def grid_space(dims: dict[str, Dimension], points: int = 3) -> dict[str, list]:
    return {name: dim.grid(points) for name, dim in dims.items() if dim.kind != "fixed"}


def _make_pruner(pruning: bool, epochs: int):
    optuna = require("optuna", "tune", "densekit.tune")
    if not pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))


def run_trials(job, url, study_name, sampler, sampler_seed, n_trials, timeout) -> None:
    """Load the shared study and run ``n_trials`` of it here (in this process)."""
    optuna = require("optuna", "tune", "densekit.tune")
    study = optuna.load_study(
        study_name=study_name,
        storage=open_storage(url),
        sampler=make_sampler(sampler, sampler_seed, job, n_trials),
        pruner=_make_pruner(job.pruning, job.epochs * len(job.folds)),
    )
    study.optimize(lambda trial: objective(job, trial), n_trials=n_trials, timeout=timeout)


def _worker(job, url, study_name, sampler, sampler_seed, n_trials, timeout, queue) -> None:
    try:
        if not job.verbose:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        run_trials(job, url, study_name, sampler, sampler_seed, n_trials, timeout)
        queue.put(None)
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        queue.put(traceback.format_exc())


def _run_processes(job, url, study_name, sampler, seeds, shares, timeout) -> None:
    """One spawned process per share of trials, all on the same storage."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    threads = str(max(1, (os.cpu_count() or 1) // len(shares)))
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, threads))  # no BLAS oversubscription
    processes = []
    try:
        for seed, share in zip(seeds, shares):
            args = (job, url, study_name, sampler, seed, share, timeout, queue)
            process = context.Process(target=_worker, args=args, daemon=True)
            process.start()
            processes.append(process)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    errors = _collect(queue, processes)
    for process in processes:
        process.join()
    failed = [error for error in errors if error is not None]
    if failed:
        raise TrainingError(f"{len(failed)} tuning worker(s) failed; the first said:\n{failed[0]}")


def _collect(queue, processes) -> list:
    """One message per worker; a worker that dies without one (killed, crashed) is reported."""
    import queue as queues

    messages = []
    while len(messages) < len(processes):
        try:
            messages.append(queue.get(timeout=1.0))
        except queues.Empty:
            if not any(process.is_alive() for process in processes):
                try:  # a message may have landed just as the last worker ended
                    messages.append(queue.get(timeout=1.0))
                    continue
                except queues.Empty:
                    pass
                codes = [process.exitcode for process in processes]
                messages.append(f"a worker ended without reporting (exit codes {codes})")
                break
    return messages


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --- the result ---------------------------------------------------------------------------


@dataclass
class SearchResult:
    """What :func:`search` found: the best network, its settings and every trial."""

    best_model: Sequential | None
    best_params: dict
    best_value: float
    best_trial: int
    monitor: str
    direction: str
    trials: Any  # a pandas DataFrame when pandas is installed, else a list of dicts
    storage: str
    study_name: str
    study: Any = field(repr=False, default=None)
    history: History | None = field(repr=False, default=None)
    #: the held-out rows of a single validation split (None with cv), for reports
    validation_rows: np.ndarray | None = field(repr=False, default=None)

    def summary(self) -> str:
        rows = trial_rows(self.study)
        done = sum(row["state"] == "COMPLETE" for row in rows)
        pruned = sum(row["state"] == "PRUNED" for row in rows)
        return (
            f"{len(rows)} trials ({done} complete, {pruned} pruned); best is trial "
            f"{self.best_trial} with {self.monitor} = {self.best_value:.4g}: {self.best_params}"
        )


def trial_rows(study) -> list[dict]:
    """One dict per trial: number, state, value, the settings, parameter count, seconds."""
    rows = []
    for trial in study.trials:
        config = trial.user_attrs.get("config")
        settings = _config_row(config) if config is not None else dict(trial.params)
        seconds = None
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        best_epochs = trial.user_attrs.get("best_epochs")
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                **settings,
                "parameters": trial.user_attrs.get("parameters"),
                "best_epoch": None if not best_epochs else float(np.mean(best_epochs)),
                "seconds": seconds,
            }
        )
    return rows


def _config_row(config: dict) -> dict:
    row = {key: value for key, value in config.items() if key != "units"}
    row["units"] = "-".join(str(u) for u in config["units"]) or "(none)"
    order = ["layers", "units", *[k for k in DEFAULTS if k not in ("layers", "units")]]
    return {key: row[key] for key in order if key in row}


def as_table(rows: list[dict]):
    """A pandas DataFrame when pandas is installed; the list of dicts otherwise."""
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


# --- the search -------------------------------------------------------------------------


def search(
    build_fn_or_space: dict | Callable | None = None,
    x: Any = None,
    y: Any = None,
    *,
    validation_split: float = 0.2,
    cv: int | None = None,
    n_trials: int | None = 20,
    timeout: float | None = None,
    sampler: str = "tpe",
    n_jobs: int = 1,
    seed: int | None = None,
    storage: str | os.PathLike | None = None,
    study_name: str = "densekit",
    epochs: int = 20,
    batch_size: int | None = None,
    pruning: bool = True,
    patience: int | None = None,
    monitor: str = "val_loss",
    task: str = "auto",
    refit: bool = True,
    verbose: int = 0,
) -> SearchResult:
    """Search network configurations; return the best model, its settings and the trial table.

    Each trial builds a network from the space (or ``build_fn(trial)``), trains it
    for ``epochs`` on the training rows and scores it by ``monitor`` at its best
    epoch on held-out rows: one random ``validation_split`` (stratified for
    classes), or ``cv`` folds (the mean over folds). ``n_trials`` more trials are
    run (Optuna's meaning): calling again with the same ``storage`` and
    ``study_name`` continues the study. ``n_jobs > 1`` runs the trials in that many
    processes sharing the storage (SQLite by default, in a fresh temporary folder
    unless ``storage`` is given). With a ``seed`` and ``n_jobs=1`` the search is
    reproducible: same trials, same scores.

    With ``refit`` the best configuration is trained again: on the same split with
    the same seeds (so it is the trial's own model, best epoch restored), or, with
    ``cv``, on all rows for the mean best epoch count.
    """
    optuna = require("optuna", "tune", "densekit.tune")
    job, n_trials = _make_job(
        build_fn_or_space,
        x,
        y,
        validation_split,
        cv,
        n_trials,
        timeout,
        sampler,
        n_jobs,
        seed,
        epochs,
        batch_size,
        pruning,
        patience,
        monitor,
        task,
        verbose,
    )
    url = storage_url(storage)
    if not isinstance(study_name, str) or not study_name:
        raise ArgumentError(f"study_name must be a non-empty string, got {study_name!r}")
    level = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=open_storage(url),
            study_name=study_name,
            direction=job.direction,
            load_if_exists=True,
        )
        if study.direction.name.lower() != job.direction:
            raise ArgumentError(
                f"study {study_name!r} in {url} was made to {study.direction.name.lower()}, "
                f"but monitor {monitor!r} needs {job.direction}"
            )
        _run(job, url, study_name, sampler, n_jobs, n_trials, timeout, len(study.trials))
        study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    finally:
        optuna.logging.set_verbosity(level)
    return _result(job, study, url, study_name, refit)


def _make_job(
    space,
    x,
    y,
    validation_split,
    cv,
    n_trials,
    timeout,
    sampler,
    n_jobs,
    seed,
    epochs,
    batch_size,
    pruning,
    patience,
    monitor,
    task,
    verbose,
) -> tuple[Job, int | None]:
    if sampler not in SAMPLERS:
        raise ArgumentError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ArgumentError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")
    if n_trials is not None and (not _is_int(n_trials) or n_trials < 1):
        raise ArgumentError(f"n_trials must be an integer >= 1 or None, got {n_trials!r}")
    if n_trials is None and timeout is None and sampler != "grid":
        raise ArgumentError("give n_trials or timeout (only the grid sampler ends by itself)")
    if not _is_int(epochs) or epochs < 1:
        raise ArgumentError(f"epochs must be an integer >= 1, got {epochs!r}")
    if patience is not None and (not _is_int(patience) or patience < 0):
        raise ArgumentError(f"patience must be an integer >= 0 or None, got {patience!r}")
    build_fn, dims = None, None
    shared = False
    if space is None or isinstance(space, dict):
        space = DEFAULT_SPACE if space is None else space
        dims = parse_space(space)
        shared = bool(space.get("shared_units", False))
    elif callable(space):
        build_fn = space
        if sampler == "grid":
            raise ArgumentError("sampler='grid' needs a search-space dict, not a build_fn")
    else:
        raise ArgumentTypeError(
            f"the first argument must be a search-space dict or build_fn(trial), got {space!r}"
        )
    x = check_x(x, np.float32)
    y = check_y(y)  # before any trial: a NaN label would fail every trial instead
    check_same_length(x, y)
    the_task = infer_task(y, task)
    labels = y.astype(np.int64) if the_task.kind != "regression" else None
    direction = "maximize" if monitor.endswith(("accuracy", "acc", "auc")) else "minimize"
    job = Job(
        x=x,
        y=y,
        folds=make_folds(len(x), validation_split, cv, seed, labels),
        task=the_task,
        space=dims,
        build_fn=build_fn,
        epochs=int(epochs),
        batch_size=batch_size,
        monitor=monitor,
        direction=direction,
        pruning=bool(pruning),
        grid=sampler == "grid",
        shared_units=shared,
        seed=seed,
        patience=patience,
        verbose=verbose,
    )
    if sampler == "grid" and n_trials is None:
        n_trials = int(np.prod([len(v) for v in grid_space(dims).values()]))
    return job, n_trials


def make_folds(n: int, validation_split: float, cv: int | None, seed, labels) -> list:
    """(train, validation) row indices: one random split, or ``cv`` folds (stratified for classes)."""
    rng = np.random.default_rng(seed)
    if cv is None:
        validation_split = check_validation_split(validation_split)
        if validation_split == 0:
            raise ArgumentError(f"validation_split must be in (0, 1), got {validation_split!r}")
        return [validation_split_indices(n, validation_split, rng, labels)]
    if not _is_int(cv) or not 2 <= cv <= n:
        raise ArgumentError(f"cv must be an integer from 2 to the number of rows, got {cv!r}")
    fold_of = np.empty(n, dtype=np.int64)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    offset = 0
    for members in groups:
        members = rng.permutation(members)
        fold_of[members] = (np.arange(len(members)) + offset) % cv
        offset += len(members)
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(cv)]


def _run(job, url, study_name, sampler, n_jobs, n_trials, timeout, n_existing) -> None:
    def sampler_seed(worker: int) -> int | None:
        if job.seed is None:
            return None
        # new seeds on resume, so a continued study does not repeat its first trials
        return int(np.random.SeedSequence([job.seed, n_existing, worker]).generate_state(1)[0])

    if n_jobs == 1:
        run_trials(job, url, study_name, sampler, sampler_seed(0), n_trials, timeout)
        return
    if n_trials is None:
        shares = [None] * n_jobs
    else:
        shares = [n_trials // n_jobs + (i < n_trials % n_jobs) for i in range(n_jobs)]
        shares = [share for share in shares if share > 0]
    seeds = [sampler_seed(i) for i in range(len(shares))]
    _run_processes(job, url, study_name, sampler, seeds, shares, timeout)


def _result(job: Job, study, url: str, study_name: str, refit: bool) -> SearchResult:
    optuna = require("optuna", "tune", "densekit.tune")
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    complete = [t for t in complete if t.value is not None and math.isfinite(t.value)]
    if not complete:
        raise TrainingError(
            f"no trial of study {study_name!r} completed; see the trial table in {url}"
        )
    best = study.best_trial
    params = best.user_attrs.get("config", dict(best.params))
    model, history = _refit(job, best) if refit else (None, None)
    return SearchResult(
        best_model=model,
        best_params=params,
        best_value=float(best.value),
        best_trial=best.number,
        monitor=job.monitor,
        direction=job.direction,
        trials=as_table(trial_rows(study)),
        storage=url,
        study_name=study_name,
        study=study,
        history=history,
        validation_rows=job.folds[0][1] if len(job.folds) == 1 else None,
    )


def _refit(job: Job, best) -> tuple[Sequential, History]:
    optuna = require("optuna", "tune", "densekit.tune")
    seed = best.user_attrs["seed"]
    trial = optuna.trial.FixedTrial(best.params, number=best.number)
    for key, value in best.user_attrs.items():
        trial.set_user_attr(key, value)
    model, batch_size = _make_model(job, trial, seed)
    started = time.perf_counter()
    if len(job.folds) == 1:
        train, val = job.folds[0]
        history = model.fit(
            job.x[train],
            job.y[train],
            validation_data=(job.x[val], job.y[val]),
            epochs=job.epochs,
            batch_size=batch_size,
            verbose=0,
            seed=seed,
            callbacks=[KeepBest(job.monitor, job.direction), *_stopping(job)],
        )
    else:
        epochs = max(1, round(float(np.mean(best.user_attrs["best_epochs"]))))
        history = model.fit(
            job.x, job.y, epochs=epochs, batch_size=batch_size, verbose=0, seed=seed
        )
    model.metadata["tuning"] = {
        "trial": best.number,
        "value": float(best.value),
        "monitor": job.monitor,
        "refit_seconds": round(time.perf_counter() - started, 3),
    }
    return model, history
