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

The package, by concern: :mod:`.space` (the search space), :mod:`.task` (task
inference and the network a configuration describes), :mod:`.settings` (the
search's settings and the job workers run), :mod:`.objective` (one trial and
its callbacks), :mod:`.storage` (storage, samplers, pruners), :mod:`.workers`
(trials here or in processes), :mod:`.results` (the result and the trial table)
and :mod:`.search` (:func:`search` itself).
"""

from __future__ import annotations

from .objective import KeepBest, TrialPruning, make_model, objective, stopping_callbacks, trial_seed
from .results import SearchResult, as_table, trial_rows
from .search import search
from .settings import SAMPLERS, Job, SearchSettings, make_folds, make_job
from .space import (
    DEFAULT_SPACE,
    DEFAULTS,
    SPACE_KEYS,
    Dimension,
    grid_space,
    is_int,
    is_number,
    parse_space,
    suggest_config,
)
from .storage import (
    JOURNAL_SUFFIXES,
    make_pruner,
    make_sampler,
    open_storage,
    remove_temporary_storage,
    storage_url,
)
from .task import MAX_CLASSES, Task, build_model, infer_task
from .workers import THREAD_VARIABLES, run_processes, run_search, run_trials

__all__ = [
    "DEFAULTS",
    "DEFAULT_SPACE",
    "JOURNAL_SUFFIXES",
    "MAX_CLASSES",
    "SAMPLERS",
    "SPACE_KEYS",
    "THREAD_VARIABLES",
    "Dimension",
    "Job",
    "KeepBest",
    "SearchResult",
    "SearchSettings",
    "Task",
    "TrialPruning",
    "as_table",
    "build_model",
    "grid_space",
    "infer_task",
    "is_int",
    "is_number",
    "make_folds",
    "make_job",
    "make_model",
    "make_pruner",
    "make_sampler",
    "objective",
    "open_storage",
    "parse_space",
    "remove_temporary_storage",
    "run_processes",
    "run_search",
    "run_trials",
    "search",
    "stopping_callbacks",
    "storage_url",
    "suggest_config",
    "trial_rows",
    "trial_seed",
]
