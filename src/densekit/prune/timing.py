"""Timing helpers: best-of-``repeats`` wall time, dense vs CSR products."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, require


def check_repeats(repeats: Any) -> int:
    """The number of timed runs: an integer >= 1.

    Parameters
    ----------
    repeats
        What the caller passed.

    Returns
    -------
    int
        ``repeats``.

    Raises
    ------
    ArgumentTypeError
        If ``repeats`` is not an integer.
    ArgumentError
        If it is below 1.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise ArgumentTypeError(f"repeats must be an integer >= 1, got {repeats!r}")
    if repeats < 1:
        raise ArgumentError(f"repeats must be an integer >= 1, got {repeats}")
    return int(repeats)


def best_time(function: Callable[[], Any], repeats: int) -> float:
    """Best-of-``repeats`` wall time of ``function()``, after one warm-up call.

    Parameters
    ----------
    function
        Called with no arguments.
    repeats
        Timed calls, at least 1.

    Returns
    -------
    float
        The shortest call, in seconds.
    """
    repeats = check_repeats(repeats)
    function()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def time_products(kernel: np.ndarray, x: np.ndarray, repeats: int = 5) -> tuple[float, float]:
    """Best-of-``repeats`` seconds for ``x @ kernel`` dense and with CSR (``(K^T x^T)^T``).

    Parameters
    ----------
    kernel
        A Dense kernel ``(inputs, units)``.
    x
        A batch ``(rows, inputs)``.
    repeats
        Timed runs of each product.

    Returns
    -------
    tuple of float
        ``(dense_seconds, sparse_seconds)``.

    Raises
    ------
    MissingDependencyError
        If scipy (the ``sklearn`` extra) is not installed.
    """
    sparse = require("scipy.sparse", "sklearn", "sparse inference")
    csr_t = sparse.csr_matrix(np.ascontiguousarray(kernel.T))
    dense_time = best_time(lambda: x @ kernel, repeats)
    sparse_time = best_time(lambda: np.ascontiguousarray((csr_t @ x.T).T), repeats)
    return dense_time, sparse_time
