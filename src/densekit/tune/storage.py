"""Where a study lives and how it draws and prunes: storage URLs, samplers, pruners."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ArgumentTypeError, InputError, require
from .settings import Job
from .space import grid_space

#: file suffixes taken for an Optuna journal file (anything else: SQLite)
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
#: the name of a temporary study folder starts with this (in the system's temporary folder)
TEMPORARY_PREFIX = "densekit-tune-"


def storage_url(storage: str | os.PathLike | None) -> str:
    """Where the study lives: an Optuna RDB URL, or the path of an Optuna journal file.

    None makes a fresh SQLite file in a temporary folder (:func:`remove_temporary_storage`
    removes it; :func:`~densekit.tune.search` does, once the study is copied into memory);
    a file path becomes a
    SQLite URL (``.db``, ``.sqlite``, a folder, anything else) or a journal file
    (``.log``, ``.journal``, ``.jsonl``: Optuna's append-only log, several times
    faster per trial than SQLite). A URL (``sqlite:///...``, ``postgresql://...``)
    is used as given.

    Parameters
    ----------
    storage
        A URL, a file or folder path, or None.

    Returns
    -------
    str
        The URL, or the journal file's absolute path.

    Raises
    ------
    ArgumentTypeError
        If ``storage`` is neither a string nor a path.
    InputError
        If the file's folder does not exist.
    """
    if storage is None:
        folder = tempfile.mkdtemp(prefix=TEMPORARY_PREFIX)
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


def remove_temporary_storage(url: str) -> None:
    """Remove the temporary folder :func:`storage_url` made for ``url`` (None's storage).

    Only a folder named ``densekit-tune-*`` directly in the system's temporary folder is
    removed; any other URL is left alone.

    Parameters
    ----------
    url
        What ``storage_url(None)`` returned.
    """
    if not url.startswith("sqlite:///"):
        return
    folder = Path(url[len("sqlite:///") :]).parent
    temporary = Path(tempfile.gettempdir()).resolve()
    if folder.name.startswith(TEMPORARY_PREFIX) and folder.resolve().parent == temporary:
        shutil.rmtree(folder, ignore_errors=True)


def in_memory_copy(url: str, study_name: str):
    """The study, copied into Optuna's in-memory storage (so its file can be removed).

    Parameters
    ----------
    url
        The study's storage (:func:`storage_url`).
    study_name
        The study.

    Returns
    -------
    optuna.study.Study
        The copy: the same trials, attributes and times, in memory.
    """
    optuna = require("optuna", "tune", "densekit.tune")
    memory = optuna.storages.InMemoryStorage()
    source = open_storage(url)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created in memory"
    try:
        optuna.copy_study(from_study_name=study_name, from_storage=source, to_storage=memory)
    finally:
        optuna.logging.set_verbosity(level)
    if hasattr(source, "engine"):  # let go of the SQLite file before it is removed
        source.engine.dispose()
    return optuna.load_study(study_name=study_name, storage=memory)


def open_storage(url: str):
    """The Optuna storage behind ``url`` (see :func:`storage_url`).

    SQLite runs in WAL mode with a long lock timeout, so several worker
    processes can write to one file.

    Parameters
    ----------
    url
        What :func:`storage_url` returned.

    Returns
    -------
    optuna.storages.BaseStorage or str
        The storage (another database's URL is returned as it is, for Optuna to open).
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
    """The Optuna sampler of a kind.

    Parameters
    ----------
    kind
        'tpe' (its startup trials: a third of ``n_trials``, 2 to 10), 'random' or 'grid'.
    seed
        The sampler's seed.
    job
        The search's job (the grid sampler's space).
    n_trials
        Trials this sampler will draw.

    Returns
    -------
    optuna.samplers.BaseSampler
    """
    optuna = require("optuna", "tune", "densekit.tune")
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":
        return optuna.samplers.GridSampler(grid_space(job.space), seed=seed)
    startup = 10 if n_trials is None else min(10, max(2, n_trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(pruning: bool, epochs: int):
    """The median pruner (after 3 trials and a quarter of ``epochs``), or none.

    Parameters
    ----------
    pruning
        Whether to prune.
    epochs
        Steps a trial reports (epochs times folds).

    Returns
    -------
    optuna.pruners.BasePruner
    """
    optuna = require("optuna", "tune", "densekit.tune")
    if not pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
