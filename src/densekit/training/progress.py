"""What training prints: the per-epoch line and the per-batch progress bar.

Shared by the CPU loop (:mod:`.loop`), the GPU runner (:mod:`.gpu`) and the
distributed runners, so that none of them imports another for its output.
"""

from __future__ import annotations

import sys


def format_logs(logs: dict) -> str:
    """The logs as ``"loss: 0.1234 - accuracy: 0.9000"``.

    Parameters
    ----------
    logs : dict
        Metric names to numbers.

    Returns
    -------
    str
    """
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


def print_epoch(epoch: int, epochs: int, logs: dict, seconds: float) -> None:
    """Print the line of one finished epoch (``verbose=2``, or the end of a bar).

    Parameters
    ----------
    epoch : int
        The epoch just finished, counted from 0.
    epochs : int
        How many epochs the run has.
    logs : dict
        The epoch's metrics.
    seconds : float
        How long the epoch took.
    """
    print(f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {format_logs(logs)}", flush=True)


def progress_bar(total: int, title: str, verbose: int):
    """A ``tqdm`` bar over ``total`` batches when ``verbose`` is 1, else None.

    Parameters
    ----------
    total : int
        The number of batches.
    title : str
        The bar's description ("Epoch 1/5").
    verbose : int
        The fit's verbosity: only 1 draws a bar.

    Returns
    -------
    tqdm.tqdm or None
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
