"""Checking array inputs: ``x``, ``y``, ``sample_weight`` and their lengths.

And :func:`column_names`, a DataFrame's column names as ``fit`` records them.

One set of checks used by every entry point, so ``fit``, ``predict`` and
``evaluate`` reject bad input the same way and with the same words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SMALL = 1 << 14


def check_x(
    x: Any, dtype: np.typing.DTypeLike, n_features: int | None = None, name: str = "x"
) -> np.ndarray:
    """A 2-D ``(samples, features)`` finite array of ``dtype``, or a clear error.

    Parameters
    ----------
    x
        What the user passed: an array, a list of rows or a DataFrame.
    dtype
        The dtype of the array returned (the model's, float32 or float64).
    n_features
        The feature count the model was built for; None accepts any.
    name
        The argument's name, as error messages say it.

    Returns
    -------
    numpy.ndarray
        ``x`` as a C-contiguous ``dtype`` array of shape ``(samples, features)``; a
        scipy sparse matrix or array comes back as CSR of ``dtype`` (never densified:
        the first Dense layer multiplies it as it is).

    Raises
    ------
    InputError
        If ``x`` is None, not an array, not numeric, not 2-D, empty, of the wrong
        width, or not finite.
    """
    if x is None:
        raise InputError(f"{name} is None; expected a 2-D array (samples, features)")
    if is_sparse(x):
        return _check_sparse_x(x, dtype, n_features, name)
    try:
        array = _as_array(x)
    except Exception as exc:
        raise InputError(f"{name} could not be read as an array: {exc}") from exc
    check_x_layout(array, n_features, name, source=x)
    return check_x_rows(array, dtype, name=name)


def check_x_layout(
    array: np.ndarray, n_features: int | None = None, name: str = "x", source: Any = None
) -> None:
    """:func:`check_x`'s dtype and shape checks alone.

    They read the dtype and shape only, never an element, so a memory map stays unread:
    distributed training checks a memory-mapped ``x`` this way, then its rows as it reads them.

    Parameters
    ----------
    array
        The array to check.
    n_features
        The feature count the model was built for; None accepts any.
    name
        The argument's name, as error messages say it.
    source
        What the user passed, whose text columns a dtype error names.

    Raises
    ------
    InputError
        If ``array`` is not real and numeric, not 2-D, empty, or of the wrong width.
    """
    if array.dtype in _FLOATS:  # the common case, checked first: predict latency counts
        pass
    elif array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise InputError(
            f"{name} must be numeric, got dtype {array.dtype}{_text_columns(source)}; "
            "encode text columns first"
        )
    elif np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{name} must be real numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        hint = (
            "reshape it with x.reshape(-1, 1) for one feature or x.reshape(1, -1) for one sample"
            if array.ndim == 1
            else "flatten each sample to one row: x.reshape(len(x), -1)"
        )
        raise InputError(f"{name} must be 2-D (samples, features), got shape {array.shape}: {hint}")
    if array.shape[0] == 0:
        raise InputError(f"{name} is empty: it has 0 samples; expected at least one row")
    if array.shape[1] == 0:
        raise InputError(f"{name} has 0 features; expected at least one column")
    if n_features is not None and array.shape[1] != n_features:
        raise InputError(
            f"{name} has {array.shape[1]} features, but the model was built for {n_features}"
        )


def check_x_rows(
    block: np.ndarray, dtype: np.typing.DTypeLike, rows: np.ndarray | None = None, name: str = "x"
) -> np.ndarray:
    """:func:`check_x`'s finiteness check and conversion, for one block of rows.

    Parameters
    ----------
    block
        The rows to check.
    dtype
        The dtype of the array returned.
    rows
        Which rows of a larger array ``block`` holds (``block[i]`` is row ``rows[i]``), so
        that an error names the row of that array, not of the block; None for all of it.
    name
        The argument's name, as error messages say it.

    Returns
    -------
    numpy.ndarray
        ``block`` as a finite C-contiguous ``dtype`` array.

    Raises
    ------
    InputError
        If ``block`` holds NaN or infinity, or values too large for ``dtype``.
    """
    _check_finite(block, name, "contains NaN or infinite values", rows)
    converted = block
    if block.dtype != dtype or not block.flags.c_contiguous:
        with np.errstate(over="ignore"):
            converted = np.ascontiguousarray(block, dtype=dtype)
        _check_finite(converted, name, f"has values too large for {np.dtype(dtype).name}", rows)
    return converted


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy sparse matrix or array (told without importing scipy).

    Parameters
    ----------
    x
        Anything.

    Returns
    -------
    bool
    """
    return hasattr(x, "tocsr") and hasattr(x, "toarray") and hasattr(x, "nnz")


def _check_sparse_x(x: Any, dtype: np.typing.DTypeLike, n_features: int | None, name: str):
    """A sparse ``x`` as CSR of ``dtype`` (rows sliced cheaply), its shape and values checked."""
    if x.ndim != 2:
        raise InputError(f"{name} must be 2-D (samples, features), got shape {x.shape}")
    check_x_layout(_ShapeOnly(x.shape, x.dtype), n_features, name)
    csr = x.tocsr()
    _check_sparse_finite(csr, name, "contains NaN or infinite values")
    if csr.dtype != dtype:
        with np.errstate(over="ignore"):
            csr = csr.astype(dtype)
        _check_sparse_finite(csr, name, f"has values too large for {np.dtype(dtype).name}")
    return csr


def _check_sparse_finite(csr: Any, name: str, problem: str) -> None:
    if csr.dtype.kind == "f" and not _all_finite(csr.data):
        raise InputError(f"{name} (sparse) {problem}; expected finite numbers")


class _ShapeOnly:
    """What :func:`check_x_layout` reads of an array (its dtype and shape), for a sparse one."""

    def __init__(self, shape: tuple, dtype: np.dtype):
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)


def _check_finite(array: np.ndarray, name: str, problem: str, rows=None) -> None:
    if array.dtype.kind == "f" and not _all_finite(array):
        row, column = np.argwhere(~np.isfinite(array))[0]
        row = row if rows is None else rows[row]
        raise InputError(
            f"{name} {problem} (first at row {row}, column {column}); expected finite numbers"
        )


def _as_array(x: Any) -> np.ndarray:
    """``np.asarray``, reading pandas' nullable columns (Int64, Float64, boolean) as float."""
    dtypes = getattr(x, "dtypes", None)
    if dtypes is not None and hasattr(x, "to_numpy"):
        kinds = list(dtypes) if hasattr(dtypes, "__iter__") else [dtypes]
        nullable = any(not isinstance(kind, np.dtype) for kind in kinds)
        if nullable and all(getattr(kind, "kind", "O") in "biuf" for kind in kinds):
            return x.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(x)


def column_names(x: Any) -> list[str] | None:
    """A DataFrame's column names as strings (what fit records and predict checks), or None.

    Parameters
    ----------
    x
        A DataFrame, or anything else (which has no names).

    Returns
    -------
    list of str or None
        The column names, or None when ``x`` has no ``columns``.
    """
    columns = getattr(x, "columns", None)
    return None if columns is None else [str(column) for column in columns]


def _text_columns(x: Any) -> str:
    """' (non-numeric columns: [...])' for a DataFrame, else ''."""
    dtypes = getattr(x, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return ""
    names = [str(n) for n, kind in dtypes.items() if getattr(kind, "kind", "O") not in "biuf"]
    return f" (non-numeric columns: {names[:10]})" if names else ""


def _all_finite(array: np.ndarray) -> bool:
    """True when no entry is NaN or infinite.

    A sum is finite only if every term is (NaN and inf propagate), so one pass with no
    temporary array settles the common case; only a sum that overflows needs the
    element-by-element check.
    """
    if array.size <= _SMALL:  # a few rows: the plain check costs less than the error state
        return bool(np.isfinite(array).all())
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum()
    return bool(np.isfinite(total)) or bool(np.isfinite(array).all())


def check_y(y: Any) -> np.ndarray:
    """Targets as a finite numeric array (booleans become 0/1), or a clear error.

    Parameters
    ----------
    y
        The targets the user passed.

    Returns
    -------
    numpy.ndarray
        ``y`` as a numeric array of at least one dimension.

    Raises
    ------
    InputError
        If ``y`` is not an array of finite numbers.
    """
    try:
        y = np.asarray(y)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"y could not be read as an array: {exc}") from exc
    if y.dtype == bool:
        y = y.astype(np.float64)
    if not np.issubdtype(y.dtype, np.number):
        raise InputError(
            f"y must be numeric, got dtype {y.dtype}; encode class names as integers 0..k-1"
        )
    if y.ndim == 0:
        raise InputError("y must be an array of targets, got a scalar")
    if not np.all(np.isfinite(y)):
        raise InputError("y contains NaN or infinite values")
    return y


def check_sample_weight(
    sample_weight: Any, n: int, dtype: np.typing.DTypeLike
) -> np.ndarray | None:
    """None, or a finite non-negative ``(n,)`` array.

    Parameters
    ----------
    sample_weight
        One weight per sample, or None for equal weights.
    n
        The number of samples.
    dtype
        The dtype of the array returned.

    Returns
    -------
    numpy.ndarray or None
        The weights as ``dtype``, or None when none were given.

    Raises
    ------
    InputError
        If the weights are not numbers, not of shape ``(n,)``, negative or not finite.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"sample_weight must be numbers, one per sample: {exc}") from exc
    if w.ndim != 1 or w.shape[0] != n:
        raise InputError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError("sample_weight must be finite and >= 0")
    return w.astype(dtype)


def check_same_length(x: np.ndarray, y: np.ndarray, name: str = "y") -> None:
    """Check that ``x`` and ``y`` have one row per sample each.

    Parameters
    ----------
    x
        The inputs.
    y
        The array that must match ``x``'s length.
    name
        ``y``'s name, as the error says it.

    Raises
    ------
    InputError
        If the lengths differ.
    """
    rows = x.shape[0] if is_sparse(x) else len(x)
    if rows != len(y):
        raise InputError(f"x has {rows} samples but {name} has {len(y)}; they must match")
