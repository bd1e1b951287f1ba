"""Columns as they come in, made one of two forms: numbers, or text as codes into its levels.

A column may be a list, a NumPy array (numbers, or ``str``/object text), a pandas
Series (categorical or not) or a pyarrow array (dictionary-encoded or not). It
becomes either a float64 array (NaN where null) or a :class:`TextColumn`, whose
distinct values are handled once each, so encoding a million rows never loops over
cells in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError


@dataclass(frozen=True, eq=False)
class TextColumn:
    """A text column as integer codes into its distinct values (levels); code -1 is null.

    Parameters
    ----------
    codes
        Integer array (n,): each row's position in ``levels``, or -1 for a null cell.
    levels
        Object array (k,) of distinct, stripped ``str`` values.
    """

    codes: np.ndarray
    levels: np.ndarray

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.codes)

    def tolist(self) -> list:
        """The cells as a list of ``str`` (None where null).

        Returns
        -------
        list
            One value per row.
        """
        return np.append(self.levels, None)[self.codes].tolist()

    def take(self, rows: np.ndarray) -> TextColumn:
        """The column restricted to some rows, in their order.

        Parameters
        ----------
        rows
            Row indices or a boolean mask.

        Returns
        -------
        TextColumn
            The same levels, the chosen rows' codes.
        """
        return TextColumn(self.codes[rows], self.levels)

    @classmethod
    def from_values(cls, values: np.ndarray, null: np.ndarray | None = None) -> TextColumn:
        """Factorize text values (sorted levels, stripped, duplicates after stripping merged).

        Parameters
        ----------
        values
            Array of text (``str`` dtype or object holding ``str``).
        null
            Optional boolean mask of null cells (their values are ignored).

        Returns
        -------
        TextColumn
            The codes and levels.
        """
        fast = _arrow_codes(values, null)
        if fast is not None:
            return fast
        text = np.asarray(values).astype(str)
        codes = np.full(len(text), -1, dtype=np.int64)
        present = slice(None) if null is None else ~null
        levels, inverse = np.unique(text[present], return_inverse=True)
        codes[present] = inverse.reshape(-1)
        return stripped(cls(codes, levels.astype(object)))


def _arrow_codes(values: np.ndarray, null: np.ndarray | None) -> TextColumn | None:
    """Factorize with pyarrow's hash table when it is installed and the cells are all text.

    pyarrow (the CLI's reading extra) hashes a million strings about ten times faster
    than NumPy sorts them; without it, or for mixed objects, NumPy does the job.
    """
    try:
        import pyarrow as pa
    except ImportError:
        return None
    try:
        if null is None:  # None and NaN are null
            array = pa.array(values, type=pa.string(), from_pandas=True)
        else:
            array = pa.array(values, type=pa.string(), mask=null)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    return _from_arrow(array.dictionary_encode())[0]


def stripped(column: TextColumn) -> TextColumn:
    """The column with surrounding spaces removed from its levels, equal levels merged.

    Parameters
    ----------
    column
        A text column.

    Returns
    -------
    TextColumn
        Stripped, distinct levels; ``column`` itself when nothing changes.
    """
    levels = np.array([str(level).strip() for level in column.levels], dtype=object)
    unique, inverse = np.unique(levels.astype(str), return_inverse=True)
    if len(unique) == len(levels) and all(a == b for a, b in zip(levels, column.levels)):
        return TextColumn(column.codes, levels)
    remap = np.append(inverse.reshape(-1), -1)
    return TextColumn(remap[column.codes], unique.astype(object))


def as_column(values: Any) -> tuple[np.ndarray | TextColumn, bool]:
    """One column in one of the two forms, and whether it was typed as integers.

    Parameters
    ----------
    values
        A list, NumPy array, pandas Series, pyarrow (Chunked)Array or TextColumn.

    Returns
    -------
    tuple
        (float64 array with NaN for nulls, or TextColumn; True when the source type
        was integer or boolean).

    Raises
    ------
    ArgumentTypeError
        If the column is not one-dimensional.
    """
    if isinstance(values, TextColumn):
        return values, False
    module = type(values).__module__
    if module.startswith("pyarrow"):
        return _from_arrow(values)
    if module.startswith("pandas"):
        return _from_pandas(values)
    array = np.asarray(values, dtype=object if isinstance(values, (list, tuple)) else None)
    if array.ndim != 1:
        raise ArgumentTypeError(f"a column must be 1-D, got shape {array.shape}")
    if array.dtype.kind in "biuf":
        return array.astype(np.float64), array.dtype.kind in "biu"
    if array.dtype.kind in "US" or array.dtype.kind == "T":
        return TextColumn.from_values(array), False
    return _from_objects(array.astype(object))


def _from_objects(array: np.ndarray) -> tuple[np.ndarray | TextColumn, bool]:
    """Python objects: all numbers (or null) -> numbers; else text with nulls."""
    kinds = {type(value) for value in array[:1000]} - {type(None)}
    if kinds <= {str}:
        fast = _arrow_codes(array, None)
        if fast is not None:
            return fast, False
    null = (array == None) | (array != array)  # noqa: E711  (elementwise, in C)
    present = array[~null]
    kinds = {type(value) for value in present[:1000]}
    if kinds and kinds <= {int, float, bool, np.float64, np.int64}:
        try:
            numbers = np.full(len(array), np.nan)
            numbers[~null] = present.astype(np.float64)
            integer = kinds <= {int, bool, np.int64}
            return numbers, integer and bool(np.all(numbers[~null] == np.round(numbers[~null])))
        except (TypeError, ValueError):
            pass
    return TextColumn.from_values(array, null), False


def _from_pandas(series: Any) -> tuple[np.ndarray | TextColumn, bool]:
    dtype = series.dtype
    if str(dtype) == "category":
        codes = np.asarray(series.cat.codes, dtype=np.int64)
        levels = np.array([str(c) for c in series.cat.categories], dtype=object)
        return stripped(TextColumn(codes, levels)), False
    kind = getattr(dtype, "kind", "O")
    if kind in "biuf":
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers, kind in "biu"
    return as_column(series.to_numpy(dtype=object))


def _from_arrow(array: Any) -> tuple[np.ndarray | TextColumn, bool]:
    import pyarrow as pa  # the caller gave a pyarrow array, so pyarrow is installed

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    kind = array.type
    if pa.types.is_dictionary(kind):
        codes = array.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        levels = np.array(array.dictionary.to_pylist(), dtype=object)
        return stripped(TextColumn(codes, levels.astype(str).astype(object))), False
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_floating(kind):
        numbers = array.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        return numbers, not pa.types.is_floating(kind)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _from_arrow(array.dictionary_encode())
    return _from_arrow(array.cast(pa.string()))


def columns_of(data: Any) -> tuple[list[str], Any]:
    """The column names of a table-like object and a function that gets a column by name.

    Parameters
    ----------
    data
        A mapping of name -> column, a pandas DataFrame, a densekit Table (``columns``
        and ``data``), or a 2-D NumPy array (columns named ``x0``, ``x1``, ...).

    Returns
    -------
    tuple
        (names, get): ``get(name)`` returns the column's values.

    Raises
    ------
    ArgumentTypeError
        If ``data`` is none of these.
    """
    if isinstance(data, dict):
        return [str(name) for name in data], data.__getitem__
    if hasattr(data, "columns") and isinstance(getattr(data, "data", None), dict):
        return list(data.columns), data.data.__getitem__  # densekit.tabular.Table
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        names = [str(name) for name in data.columns]
        by_name = dict(zip(names, data.columns, strict=True))
        return names, lambda name: data[by_name[name]]
    if isinstance(data, np.ndarray) and data.ndim == 2:
        names = [f"x{i}" for i in range(data.shape[1])]
        return names, lambda name: data[:, int(name[1:])]
    raise ArgumentTypeError(
        "expected a table: a dict of columns, a pandas DataFrame, a densekit Table or a "
        f"2-D array; got {type(data).__name__}"
    )
