"""What a search found: the result object and the table of trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..callbacks import History
from ..model import Sequential
from .space import DEFAULTS

if TYPE_CHECKING:
    import optuna


@dataclass
class SearchResult:
    """What :func:`~densekit.tune.search` found: the best network, its settings and every trial.

    Attributes
    ----------
    best_model : Sequential or None
        The best configuration refitted (None without ``refit``).
    best_params : dict
        The best trial's configuration (or its Optuna parameters with a ``build_fn``).
    best_value : float
        Its score.
    best_trial : int
        Its number.
    monitor, direction : str
        What was scored, and which way is better.
    trials : pandas.DataFrame or list of dict
        :func:`trial_rows`, as a table.
    storage : str or None
        Where the study is stored (run again with it to continue the study); None when
        the search made a temporary storage and removed it (the study is in memory).
    study_name : str
        The study's name.
    study : optuna.study.Study
        The study.
    history : History or None
        The refit's history.
    validation_rows : numpy.ndarray or None
        The held-out rows of a single validation split (None with cv).
    """

    best_model: Sequential | None
    best_params: dict
    best_value: float
    best_trial: int
    monitor: str
    direction: str
    trials: Any  # a pandas DataFrame when pandas is installed, else a list of dicts
    storage: str | None
    study_name: str
    study: Any = field(repr=False, default=None)
    history: History | None = field(repr=False, default=None)
    #: the held-out rows of a single validation split (None with cv), for reports
    validation_rows: np.ndarray | None = field(repr=False, default=None)

    def summary(self) -> str:
        """One line: trial counts by state, and the best trial with its score and settings.

        Returns
        -------
        str
        """
        rows = trial_rows(self.study)
        done = sum(row["state"] == "COMPLETE" for row in rows)
        pruned = sum(row["state"] == "PRUNED" for row in rows)
        return (
            f"{len(rows)} trials ({done} complete, {pruned} pruned); best is trial "
            f"{self.best_trial} with {self.monitor} = {self.best_value:.4g}: {self.best_params}"
        )


def trial_rows(study: optuna.Study) -> list[dict]:
    """One dict per trial: number, state, value, the settings, parameter count, seconds.

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    list of dict
        One row per trial, in trial order.
    """
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
    """A pandas DataFrame when pandas is installed; the list of dicts otherwise.

    Parameters
    ----------
    rows
        The rows.

    Returns
    -------
    pandas.DataFrame or list of dict
    """
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)
