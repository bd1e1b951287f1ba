"""Tier 1: where arrays live and how they are computed.

- :mod:`.arrays`: the array module as a value (NumPy or CuPy), dtypes and precision,
  random generators;
- :mod:`.threads`: how many BLAS threads the products use;
- :mod:`.kernels`: the kernels interface every layer, loss and optimizer step calls,
  with NumPy as the reference; :mod:`.numba_kernels` and :mod:`.cupy_kernels` implement
  it compiled for the CPU and fused for the GPU.

Nothing here imports the math, the layers or the model.
"""

from __future__ import annotations

from . import choice, kernels, numba_kernels  # numba itself is imported on first use
from .arrays import (
    CPU,
    PRECISIONS,
    Backend,
    check_precision,
    erf,
    get_backend,
    make_rng,
    matmul_precision,
    resolve_dtype,
)

__all__ = [
    "CPU",
    "PRECISIONS",
    "Backend",
    "check_precision",
    "erf",
    "get_backend",
    "kernels",
    "make_rng",
    "matmul_precision",
    "numba_kernels",
    "resolve_dtype",
    "choice",
]
