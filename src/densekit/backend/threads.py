"""How many threads the matrix products use: BLAS thread control through threadpoolctl.

By default densekit leaves BLAS at its own default, every core, except where that is
measured to hurt: a ``fit`` whose largest per-batch matrix product is small
(:data:`SMALL_PRODUCT`) runs BLAS on one thread, because waking a second thread costs more
than it saves there, and on a shared machine a busy neighbour core slows a two-thread
product many times over. A thread count asked for explicitly always wins:

- ``densekit.set_threads(n)`` limits BLAS for the whole process (``None`` undoes it);
- the environment variable ``DENSEKIT_NUM_THREADS`` does the same when densekit first
  trains or predicts;
- ``fit(..., threads=n)`` and ``predict(..., threads=n)`` limit BLAS while that call runs.

threadpoolctl is optional: without it the default applies, and asking for a thread count
raises :class:`~densekit.errors.MissingDependencyError` naming the package to install.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, MissingDependencyError

ENV_VAR = "DENSEKIT_NUM_THREADS"
#: multiply-adds in the largest product of one training batch (batch x inputs x units) at or
#: below which ``fit`` uses one BLAS thread unless told otherwise; measured on a 2-core
#: machine: 20-64-64-2 at batch 256 (1M) trains faster on 1 thread, 784-256-128-10 at
#: batch 128 (26M) on 2
SMALL_PRODUCT = 1 << 22

_controller: Any = None  # threadpoolctl's view of the loaded BLAS libraries, made once
_blas_libraries: list | None = None  # its BLAS controllers, for the fast one-thread switch
_process_limit: Any = None  # the limit set by set_threads, undone by set_threads(None)
_process_threads: int | None = None
_environment_read = False


def check_threads(threads: Any, name: str = "threads") -> int | None:
    """None, or a positive integer thread count.

    Parameters
    ----------
    threads
        The value passed.
    name
        The argument's name, as the error says it.

    Returns
    -------
    int or None
        The count as a Python int, or None.

    Raises
    ------
    ArgumentTypeError
        If ``threads`` is neither None nor an integer (``"2"``, ``1.5``, ``True``).
    ArgumentError
        If ``threads`` is below 1.
    """
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise ArgumentTypeError(f"{name} must be a positive integer or None, got {threads!r}")
    if threads < 1:
        raise ArgumentError(f"{name} must be a positive integer or None, got {threads!r}")
    return int(threads)


def set_threads(threads: int | None) -> None:
    """Limit BLAS to ``threads`` threads for the whole process; None restores the default.

    Parameters
    ----------
    threads
        The thread count, >= 1, or None.

    Examples
    --------
    >>> import densekit as dk
    >>> dk.set_threads(1)
    >>> dk.get_threads()
    1
    >>> dk.set_threads(None)
    """
    global _process_limit, _process_threads
    threads = check_threads(threads)
    if _process_limit is not None:
        _process_limit.restore_original_limits()
        _process_limit, _process_threads = None, None
    if threads is not None:
        _process_limit = _blas(f"set_threads({threads})").limit(limits=threads, user_api="blas")
        _process_threads = threads


def get_threads() -> int | None:
    """The process-wide limit from :func:`set_threads` or ``DENSEKIT_NUM_THREADS`` (or None)."""
    apply_environment()
    return _process_threads


def apply_environment() -> None:
    """Apply ``DENSEKIT_NUM_THREADS`` once, the first time densekit trains or predicts.

    An explicit :func:`set_threads` call made before wins over the variable.

    Raises
    ------
    ArgumentError
        If the variable is set but is not a positive integer.
    """
    global _environment_read
    if _environment_read:
        return
    _environment_read = True
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return
    try:
        threads = int(value)
    except ValueError:
        threads = None
    if threads is None or threads < 1:
        raise ArgumentError(f"{ENV_VAR} must be a positive integer, got {value!r}")
    if _process_threads is None:  # an explicit set_threads call wins
        set_threads(threads)


def limit(threads: int | None) -> Callable[[], None]:
    """Limit BLAS to ``threads`` until the returned function is called.

    Parameters
    ----------
    threads
        The thread count, or None for no change.

    Returns
    -------
    callable
        Restores the previous counts.
    """
    if threads is None:
        return _nothing
    return (
        _blas(f"threads={threads}").limit(limits=threads, user_api="blas").restore_original_limits
    )


def limit_for_training(threads: int | None, largest_product: int) -> Callable[[], None]:
    """:func:`limit` for ``fit``: the asked count, else one thread for small products.

    Parameters
    ----------
    threads
        The count ``fit`` was given, or None.
    largest_product
        Multiply-adds in the largest matrix product of one batch; at or below
        :data:`SMALL_PRODUCT` (with no process-wide limit) BLAS runs on one thread.

    Returns
    -------
    callable
        Restores the previous counts.
    """
    apply_environment()
    if threads is not None:
        return limit(threads)
    if _process_threads is not None or largest_product > SMALL_PRODUCT:
        return _nothing
    return _one_thread()


def _one_thread() -> Callable[[], None]:
    """BLAS on one thread until the returned function restores the counts.

    A few µs, against 10 µs for threadpoolctl's ``limit``, which inspects every loaded
    library each time.
    """
    global _blas_libraries
    if _blas_libraries is None:
        controller = _blas(None)
        if controller is None:  # no threadpoolctl: BLAS keeps its default
            return _nothing
        _blas_libraries = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
    before = [lib.get_num_threads() for lib in _blas_libraries]
    for lib in _blas_libraries:
        lib.set_num_threads(1)

    def restore() -> None:
        for lib, count in zip(_blas_libraries, before):
            lib.set_num_threads(count)

    return restore


def _nothing() -> None:
    return None


def _blas(asked: str | None):
    """The cached ThreadpoolController; None (or, if ``asked``, an error) without threadpoolctl."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError as exc:
            if asked is None:
                return None
            raise MissingDependencyError(
                f"{asked} needs threadpoolctl to limit the BLAS threads: "
                "pip install threadpoolctl (or leave the thread count to BLAS)"
            ) from exc
        _controller = ThreadpoolController()
    return _controller
