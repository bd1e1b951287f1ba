"""The Table, raw cells by column, and what is asked of it: a column by name, ID-like columns."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import InputError
from .cells import is_integer_cell, is_missing, to_feature_number, to_text


@dataclass
class Table:
    """Raw cells by column: ``str`` from CSV, Python values (``None`` for null) from Parquet.

    Parameters
    ----------
    columns
        The column names, in file order.
    data
        Each column's cells, by name.
    n_rows
        The number of data rows (the header not counted).
    """

    columns: list[str]
    data: dict[str, list]
    n_rows: int


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
    if name not in table.data:
        same_but_case = [column for column in table.columns if column.casefold() == name.casefold()]
        hint = same_but_case or difflib.get_close_matches(name, table.columns, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(
            f"{role} column {name!r} is not in the table{maybe}; columns are {table.columns}"
        )
    return table.data[name]


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
        column = table.data[name]
        head = [value for value in column[:1000] if not is_missing(value)]
        if not _all_distinct_ids(head, min(min_rows, len(column))):
            continue  # cheap rejection on the first rows: most columns repeat early
        values = [value for value in column if not is_missing(value)]
        if _all_distinct_ids(values, min_rows):
            found.append(name)
    return found


def _all_distinct_ids(values: list, min_rows: int) -> bool:
    if len(values) < min_rows or len({to_text(value) for value in values}) != len(values):
        return False
    integers = all(is_integer_cell(value) for value in values)
    return integers or any(to_feature_number(value) is None for value in values)
