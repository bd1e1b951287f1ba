"""Running trials: here in this process, or in spawned worker processes sharing one storage."""

from __future__ import annotations

import os
import traceback

import numpy as np

from ..errors import TrainingError, require
from .objective import objective
from .settings import Job
from .storage import make_pruner, make_sampler, open_storage

#: set to the worker's share of the cores in each worker process (no BLAS oversubscription)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_search(job: Job, url: str, study_name: str, n_existing: int) -> None:
    """Run the job's trials: here with ``n_jobs=1``, else in ``n_jobs`` processes.

    Parameters
    ----------
    job
        The search's job (its settings say how many trials, how many jobs, what sampler).
    url
        The study's storage (:func:`~densekit.tune.storage.storage_url`).
    study_name
        The study, already created in the storage.
    n_existing
        Trials the study had before: a resumed study's samplers get new seeds, so it
        does not repeat its first trials.

    Raises
    ------
    TrainingError
        If a worker process fails.
    """
    settings = job.settings

    def sampler_seed(worker: int) -> int | None:
        if settings.seed is None:
            return None
        # new seeds on resume, so a continued study does not repeat its first trials
        return int(np.random.SeedSequence([settings.seed, n_existing, worker]).generate_state(1)[0])

    n_jobs, n_trials = settings.n_jobs, job.n_trials
    if n_jobs == 1:
        run_trials(job, url, study_name, sampler_seed(0), n_trials)
        return
    if n_trials is None:
        shares = [None] * n_jobs
    else:
        shares = [n_trials // n_jobs + (i < n_trials % n_jobs) for i in range(n_jobs)]
        shares = [share for share in shares if share > 0]
    seeds = [sampler_seed(i) for i in range(len(shares))]
    run_processes(job, url, study_name, seeds, shares)


def run_trials(
    job: Job, url: str, study_name: str, sampler_seed: int | None, n_trials: int | None
) -> None:
    """Load the shared study and run ``n_trials`` of it here (in this process).

    Parameters
    ----------
    job
        The search's job.
    url
        The study's storage.
    study_name
        The study.
    sampler_seed
        This process's sampler seed.
    n_trials
        Trials to run here (None: until the settings' timeout).
    """
    optuna = require("optuna", "tune", "densekit.tune")
    settings = job.settings
    study = optuna.load_study(
        study_name=study_name,
        storage=open_storage(url),
        sampler=make_sampler(settings.sampler, sampler_seed, job, n_trials),
        pruner=make_pruner(settings.pruning, settings.epochs * len(job.folds)),
    )
    study.optimize(lambda trial: objective(job, trial), n_trials=n_trials, timeout=settings.timeout)


def _worker(job, url, study_name, sampler_seed, n_trials, queue) -> None:
    try:
        if not job.settings.verbose:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        run_trials(job, url, study_name, sampler_seed, n_trials)
        queue.put(None)
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        queue.put(traceback.format_exc())


def run_processes(job: Job, url: str, study_name: str, seeds: list, shares: list) -> None:
    """One spawned process per share of trials, all on the same storage.

    Parameters
    ----------
    job
        The search's job.
    url
        The study's storage.
    study_name
        The study.
    seeds
        Each process's sampler seed.
    shares
        Each process's trial count (None: until the timeout).

    Raises
    ------
    TrainingError
        If a worker fails or ends without reporting.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    threads = str(max(1, (os.cpu_count() or 1) // len(shares)))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, threads))  # no BLAS oversubscription
    processes = []
    try:
        for seed, share in zip(seeds, shares):
            args = (job, url, study_name, seed, share, queue)
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
