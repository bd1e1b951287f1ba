"""The array module, the dtype policy and randomness.

Layer code never imports NumPy or CuPy for array work directly: it asks a
:class:`Backend` for ``xp`` so the same code runs on the CPU and on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ArgumentError, MissingDependencyError

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype: Any) -> np.dtype:
    """float32 (default) or float64; anything else is refused by name."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ArgumentError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in (np.float32, np.float64):
        raise ArgumentError(f"dtype must be 'float32' or 'float64', got {resolved.name!r}")
    return resolved


@dataclass
class Backend:
    """Where arrays live: ``xp`` is ``numpy`` or ``cupy``; ``name`` is 'cpu' or 'gpu'."""

    name: str = "cpu"
    xp: Any = field(default=np, repr=False)

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Move ``array`` to this backend (no copy when it is already there)."""
        return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """Bring ``array`` back to host memory as a NumPy array."""
        if self.xp is np:
            return np.asarray(array)
        return self.xp.asnumpy(array)


def erf(xp: Any, x: Any) -> Any:
    """The error function on ``xp``'s arrays, exact to the dtype (for exact GELU)."""
    return _erf_function(xp)(x)


def _erf_function(xp: Any):
    if xp is np:
        try:
            from scipy.special import erf
        except ImportError:  # pragma: no cover - scipy is present in most installs
            import math

            erf = np.frompyfunc(math.erf, 1, 1)

            return lambda x: erf(x).astype(x.dtype)
        return erf
    import cupyx.scipy.special  # noqa: PLC0415 - only on a GPU

    return cupyx.scipy.special.erf


CPU = Backend("cpu", np)


def get_backend(device: str | Backend | None = "cpu") -> Backend:
    """'cpu' -> NumPy; 'gpu'/'cuda' -> CuPy, with a clear error when it is missing."""
    if isinstance(device, Backend):
        return device
    if device in (None, "cpu"):
        return CPU
    if device in ("gpu", "cuda"):
        try:
            import cupy
        except ImportError as exc:
            raise MissingDependencyError(
                "device='gpu' needs CuPy: pip install 'densekit[gpu]'"
            ) from exc
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            raise MissingDependencyError(f"device='gpu' but CUDA is not usable: {exc}") from exc
        if count == 0:
            raise MissingDependencyError("device='gpu' but no CUDA device was found")
        return Backend("gpu", cupy)
    raise ArgumentError(f"device must be 'cpu' or 'gpu', got {device!r}")


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from a seed (or the Generator itself); never the global state."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ArgumentError(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.default_rng(seed)
