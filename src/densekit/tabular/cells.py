"""Cells: what a raw table cell means, missing, a number or text.

Conventions:

- Rows are numbered from 1, starting at the first row below the header.
- A cell is missing when it is ``None``, a float NaN, or text that is blank or one
  of ``NA``, ``NaN``, ``null``, ``None``, ``?`` (compared case-insensitively).
- A feature cell is a number when it parses as one; ``true``/``false`` in any
  case count as 1/0, as Parquet booleans do.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "?"})
_BOOLEAN_TOKENS = {"true": 1.0, "false": 0.0}


def is_missing(value: Any) -> bool:
    """Whether a cell is missing.

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


def to_number(value: Any) -> float | None:
    """The cell as a float (bool counts as 0/1).

    Parameters
    ----------
    value
        A raw cell.

    Returns
    -------
    float or None
        The number, or None if the cell is not a number.
    """
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    try:
        return float(value)  # Decimal and numpy scalars
    except (TypeError, ValueError):
        return None


def to_feature_number(value: Any) -> float | None:
    """Like :func:`to_number`, and text ``true``/``false`` (any case) is 1/0, as in Parquet.

    Parameters
    ----------
    value
        A raw feature cell.

    Returns
    -------
    float or None
        The number, or None if the cell is not a number.
    """
    if isinstance(value, str):
        flag = _BOOLEAN_TOKENS.get(value.strip().casefold())
        if flag is not None:
            return flag
    return to_number(value)


def to_text(value: Any) -> str:
    """The cell as text: strings stripped, other values through ``str``.

    Parameters
    ----------
    value
        A raw cell.

    Returns
    -------
    str
        The text a category or a label is compared by.
    """
    return value.strip() if isinstance(value, str) else str(value)


def rows_text(rows: list[int], limit: int = 10) -> str:
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
    shown = ", ".join(str(row + 1) for row in rows[:limit])
    if len(rows) == 1:
        return f"row {shown}"
    return f"rows {shown}" if len(rows) <= limit else f"rows {shown}, ... ({len(rows)} rows)"


def missing_rows(values: list) -> list[int]:
    """The rows of a column whose cells are missing.

    Parameters
    ----------
    values
        A column's raw cells.

    Returns
    -------
    list of int
        0-based indices of the missing cells (see :func:`is_missing`).
    """
    return [i for i, value in enumerate(values) if is_missing(value)]


def most_frequent(values: list) -> Any:
    """The most common value; ties go to the smallest, so the choice is reproducible.

    Parameters
    ----------
    values
        Non-empty list of comparable values.

    Returns
    -------
    object
        The value that occurs most often.
    """
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))


def is_integer_cell(value: Any) -> bool:
    """An int, or text written as one ("3", not "3.0": a float column stays a float column).

    Parameters
    ----------
    value
        A raw cell.

    Returns
    -------
    bool
        True when the cell is written as an integer.
    """
    if isinstance(value, str):
        try:
            int(value.strip())
        except ValueError:
            return False
        return True
    return isinstance(value, int)
