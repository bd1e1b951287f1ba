"""Tier 1: where arrays live and how they are computed.

- :mod:`.arrays`: the array module as a value (NumPy or CuPy), dtypes and precision,
  random generators;
- :mod:`.threads`: how many BLAS threads the products use;
- :mod:`.numba_kernels` and :mod:`.cupy_kernels`: compiled kernels for the CPU and the GPU.

Nothing here imports the math, the layers or the model.
"""

from __future__ import annotations

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
    "make_rng",
    "matmul_precision",
    "resolve_dtype",
]
