"""The search: make the study, run its trials, refit the best configuration."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..callbacks import History
from ..errors import ArgumentError, TrainingError, require
from ..model import Sequential
from .objective import KeepBest, make_model, stopping_callbacks
from .results import SearchResult, as_table, trial_rows
from .settings import Job, SearchSettings, make_job
from .storage import in_memory_copy, open_storage, remove_temporary_storage, storage_url
from .workers import run_search


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

    Parameters
    ----------
    build_fn_or_space
        A search-space dict (None: ``DEFAULT_SPACE``) or ``build_fn(trial)``.
    x
    y
        Features (n, features) and targets.
    validation_split
        The held-out fraction of rows (without ``cv``).
    cv
        Folds of cross-validation instead of one split.
    n_trials
        Trials to run (None: until ``timeout``, or the whole grid).
    timeout
        Seconds to run trials for.
    sampler
        'tpe', 'random' or 'grid'.
    n_jobs
        Worker processes.
    seed
        Seeds the folds, the samplers and each trial's model.
    storage
        Where the study lives (:func:`~densekit.tune.storage.storage_url`).
    study_name
        The study's name in the storage.
    epochs
        Epochs per trial (per fold).
    batch_size
        Batch size (a space's ``batch_size`` overrides it).
    pruning
        Stop trials whose validation curve falls behind (median pruner).
    patience
        Early stopping after this many epochs without improvement.
    monitor
        The metric scored; minimized unless it ends in accuracy, acc or auc.
    task
        'auto', 'classification' or 'regression'.
    refit
        Train the best configuration again and return it.
    verbose
        0 silences Optuna's log.

    Returns
    -------
    SearchResult
        The best model, its settings and score, and the trial table.

    Raises
    ------
    ArgumentError
        If a setting is out of range, or the stored study goes the other direction.
    TrainingError
        If no trial completed, or a worker failed.
    """
    optuna = require("optuna", "tune", "densekit.tune")
    settings = SearchSettings(
        validation_split=validation_split,
        cv=cv,
        n_trials=n_trials,
        timeout=timeout,
        sampler=sampler,
        n_jobs=n_jobs,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        pruning=bool(pruning),
        patience=patience,
        monitor=monitor,
        task=task,
        verbose=verbose,
    )
    job = make_job(build_fn_or_space, x, y, settings)
    if not isinstance(study_name, str) or not study_name:
        raise ArgumentError(f"study_name must be a non-empty string, got {study_name!r}")
    url = storage_url(storage)
    temporary = storage is None
    level = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=open_storage(url),
            study_name=study_name,
            direction=settings.direction,
            load_if_exists=True,
        )
        if study.direction.name.lower() != settings.direction:
            raise ArgumentError(
                f"study {study_name!r} in {url} was made to {study.direction.name.lower()}, "
                f"but monitor {monitor!r} needs {settings.direction}"
            )
        run_search(job, url, study_name, len(study.trials))
        if temporary:  # nobody can continue it: keep it in memory, remove its folder
            study = in_memory_copy(url, study_name)
        else:
            study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    finally:
        optuna.logging.set_verbosity(level)
        if temporary:
            remove_temporary_storage(url)
    return _result(job, study, None if temporary else url, study_name, refit)


def _result(job: Job, study, url: str | None, study_name: str, refit: bool) -> SearchResult:
    optuna = require("optuna", "tune", "densekit.tune")
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    complete = [t for t in complete if t.value is not None and math.isfinite(t.value)]
    if not complete:
        where = f"see the trial table in {url}" if url else "pass storage= to keep the study"
        raise TrainingError(f"no trial of study {study_name!r} completed; {where}")
    best = study.best_trial
    params = best.user_attrs.get("config", dict(best.params))
    model, history = _refit(job, best) if refit else (None, None)
    return SearchResult(
        best_model=model,
        best_params=params,
        best_value=float(best.value),
        best_trial=best.number,
        monitor=job.settings.monitor,
        direction=job.settings.direction,
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
    model, batch_size = make_model(job, trial, seed)
    started = time.perf_counter()
    if len(job.folds) == 1:
        train, val = job.folds[0]
        history = model.fit(
            job.x[train],
            job.y[train],
            validation_data=(job.x[val], job.y[val]),
            epochs=job.settings.epochs,
            batch_size=batch_size,
            verbose=0,
            seed=seed,
            callbacks=[
                KeepBest(job.settings.monitor, job.settings.direction),
                *stopping_callbacks(job),
            ],
        )
    else:
        epochs = max(1, round(float(np.mean(best.user_attrs["best_epochs"]))))
        history = model.fit(
            job.x, job.y, epochs=epochs, batch_size=batch_size, verbose=0, seed=seed
        )
    model.metadata["tuning"] = {
        "trial": best.number,
        "value": float(best.value),
        "monitor": job.settings.monitor,
        "refit_seconds": round(time.perf_counter() - started, 3),
    }
    return model, history
