"""The array module, the dtype policy and randomness.

Layer code never imports NumPy or CuPy for array work directly: it asks a
:class:`Backend` for ``xp`` so the same code runs on the CPU and on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ArgumentError, MissingDependencyError
from ..validation import is_sparse


def resolve_dtype(dtype: Any) -> np.dtype:
    """float32 (default) or float64; anything else is refused by name.

    Parameters
    ----------
    dtype
        None, or anything ``numpy.dtype`` reads (``"float64"``, ``np.float32``).

    Returns
    -------
    numpy.dtype
        float32 or float64.

    Raises
    ------
    ArgumentError
        If ``dtype`` is not float32 or float64.
    """
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ArgumentError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in (np.float32, np.float64):
        raise ArgumentError(f"dtype must be 'float32' or 'float64', got {resolved.name!r}")
    return resolved


PRECISIONS = ("fp32", "tf32", "bf16")


@dataclass
class Backend:
    """Where arrays live: ``xp`` is ``numpy`` or ``cupy``; ``name`` is 'cpu' or 'gpu'.

    Attributes
    ----------
    name
        ``"cpu"`` or ``"gpu"``.
    xp
        The array module.
    kernels
        The device's own kernels (:class:`~densekit.backend.cupy_kernels.CupyKernels`), or
        None on the CPU, where :func:`densekit.backend.choice.for_backend` chooses numba's
        or NumPy's when a model is built (``DENSEKIT_KERNELS``).
    """

    name: str = "cpu"
    xp: Any = field(default=np, repr=False)
    kernels: Any = field(default=None, repr=False)

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Move ``array`` to this backend (no copy when it is already there).

        Parameters
        ----------
        array
            An array of either module, or anything ``asarray`` reads.
        dtype
            The dtype wanted; None keeps ``array``'s.

        Returns
        -------
        array
            An ``xp`` array.
        """
        if self.xp is np and is_sparse(array):  # the first Dense layer multiplies it as it is
            return array if dtype is None else array.astype(dtype, copy=False)
        return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """Bring ``array`` back to host memory as a NumPy array.

        Parameters
        ----------
        array
            An array of this backend.

        Returns
        -------
        numpy.ndarray
            ``array`` in host memory.
        """
        if self.xp is np:
            return np.asarray(array)
        return self.xp.asnumpy(array)


def erf(xp: Any, x: Any) -> Any:
    """The error function on ``xp``'s arrays, exact to the dtype (for exact GELU).

    Parameters
    ----------
    xp
        ``numpy`` or ``cupy``.
    x
        The array.

    Returns
    -------
    array
        ``erf(x)``, of ``x``'s dtype.
    """
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


_GPU: Backend | None = None


def get_backend(device: str | Backend | None = "cpu") -> Backend:
    """'cpu' -> NumPy; 'gpu'/'cuda' -> CuPy, with a clear error when it is missing.

    Parameters
    ----------
    device
        ``"cpu"``, ``"gpu"``, ``"cuda"``, None (the CPU) or a :class:`Backend` (returned as it is).

    Returns
    -------
    Backend
        The backend, made once per process for the GPU.

    Raises
    ------
    ArgumentError
        If ``device`` is none of these.
    """
    global _GPU
    if isinstance(device, Backend):
        return device
    if device in (None, "cpu"):
        return CPU
    if device in ("gpu", "cuda"):
        if _GPU is None:
            cupy = _import_cupy()
            from .cupy_kernels import CupyKernels

            _GPU = Backend("gpu", cupy, CupyKernels(cupy))
        return _GPU
    raise ArgumentError(f"device must be 'cpu' or 'gpu', got {device!r}")


def _import_cupy():
    """CuPy with a usable CUDA device, or an error that names what is missing."""
    try:
        import cupy
    except ImportError as exc:
        raise MissingDependencyError(
            "device='gpu' needs CuPy, which is not installed: pip install 'densekit[gpu]' "
            "(cupy-cuda12x or cupy-cuda13x, matching the CUDA driver)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise MissingDependencyError(
            f"device='gpu': CuPy is installed but CUDA is not usable ({exc}); "
            "check the NVIDIA driver with nvidia-smi"
        ) from exc
    if count == 0:
        raise MissingDependencyError("device='gpu': CuPy is installed but no CUDA device was found")
    return cupy


def check_precision(precision: str) -> str:
    """'fp32' (default), 'tf32' or 'bf16': how float32 matrix products are computed.

    Parameters
    ----------
    precision
        The value passed.

    Returns
    -------
    str
        ``precision``.

    Raises
    ------
    ArgumentError
        If ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ArgumentError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


class matmul_precision:
    """Context: float32 matrix products on ``backend`` in TF32 or BF16 (float32 in and out).

    cuBLAS rounds the operands to the lower precision inside the product and
    accumulates in float32, so weights, gradients and the optimizer stay float32
    ("master weights"). 'fp32' and the CPU leave everything as it is.

    Parameters
    ----------
    backend
        The backend whose products it sets.
    precision
        ``"fp32"``, ``"tf32"`` or ``"bf16"``.
    """

    def __init__(self, backend: Backend, precision: str):
        self.active = backend.name == "gpu" and precision != "fp32"
        self.backend, self.precision = backend, precision

    def __enter__(self):
        if self.active:
            kernels = self.backend.kernels
            if kernels is not None:  # densekit's own cuBLAS calls
                self.previous_kernels, kernels.precision = kernels.precision, self.precision
            linalg = self.backend.xp._core._routines_linalg  # cupy.matmul elsewhere
            self.previous = linalg.get_compute_type(np.dtype(np.float32))
            wanted = {"tf32": "COMPUTE_TYPE_TF32", "bf16": "COMPUTE_TYPE_BF16"}[self.precision]
            linalg.set_compute_type(np.dtype(np.float32), getattr(linalg, wanted))
        return self

    def __exit__(self, *exc):
        if self.active:
            if self.backend.kernels is not None:
                self.backend.kernels.precision = self.previous_kernels
            linalg = self.backend.xp._core._routines_linalg
            linalg.set_compute_type(np.dtype(np.float32), self.previous)
        return False


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from a seed (or the Generator itself); never the global state.

    Parameters
    ----------
    seed
        A non-negative integer, a Generator (returned as it is), or None for fresh entropy.

    Returns
    -------
    numpy.random.Generator
        The generator.

    Raises
    ------
    ArgumentError
        If ``seed`` is neither None, a Generator, nor a non-negative integer.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ArgumentError(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.default_rng(seed)
