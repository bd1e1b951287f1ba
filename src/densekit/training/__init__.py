"""Tier 5: training.

:mod:`.loop` is ``Sequential.fit`` (checks, epochs, rollback, validation);
:mod:`.epoch` the one epoch loop every way of training shares, and the runners own
what differs: :mod:`.cpu`, :mod:`.gpu`, :mod:`.mpi` (an MPI rank) and :mod:`.rounds`
(Dask's client rounds). :mod:`.step` is the one loss-and-gradient step;
:mod:`.inputs` checks what fit, evaluate and train_on_batch are given;
:mod:`.inference` is batched evaluate and predict.
"""

from __future__ import annotations

from .loop import DEFAULT_BATCH_SIZE, fit

__all__ = ["DEFAULT_BATCH_SIZE", "fit"]
