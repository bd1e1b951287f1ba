"""One epoch loop for every way of training: CPU, GPU, an MPI rank, Dask rounds.

:func:`run_epoch` owns what they share: the batch count, the callbacks' batch hooks
(called only when some callback overrides one), the running loss and metric means
handed to them, the progress bar, ``stop_training`` and the check that the synced loss
is finite. A :class:`Runner` owns what differs: how a batch is fetched and trained on
and how its gradient is summed (one process, an all-reduce, a sum of workers' parts),
where the loss and metric sums live, and how often they are read back.
"""

from __future__ import annotations

import math
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from ..callbacks import Callback, CallbackList
from ..errors import TrainingError

if TYPE_CHECKING:
    from ..model import Sequential


class Runner:
    """What one way of training does to each batch of an epoch (subclass it).

    Attributes
    ----------
    n_batches : int
        The batches of the epoch (for Dask, its rounds).
    sync_every : int
        Read the totals back every this many batches (and at the last); 1 on the CPU.
    checks_loss : bool
        Whether the loop checks the synced loss (the GPU, whose steps do not).
    stops_mid_epoch : bool
        Whether ``stop_training`` ends the epoch at once (False where every rank must
        take the same steps: MPI honours it at the epoch's end).
    """

    n_batches = 0
    sync_every = 1
    checks_loss = False
    stops_mid_epoch = True

    def running(self, metrics: list) -> AbstractContextManager:
        """A context for the epoch's steps (the GPU's stream and precision); resets totals.

        Parameters
        ----------
        metrics
            The model's compiled metrics, whose sums the runner keeps.

        Returns
        -------
        contextlib.AbstractContextManager
            Entered around the epoch's steps.
        """
        self.metrics = metrics
        return nullcontext()

    def step(self, batch: int) -> None:
        """Fetch batch ``batch``, take its optimizer step and add its sums to the totals.

        Parameters
        ----------
        batch
            The batch's index in the epoch.
        """
        raise NotImplementedError

    def totals(self) -> tuple[Any, float]:
        """``(sums, rows)`` so far: ``sums`` the loss sum, then each metric's, on the host.

        Returns
        -------
        tuple
            The sums (indexable) and the rows they are over.
        """
        raise NotImplementedError

    def epoch_totals(self) -> tuple[Any, float]:
        """``(sums, rows)`` of the whole epoch (an MPI rank adds every rank's).

        Returns
        -------
        tuple
            As :meth:`totals`.
        """
        return self.totals()

    def nonfinite(self, loss: float) -> TrainingError:
        """The error for a synced loss that is not finite (where ``checks_loss``).

        Parameters
        ----------
        loss
            The running mean loss read back.

        Returns
        -------
        TrainingError
            The error the loop raises.
        """
        return TrainingError(f"the loss became {loss}; training stopped.")


def run_epoch(model: Sequential, runner: Runner, callbacks: Any, verbose: int, title: str) -> dict:
    """One pass over the runner's batches; the epoch's mean loss and metrics.

    Parameters
    ----------
    model
        The model being trained (its ``stop_training`` is read after each batch).
    runner
        Fetches and trains each batch, keeps the sums.
    callbacks
        Their batch hooks hear of every batch, when one of them overrides a hook.
    verbose
        1 draws a progress bar titled ``title``.
    title
        The progress bar's title.

    Returns
    -------
    dict
        ``{"loss": ..., metric: ...}`` over the epoch's rows ({} when there were none).

    Raises
    ------
    TrainingError
        Where the runner ``checks_loss`` and the synced loss is not finite.
    """
    metrics = model.compiled_metrics()
    n_batches = runner.n_batches
    bar = progress_bar(n_batches, title, verbose)
    hooks = calls_batch_hooks(callbacks)
    read_logs = hooks or bar is not None or runner.checks_loss
    sync_every, postfix_every = runner.sync_every, max(1, n_batches // 20)
    logs: dict = {}
    with runner.running(metrics):
        for batch in range(n_batches):
            if hooks:
                callbacks.on_train_batch_begin(batch, {})
            runner.step(batch)
            stop = runner.stops_mid_epoch and model.stop_training
            last = batch == n_batches - 1 or stop
            if read_logs and (batch % sync_every == 0 or last):
                logs = mean_logs(*runner.totals(), metrics)
                if runner.checks_loss and not math.isfinite(logs["loss"]):
                    raise runner.nonfinite(logs["loss"])
            if hooks:
                callbacks.on_train_batch_end(batch, logs)
            if bar is not None:
                bar.update(1)
                if batch % postfix_every == 0 or last:
                    bar.set_postfix_str(format_logs(logs), refresh=False)
            if stop:
                break
    if bar is not None:
        bar.close()
    sums, rows = runner.epoch_totals()
    return mean_logs(sums, rows, metrics) if rows else {}


def mean_logs(sums: Any, rows: float, metrics: list) -> dict:
    """The means ``{"loss": ..., metric: ...}`` from sums over ``rows`` rows.

    Parameters
    ----------
    sums
        The loss sum, then each metric's.
    rows
        The rows summed over (at least 1).
    metrics
        The compiled metrics, in the order of ``sums[1:]``.

    Returns
    -------
    dict
        Python floats by name.
    """
    logs = {"loss": float(sums[0] / rows)}
    for k, metric in enumerate(metrics, start=1):
        logs[metric.name] = metric.value(sums[k], rows)
    return logs


def calls_batch_hooks(callbacks: CallbackList) -> bool:
    """Whether any callback overrides a per-batch hook (if none does, skip the calls).

    Parameters
    ----------
    callbacks
        The callbacks of the fit.

    Returns
    -------
    bool
        True also for a list the loop cannot look into.
    """
    members = getattr(callbacks, "callbacks", None)
    if members is None:  # not a CallbackList we can look into: call the hooks
        return True
    hooks = ("on_train_batch_begin", "on_train_batch_end")
    return any(
        getattr(type(callback), hook, None) is not getattr(Callback, hook)
        for callback in members
        for hook in hooks
    )


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - accuracy: 0.9000"``.

    Parameters
    ----------
    logs
        Values by name.

    Returns
    -------
    str
        The values to four decimals.
    """
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


def print_epoch(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
    """Print one line for a finished epoch (``verbose=2``, or after a bar with validation).

    Parameters
    ----------
    epoch
    epochs
        The epoch (0-based) and how many there are.
    logs
        The epoch's logs.
    seconds
        Its wall time.
    """
    print(f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {format_logs(logs)}", flush=True)


def progress_bar(total: int, title: str, verbose: int):
    """A tqdm bar of ``total`` batches on stdout when ``verbose == 1``, else None.

    Parameters
    ----------
    total
        The batches of the epoch.
    title
        The bar's description.
    verbose
        Only 1 draws a bar.

    Returns
    -------
    tqdm or None
        The bar.
    """
    if verbose != 1:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=title,
        unit="batch",
        file=sys.stdout,
        mininterval=0.25,
        leave=True,
        dynamic_ncols=True,
    )
