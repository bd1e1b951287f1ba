"""Which kernels a model gets: the device's own, numba's or NumPy's reference.

``DENSEKIT_KERNELS`` says which CPU kernels run: ``numba`` (always the compiled ones),
``numpy`` (always the reference) or ``auto`` (the default): the reference until a fit is
large enough to pay for loading the compiled ones. Loading numba and its cached machine
code costs about 0.8 s of CPU and 110 MB in a new process, more than a whole small job
(training a 200-row table takes about 0.3 s), so a small job never loads it.

The choice is made when a model is built and, under ``auto``, once more when ``fit``
knows how many steps it will take (:func:`for_work`); never per batch. It depends only on
the model's size and the fit's steps, so the same calls give the same kernels.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from . import numba_kernels
from .kernels import NUMPY, Kernels, reference

#: Measured on an AMD EPYC (Zen 4), one thread, batch 32, Adam (benchmarks/RESULTS.md,
#: "Small jobs start fast"): the compiled kernels save about ``STEP_SAVING_SECONDS +
#: PARAM_SAVING_SECONDS * n_params`` a step (25 µs at 3k parameters, 640 µs at 235k) and
#: cost ``LOAD_SECONDS`` to load once a process.
STEP_SAVING_SECONDS = 15e-6
PARAM_SAVING_SECONDS = 3e-9
LOAD_SECONDS = 0.8
#: The saving must be this many times the loading cost: near the break-even point the
#: load's cost is certain and the saving an estimate.
MARGIN = 2.0


def for_backend(backend: Any = None, params: Any = None) -> Kernels:
    """The kernels a model built on ``backend`` computes with; callers ask once, at build.

    On a GPU the backend's own (:class:`~densekit.backend.cupy_kernels.CupyKernels`); on
    the CPU numba's when ``DENSEKIT_KERNELS=numba``, else the NumPy reference (under
    ``auto``, :func:`for_work` may move a fit to numba's).

    Parameters
    ----------
    backend
        The model's backend; without it, the CPU's for NumPy ``params``, else the
        reference on ``params``' module.
    params
        The buffer an optimizer updates: numba's steps take flat 1-D buffers, so other
        shapes get the reference.

    Returns
    -------
    Kernels

    Raises
    ------
    ArgumentError
        If ``DENSEKIT_KERNELS`` names no implementation.
    MissingDependencyError
        If ``DENSEKIT_KERNELS=numba`` and numba is not installed.
    """
    if backend is not None and backend.kernels is not None:
        return backend.kernels
    if backend is None and params is not None and not isinstance(params, np.ndarray):
        import cupy  # only reached for arrays on a GPU

        return reference(cupy.get_array_module(params))
    if backend is not None and backend.name != "cpu":
        return reference(backend.xp)
    if params is not None and params.ndim != 1:
        return NUMPY
    if numba_kernels.requested() != "numba":
        return NUMPY
    return numba_kernels.get() or NUMPY


def for_work(backend: Any, n_params: int, steps: int) -> Kernels | None:
    """The compiled kernels when a CPU fit of ``steps`` steps gains from loading them, else None.

    Only under ``DENSEKIT_KERNELS=auto`` (the default) with numba installed; the saving
    is estimated from the parameter count (see :func:`worth_compiling`).

    Parameters
    ----------
    backend
        The model's backend; other devices keep their own kernels.
    n_params
        The parameter count the optimizer updates each step.
    steps
        The optimizer steps the fit will take (epochs times batches an epoch).

    Returns
    -------
    Kernels or None
        numba's kernels, or None where the model keeps the ones it has.
    """
    if backend is not None and (backend.kernels is not None or backend.name != "cpu"):
        return None
    if numba_kernels.requested() != "auto" or not worth_compiling(n_params, steps):
        return None
    if importlib.util.find_spec("numba") is None:
        return None
    return numba_kernels.get()


def worth_compiling(n_params: int, steps: int) -> bool:
    """Whether ``steps`` steps of a model of ``n_params`` parameters repay loading numba.

    ``steps * (STEP_SAVING_SECONDS + PARAM_SAVING_SECONDS * n_params)
    >= MARGIN * LOAD_SECONDS``: about 67,000 steps for 3,000 parameters, 2,300 for
    235,000, 540 for a million.

    Parameters
    ----------
    n_params
        The parameter count.
    steps
        The optimizer steps of the fit.

    Returns
    -------
    bool
    """
    saving = steps * (STEP_SAVING_SECONDS + PARAM_SAVING_SECONDS * n_params)
    return saving >= MARGIN * LOAD_SECONDS
