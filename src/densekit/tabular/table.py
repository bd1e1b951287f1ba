"""The Table, raw cells by column, and what is asked of it: a column by name, ID-like columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..preprocessing import TextColumn, as_column, named_column
from ..preprocessing.cells import integer_levels, level_numbers, missing_levels


@dataclass
class Table:
    """Columns by name: any form :func:`densekit.preprocessing.as_column` reads.

    :func:`read_table` gives float64 arrays (NaN where null) for numeric columns
    and :class:`~densekit.preprocessing.TextColumn` codes for text; lists of raw
    cells work too.

    Parameters
    ----------
    columns
        The column names, in file order.
    data
        Each column's cells, by name.
    n_rows
        The number of data rows (the header not counted).
    notes
        One-line warnings the reader raised (decimal commas, dates), for the user.
    """

    columns: list[str]
    data: dict[str, object]
    n_rows: int
    notes: list[str] = field(default_factory=list)


def column(table: Table, name: str, role: str) -> list:
    """A column's cells, by name.

    Parameters
    ----------
    table
        The table to look in.
    name
        The column's name.
    role
        What the column is for ("target", "--drop"), to name in the error.

    Returns
    -------
    list
        The column's raw cells.

    Raises
    ------
    InputError
        If the table has no such column; the message suggests a close name.
    """
    return named_column(table.columns, table.data.__getitem__, name, role)


def identifier_columns(table: Table, names: list[str], min_rows: int = 20) -> list[str]:
    """The columns among ``names`` whose cells all differ and are text or integers: row IDs.

    One-hot encoding such a text column adds one feature per row, and an integer
    ID is a number with no pattern to learn; ``densekit train`` warns about them.

    Parameters
    ----------
    table
        The table to look in.
    names
        The columns to consider (the features).
    min_rows
        Fewer non-missing cells than this never make an ID column.

    Returns
    -------
    list of str
        The ID-like columns, in the order of ``names``.
    """
    found = []
    for name in names:
        column, integer = as_column(table.data[name])
        if isinstance(column, TextColumn):
            present = column.codes[column.codes >= 0]
            blank = missing_levels(column.levels, frozenset())
            present = present[~blank[present]]
            if len(present) < min_rows or len(np.unique(present)) != len(present):
                continue
            levels = column.levels[present]
            if integer_levels(levels) or np.isnan(level_numbers(levels)).any():
                found.append(name)
        elif integer:
            values = column[~np.isnan(column)]
            if len(values) >= min_rows and len(np.unique(values)) == len(values):
                found.append(name)
    return found
