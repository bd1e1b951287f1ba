"""One trial: its seed, its model, its folds and its score, and the callbacks it trains with.

:func:`objective` is what Optuna optimizes; :class:`TrialPruning` reports each
epoch's score to the trial and stops hopeless ones; :class:`KeepBest` ends a
fit with its best epoch's weights.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np

from ..callbacks import Callback, EarlyStopping
from ..errors import ArgumentError, ArgumentTypeError, TrainingError
from ..model import Sequential
from .settings import Job
from .space import suggest_config
from .task import build_model

if TYPE_CHECKING:
    import optuna


class TrialPruning(Callback):
    """Reports ``monitor`` to an Optuna trial after every epoch and stops hopeless trials.

    Raises ``optuna.TrialPruned`` when the trial's pruner says its curve is
    behind the others at the same step (``step_offset + epoch``). ``every`` reports
    only every so many epochs: each report is a write to the study's storage.

    Parameters
    ----------
    trial
        The trial to report to.
    monitor
        The logged metric reported.
    step_offset
        Added to the epoch (folds after the first continue the curve).
    every
        Report every so many epochs.
    """

    def __init__(
        self, trial: optuna.Trial, monitor: str = "val_loss", step_offset: int = 0, every: int = 1
    ):
        super().__init__()
        self.trial, self.monitor, self.step_offset = trial, monitor, step_offset
        self.every = every

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Report ``monitor`` (every ``every`` epochs) and prune when the pruner says so."""
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
    """Ends training with the weights of the epoch where ``monitor`` was best.

    Parameters
    ----------
    monitor
        The logged metric compared.
    direction
        'minimize' or 'maximize'.
    """

    def __init__(self, monitor: str, direction: str):
        super().__init__()
        self.monitor, self.sign = monitor, 1.0 if direction == "minimize" else -1.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Forget the best epoch of a previous fit."""
        self.best, self.weights = math.inf, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Keep this epoch's weights if ``monitor`` is the best yet."""
        value = self.sign * float(logs[self.monitor])
        if value < self.best:
            self.best, self.weights = value, self.model.get_weights()

    def on_train_end(self, logs: dict | None = None) -> None:
        """Restore the best epoch's weights."""
        if self.weights is not None:
            self.model.set_weights(self.weights)


def trial_seed(job: Job, number: int) -> int:
    """The seed of trial ``number``: from the search's seed, or fresh entropy without one.

    Parameters
    ----------
    job
        The search's job.
    number
        The trial's number.

    Returns
    -------
    int
    """
    if job.settings.seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(np.random.SeedSequence([job.settings.seed, number]).generate_state(1)[0])


def make_model(job: Job, trial: optuna.Trial, seed: int) -> tuple[Sequential, int | None]:
    """The trial's compiled model and the batch size to fit it with.

    Parameters
    ----------
    job
        The search's job.
    trial
        The trial (its ``config`` user attribute, or ``build_fn(trial)``).
    seed
        The model's seed (space-built models).

    Returns
    -------
    (Sequential, int or None)
        The model and the batch size.

    Raises
    ------
    ArgumentTypeError
        If ``build_fn`` does not return a compiled Sequential.
    """
    if job.build_fn is not None:
        model = job.build_fn(trial)
        if not isinstance(model, Sequential) or not model.compiled:
            raise ArgumentTypeError(
                f"build_fn must return a compiled densekit Sequential, got {model!r}"
            )
        return model, job.settings.batch_size
    config = trial.user_attrs["config"]
    model = build_model(config, job.x.shape[1], job.task, seed)
    return model, config.get("batch_size") or job.settings.batch_size


def stopping_callbacks(job: Job) -> list:
    """``[EarlyStopping]`` on the monitor with the search's ``patience``; ``[]`` without one.

    Parameters
    ----------
    job
        The search's job.

    Returns
    -------
    list
    """
    if job.settings.patience is None:
        return []
    return [EarlyStopping(job.settings.monitor, patience=job.settings.patience)]


def _fit_fold(job: Job, model: Sequential, batch_size, fold: int, seed: int, callbacks) -> list:
    train, val = job.folds[fold]
    settings = job.settings
    history = model.fit(
        job.x[train],
        job.y[train],
        validation_data=(job.x[val], job.y[val]),
        epochs=settings.epochs,
        batch_size=batch_size,
        verbose=0,
        seed=seed,
        callbacks=callbacks,
    )
    if settings.monitor not in history.history:
        raise ArgumentError(
            f"monitor {settings.monitor!r} is not among the metrics: {', '.join(history.history)}"
        )
    return history.history[settings.monitor]


def objective(job: Job, trial: optuna.Trial) -> float:
    """Train the trial's network on every fold; its score is the mean best-epoch ``monitor``.

    Parameters
    ----------
    job
        The search's job.
    trial
        The trial to run.

    Returns
    -------
    float
        The score (NaN, a failed trial, when training diverged).
    """
    settings = job.settings
    seed = trial_seed(job, trial.number)
    trial.set_user_attr("seed", seed)
    trial.set_user_attr("pid", os.getpid())
    if job.space is not None:
        config = suggest_config(trial, job.space, settings.grid, job.shared_units)
        trial.set_user_attr("config", config)
    scores, best_epochs = [], []
    for fold in range(len(job.folds)):
        model, batch_size = make_model(job, trial, seed)
        trial.set_user_attr("parameters", model.count_params() if model.built else None)
        callbacks = list(job.extra_callbacks)
        if settings.pruning:
            every = max(1, settings.epochs // 10)  # about ten pruning checks per fold
            callbacks.append(TrialPruning(trial, settings.monitor, fold * settings.epochs, every))
        callbacks += stopping_callbacks(job)
        try:
            curve = _fit_fold(job, model, batch_size, fold, seed, callbacks)
        except TrainingError as exc:
            trial.set_user_attr("error", str(exc))
            return float("nan")  # Optuna records the trial as failed
        best = int(np.argmin(curve) if settings.direction == "minimize" else np.argmax(curve))
        scores.append(float(curve[best]))
        best_epochs.append(best + 1)
    trial.set_user_attr("best_epochs", best_epochs)
    return float(np.mean(scores))
