"""Reading tables: CSV/TSV/TXT (the delimiter sniffed where the suffix does not say) and Parquet."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import InputError, require
from .table import Table

_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
_PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | os.PathLike) -> Table:
    """Read a CSV/TSV/TXT or Parquet file into a :class:`Table` of raw cells.

    The file type comes from the suffix: ``.csv`` (comma, or semicolon, tab or pipe
    when the header line has no comma), ``.tsv``/``.tab`` (tab), ``.txt``
    (delimiter sniffed), ``.parquet``/``.pq`` (needs pyarrow).

    Parameters
    ----------
    path
        The file to read; its first non-blank row (CSV) names the columns.

    Returns
    -------
    Table
        The raw cells by column, with at least one data row.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, unreadable, malformed, or has no data rows.
    MissingDependencyError
        If the file is Parquet and pyarrow is not installed.
    """
    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix not in _CSV_DELIMITERS and suffix not in _PARQUET_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
            "expected .csv, .tsv, .tab, .txt, .parquet or .pq"
        )
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path} is a directory; expected a data file")
    if suffix in _PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        table = _read_csv(path, _CSV_DELIMITERS[suffix])
    if table.n_rows == 0:
        raise InputError(f"{path} has a header but no data rows")
    return table


def _read_csv(path: Path, delimiter: str | None) -> Table:
    """Parse a delimited text file; the first non-blank row is the header."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            if delimiter is None:
                delimiter = _sniff_delimiter(file.read(65536))
                file.seek(0)
            elif delimiter == ",":
                delimiter = _comma_or_other(file.read(65536))
                file.seek(0)
            reader = csv.reader(file, delimiter=delimiter)
            try:
                return _table_from_rows(path, reader)
            except csv.Error as exc:
                raise InputError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc


def _sniff_delimiter(sample: str) -> str:
    """Guess the delimiter of a ``.txt`` file among comma, tab, semicolon and pipe."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _comma_or_other(sample: str) -> str:
    """',' unless the header line has no comma but a ';', tab or '|' (a European-style .csv)."""
    header = next((line for line in sample.splitlines() if line.strip()), "")
    if "," in header:
        return ","
    return next((other for other in (";", "\t", "|") if other in header), ",")


def _is_blank_row(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)


def _table_from_rows(path: Path, reader: Any) -> Table:
    """Collect rows under the header, checking every row has one cell per column."""
    header = next((row for row in reader if not _is_blank_row(row)), None)
    if header is None:
        raise InputError(f"{path} is empty; expected a header row naming the columns, then data")
    columns = [name.strip() for name in header]
    while len(columns) > 1 and not columns[-1]:
        columns.pop()  # a trailing delimiter on every line (spreadsheet exports): no column
    _check_header(path, columns)
    cells: list[list[str]] = [[] for _ in columns]
    n_rows = 0
    for row in reader:
        if not row or (len(columns) > 1 and _is_blank_row(row)):
            continue  # blank lines separate nothing in a table
        n_rows += 1
        if len(row) > len(columns) and _is_blank_row(row[len(columns) :]):
            row = row[: len(columns)]
        if len(row) != len(columns):
            raise InputError(
                f"{path}: row {n_rows} (line {reader.line_num}) has {len(row)} fields, "
                f"but the header has {len(columns)} columns"
            )
        for column_cells, cell in zip(cells, row, strict=True):
            column_cells.append(cell.strip())
    return Table(columns=columns, data=dict(zip(columns, cells, strict=True)), n_rows=n_rows)


def _check_header(path: Path, columns: list[str], text_file: bool = True) -> None:
    """Reject blank or duplicate column names, and (in text files) a first row of data."""
    for position, name in enumerate(columns, start=1):
        if not name:
            raise InputError(
                f"{path}: header column {position} is blank; every column needs a name"
            )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise InputError(
            f"{path}: duplicate column names {duplicates}; column names must be unique"
        )
    if text_file and all(_is_number(name) for name in columns):
        raise InputError(
            f"{path}: the first row {columns[:5]} looks like data, not a header; "
            "add a header row naming the columns"
        )


def _read_parquet(path: Path) -> Table:
    """Read a flat Parquet file with pyarrow (imported only when needed)."""
    pa = require("pyarrow", "parquet", "Reading Parquet files")
    import pyarrow.parquet as pq

    try:
        arrow_table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file ({exc})") from exc
    columns = [str(name) for name in arrow_table.column_names]
    if not columns:
        raise InputError(f"{path} has no columns; expected a table with a header")
    _check_header(path, columns, text_file=False)
    for field in arrow_table.schema:
        if pa.types.is_nested(field.type):
            raise InputError(
                f"{path}: column {field.name!r} has nested type {field.type}; "
                "expected flat columns of numbers or text"
            )
    data = {name: arrow_table.column(i).to_pylist() for i, name in enumerate(columns)}
    return Table(columns=columns, data=data, n_rows=arrow_table.num_rows)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
