"""Cells: what a raw cell means, missing, a number or text, decided once per distinct value.

Conventions:

- Rows are numbered from 1, starting at the first row below the header.
- A cell is null when it is ``None`` or a float NaN; blank text is missing everywhere.
- The missing markers ``NA``, ``NaN``, ``null``, ``None``, ``?`` (any case) are missing
  in numeric columns and in targets; in a text feature column they are ordinary
  categories ("None" is often a real level) unless the user names them missing.
- A feature cell is a number when it parses as one; ``true``/``false`` in any case
  count as 1/0, as Parquet booleans do.

Text columns arrive as codes into their distinct values (see
:class:`~densekit.preprocessing.TextColumn`), so every function here works on the
distinct values (levels), never cell by cell.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "?"})
_BOOLEAN_TOKENS = {"true": 1.0, "false": 0.0}
_INTEGER = re.compile(r"[+-]?\d+")


def is_missing(value: Any) -> bool:
    """Whether a single cell is missing by the strict rule (markers count everywhere).

    Parameters
    ----------
    value
        A raw cell: text from CSV, a Python value from Parquet.

    Returns
    -------
    bool
        True for ``None``, float NaN, and blank or missing-marker text (see MISSING_TOKENS).
    """
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().casefold() in MISSING_TOKENS
    return False


def missing_levels(levels: np.ndarray, tokens: frozenset[str]) -> np.ndarray:
    """Which levels are missing: blank, or (casefolded) one of ``tokens``.

    Parameters
    ----------
    levels
        Distinct stripped text values, object array of str.
    tokens
        Casefolded markers that count as missing here (empty: only blank text).

    Returns
    -------
    numpy.ndarray
        bool (k,).
    """
    return np.array(
        [level == "" or level.casefold() in tokens for level in levels], dtype=bool
    ).reshape(len(levels))


def level_numbers(levels: np.ndarray, booleans: bool = True) -> np.ndarray:
    """Each level as a float, NaN where it is not a number.

    Parameters
    ----------
    levels
        Distinct stripped text values, object array of str.
    booleans
        Whether ``true``/``false`` (any case) read as 1/0 (features: yes; targets: no).

    Returns
    -------
    numpy.ndarray
        float64 (k,).
    """
    if len(levels) == 0:
        return np.empty(0)
    try:  # the whole dictionary in one C loop when every level is a number
        return np.asarray(levels, dtype=str).astype(np.float64)
    except ValueError:
        pass
    numbers = np.full(len(levels), np.nan)
    for i, level in enumerate(levels):
        flag = _BOOLEAN_TOKENS.get(level.casefold()) if booleans else None
        if flag is not None:
            numbers[i] = flag
            continue
        try:
            numbers[i] = float(level)
        except ValueError:
            pass
    return numbers


def integer_levels(levels: np.ndarray) -> bool:
    """Whether every level is written as an integer ("3", not "3.0").

    Parameters
    ----------
    levels
        Distinct stripped text values.

    Returns
    -------
    bool
        True when all of them are integers in writing.
    """
    return all(_INTEGER.fullmatch(level) for level in levels)


def number_text(numbers: np.ndarray) -> np.ndarray:
    """Numbers as the text a CSV cell holds: ``3`` for integral values, ``2.5`` otherwise.

    Parameters
    ----------
    numbers
        float64 (k,), finite.

    Returns
    -------
    numpy.ndarray
        object (k,) of str.
    """
    return np.array(
        [str(int(x)) if float(x).is_integer() else repr(float(x)) for x in numbers], dtype=object
    )


def rows_text(rows: list[int] | np.ndarray, limit: int = 10) -> str:
    """Row numbers for a message: 'row 3', 'rows 3, 7' or 'rows 3, 7, ... (25 rows)'.

    Parameters
    ----------
    rows
        0-based row indices; they are shown 1-based.
    limit
        How many rows to list before eliding the rest.

    Returns
    -------
    str
        The phrase to put in a message.
    """
    count = len(rows)
    shown = ", ".join(str(int(row) + 1) for row in rows[:limit])
    if count == 1:
        return f"row {shown}"
    return f"rows {shown}" if count <= limit else f"rows {shown}, ... ({count} rows)"


def most_frequent(values: np.ndarray, counts: np.ndarray | None = None) -> Any:
    """The most common value; ties go to the smallest, so the choice is reproducible.

    Parameters
    ----------
    values
        Distinct values, sorted (or any values when ``counts`` is None).
    counts
        How often each of ``values`` occurs; None: count ``values`` themselves.

    Returns
    -------
    object
        The value that occurs most often.
    """
    if counts is None:
        values, counts = np.unique(np.asarray(values), return_counts=True)
    return values[int(np.argmax(counts))]  # argmax takes the first, the smallest, of ties
