"""Which kernels a model gets: the device's own, numba's or NumPy's reference.

The choice is made once, when a model is built (``DENSEKIT_KERNELS=numba|numpy`` is read
then, never per batch); layers and optimizers keep the object they are handed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import numba_kernels
from .kernels import NUMPY, Kernels, reference


def for_backend(backend: Any = None, params: Any = None) -> Kernels:
    """The kernels a model built on ``backend`` computes with; callers ask once, at build.

    On a GPU the backend's own (:class:`~densekit.backend.cupy_kernels.CupyKernels`); on
    the CPU numba's or the NumPy reference, as ``DENSEKIT_KERNELS`` says (read now).

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
    compiled = numba_kernels.get()
    if compiled is None or (params is not None and params.ndim != 1):
        return NUMPY
    return compiled
