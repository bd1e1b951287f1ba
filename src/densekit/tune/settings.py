"""How a search runs: its settings, checked once, and the job every worker is given.

:class:`SearchSettings` holds what :func:`~densekit.tune.search` takes besides
the space, the data and the storage; :func:`make_job` checks the data against
it and makes the (picklable) :class:`Job` that trials run from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..validation import (
    check_same_length,
    check_validation_split,
    check_x,
    check_y,
    validation_split_indices,
)
from .space import DEFAULT_SPACE, Dimension, grid_space, is_int, parse_space
from .task import Task, infer_task

SAMPLERS = ("tpe", "random", "grid")


@dataclass(frozen=True)
class SearchSettings:
    """The settings of one search (see :func:`~densekit.tune.search`), checked when made.

    Attributes
    ----------
    validation_split : float
        The held-out fraction of rows (without ``cv``).
    cv : int, optional
        Folds of cross-validation instead of one split.
    n_trials : int, optional
        Trials to run (None: until ``timeout``, or the whole grid).
    timeout : float, optional
        Seconds to run trials for.
    sampler : str
        'tpe', 'random' or 'grid'.
    n_jobs : int
        Worker processes.
    seed : int, optional
        Seeds the folds, the samplers and each trial's model.
    epochs : int
        Epochs per trial (per fold).
    batch_size : int, optional
        Batch size (a space's ``batch_size`` overrides it).
    pruning : bool
        Stop trials whose validation curve falls behind (median pruner).
    patience : int, optional
        Early stopping after this many epochs without improvement.
    monitor : str
        The metric scored; minimized unless it ends in accuracy, acc or auc.
    task : str
        'auto', 'classification' or 'regression'.
    verbose : int
        0 silences Optuna's log.

    Raises
    ------
    ArgumentError
        If a setting is out of range (checked on construction).
    """

    validation_split: float = 0.2
    cv: int | None = None
    n_trials: int | None = 20
    timeout: float | None = None
    sampler: str = "tpe"
    n_jobs: int = 1
    seed: int | None = None
    epochs: int = 20
    batch_size: int | None = None
    pruning: bool = True
    patience: int | None = None
    monitor: str = "val_loss"
    task: str = "auto"
    verbose: int = 0

    def __post_init__(self):
        sampler, n_jobs, n_trials = self.sampler, self.n_jobs, self.n_trials
        if sampler not in SAMPLERS:
            raise ArgumentError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise ArgumentError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")
        if n_trials is not None and (not is_int(n_trials) or n_trials < 1):
            raise ArgumentError(f"n_trials must be an integer >= 1 or None, got {n_trials!r}")
        if n_trials is None and self.timeout is None and sampler != "grid":
            raise ArgumentError("give n_trials or timeout (only the grid sampler ends by itself)")
        if not is_int(self.epochs) or self.epochs < 1:
            raise ArgumentError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if self.patience is not None and (not is_int(self.patience) or self.patience < 0):
            raise ArgumentError(f"patience must be an integer >= 0 or None, got {self.patience!r}")

    @property
    def direction(self) -> str:
        """'maximize' for an accuracy or AUC ``monitor``, else 'minimize'."""
        return "maximize" if self.monitor.endswith(("accuracy", "acc", "auc")) else "minimize"

    @property
    def grid(self) -> bool:
        """Whether the grid sampler runs the search."""
        return self.sampler == "grid"


@dataclass
class Job:
    """Everything a worker needs to run trials (picklable for worker processes).

    Attributes
    ----------
    x, y : numpy.ndarray
        The checked data.
    folds : list of (numpy.ndarray, numpy.ndarray)
        (train, validation) row indices.
    task : Task
        The output layer, loss and metrics.
    space : dict of str to Dimension, optional
        The parsed space (None with a ``build_fn``).
    build_fn : callable, optional
        ``build_fn(trial) -> compiled Sequential`` instead of a space.
    settings : SearchSettings
        The search's settings.
    shared_units : bool
        One ``units`` for every hidden layer.
    n_trials : int, optional
        Trials to run (the grid's size when the grid sampler is given none).
    extra_callbacks : list
        More callbacks for every trial's fit.
    """

    x: np.ndarray
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: Task
    space: dict[str, Dimension] | None
    build_fn: Callable | None
    settings: SearchSettings
    shared_units: bool = False
    n_trials: int | None = None
    extra_callbacks: list = field(default_factory=list)


def make_job(space: dict | Callable | None, x: Any, y: Any, settings: SearchSettings) -> Job:
    """Check the space and the data and make the :class:`Job` the trials run from.

    Parameters
    ----------
    space
        A search-space dict (None: :data:`~densekit.tune.space.DEFAULT_SPACE`)
        or ``build_fn(trial)``.
    x
    y
        Features (n, features) and targets.
    settings
        The search's settings.

    Returns
    -------
    Job
        The job.

    Raises
    ------
    ArgumentTypeError
        If ``space`` is neither a dict nor callable.
    ArgumentError
        If the space is malformed, or the grid sampler is given a ``build_fn``.
    InputError
        If the data are malformed.
    """
    build_fn, dims = None, None
    shared = False
    if space is None or isinstance(space, dict):
        space = DEFAULT_SPACE if space is None else space
        dims = parse_space(space)
        shared = bool(space.get("shared_units", False))
    elif callable(space):
        build_fn = space
        if settings.grid:
            raise ArgumentError("sampler='grid' needs a search-space dict, not a build_fn")
    else:
        raise ArgumentTypeError(
            f"the first argument must be a search-space dict or build_fn(trial), got {space!r}"
        )
    x = check_x(x, np.float32)
    y = check_y(y)  # before any trial: a NaN label would fail every trial instead
    check_same_length(x, y)
    the_task = infer_task(y, settings.task)
    labels = y.astype(np.int64) if the_task.kind != "regression" else None
    n_trials = settings.n_trials
    if settings.grid and n_trials is None:
        n_trials = int(np.prod([len(v) for v in grid_space(dims).values()]))
    return Job(
        x=x,
        y=y,
        folds=make_folds(len(x), settings.validation_split, settings.cv, settings.seed, labels),
        task=the_task,
        space=dims,
        build_fn=build_fn,
        settings=settings,
        shared_units=shared,
        n_trials=n_trials,
    )


def make_folds(
    n: int,
    validation_split: float,
    cv: int | None,
    seed: int | None,
    labels: np.ndarray | None,
) -> list:
    """(train, validation) row indices: one random split, or ``cv`` folds (stratified for classes).

    Parameters
    ----------
    n
        Rows.
    validation_split
        The held-out fraction, in (0, 1) (without ``cv``).
    cv
        Folds, from 2 to ``n``.
    seed
        Seeds the shuffle.
    labels
        Class labels to stratify by (None for regression).

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One (train, validation) pair per fold.

    Raises
    ------
    ArgumentError
        If ``validation_split`` or ``cv`` is out of range.
    """
    rng = np.random.default_rng(seed)
    if cv is None:
        validation_split = check_validation_split(validation_split)
        if validation_split == 0:
            raise ArgumentError(f"validation_split must be in (0, 1), got {validation_split!r}")
        return [validation_split_indices(n, validation_split, rng, labels)]
    if not is_int(cv) or not 2 <= cv <= n:
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
